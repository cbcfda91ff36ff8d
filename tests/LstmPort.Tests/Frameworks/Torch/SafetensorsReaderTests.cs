using System.Text;
using LstmPort.Formats;
using LstmPort.Frameworks.Torch;

namespace LstmPort.Tests;

/// <summary>
/// Damaged safetensors headers (issue 16, D9): text that is not UTF-8 and shape or data_offsets
/// elements that are not numbers are the file's CorruptFile saying what was wrong, never an
/// InvalidOperationException from System.Text.Json.
/// </summary>
public sealed class SafetensorsReaderTests
{
    /// <summary>An 8-byte length, the header bytes as given, then 8 data bytes.</summary>
    static LstmPortException Fails(byte[] header)
    {
        using var dir = new TempDir();
        var path = dir.File("x.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[8]]);
        var e = Assert.Throws<LstmPortException>(() => new SafetensorsReader().Read(path, ReadOptions.Default));
        Assert.Equal(path, e.Target);
        return e;
    }

    static LstmPortException Fails(string header) => Fails(Encoding.UTF8.GetBytes(header));

    [Fact]
    public void The_hand_built_header_reads_when_nothing_is_wrong()
    {
        using var dir = new TempDir();
        var path = dir.File("x.safetensors");
        var header = """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"""u8.ToArray();
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[8]]);
        Assert.Equal([2], Assert.Single(new SafetensorsReader().Read(path, ReadOptions.Default).Tensors).Shape);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}""", "'w' has shape element 0 = \"2\", not a non-negative integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}}""", "'w' has shape element 0 = [2], not a non-negative integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""", "'w' has shape element 0 = 2.5, not a non-negative integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}}""", "'w' has data_offsets element 0 = \"0\", not an integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,null]}}""", "'w' has data_offsets element 1 = null, not an integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "the header names 'w' twice")]
    [InlineData("""{"w":{"dtype":"\ud800","shape":[2],"data_offsets":[0,8]}}""", "the dtype of 'w' is not valid Unicode text")]
    [InlineData("""{"\udc00":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "a tensor name is not valid Unicode text")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]""", "its header is not JSON")]
    public void A_malformed_header_is_CorruptFile_saying_what_is_wrong(string header, string message)
    {
        // Raw strings keep \ud800 as the six characters of a JSON escape: a lone surrogate once unescaped.
        var e = Fails(header);
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_name_or_dtype_that_is_not_UTF_8_is_CorruptFile()
    {
        // '#' stands for a byte that cannot start or continue a UTF-8 sequence there.
        foreach (var (text, b) in new[] { ("""{"w#":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", (byte)0xff), ("""{"w":{"dtype":"F#2","shape":[2],"data_offsets":[0,8]}}""", (byte)0x8c) })
        {
            var bytes = Encoding.ASCII.GetBytes(text);
            bytes[Array.IndexOf(bytes, (byte)'#')] = b;
            var e = Fails(bytes);
            Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
            Assert.Contains("the JSON header is not valid UTF-8 text", e.Message);
        }
    }

    [Fact]
    public void A_dimension_past_int_MaxValue_is_TensorTooLarge_even_when_the_product_fits()
    {
        // [2^32, 0] spans 0 bytes, so the size check passes; the dimension itself cannot be a shape.
        var e = Fails("""{"w":{"dtype":"F32","shape":[4294967296,0],"data_offsets":[0,0]}}""");
        Assert.Equal(ErrorIds.TensorTooLarge, e.ErrorId);
        Assert.Contains("'w' has an absurd shape [4294967296,0]", e.Message);
    }
}
