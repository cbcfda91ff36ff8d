using System.Text;
using LstmPort.Formats;
using LstmPort.Frameworks.Keras;

namespace LstmPort.Tests;

/// <summary>
/// The zip and JSON side of .keras archives (issue 16, D8): sizes System.IO.Compression takes from a
/// damaged directory (negative after a zip64 claim, larger than the archive), its streams' errors on
/// a record that lies outside the file, and config.json text that is not UTF-8 are the archive's
/// CorruptFile, never an OverflowException, IOException, ArgumentOutOfRangeException or an
/// InvalidOperationException from JsonElement.GetString.
/// </summary>
public sealed class KerasArchiveZipTests
{
    static readonly byte[] Config = """{"class_name": "Sequential", "config": {"name": "s", "layers": []}}"""u8.ToArray();
    static readonly byte[] Metadata = """{"keras_version": "3.4.1"}"""u8.ToArray();
    // Never parsed: every case fails before the weights file is opened as HDF5.
    static readonly byte[] Weights = "\x89HDF\r\n\x1a\n-not-read-"u8.ToArray();

    static LstmPortException Fails(ZipBytes.Record config, ZipBytes.Record? weights = null)
    {
        using var dir = new TempDir();
        var path = dir.File("x.keras");
        File.WriteAllBytes(path, ZipBytes.Build([new("metadata.json", Metadata), config, weights ?? new("model.weights.h5", Weights)]));
        var e = Assert.Throws<LstmPortException>(() => new KerasArchiveReader().Read(path, ReadOptions.Default));
        Assert.Equal(path, e.Target);
        return e;
    }

    [Fact]
    public void A_config_json_that_is_not_UTF_8_is_CorruptFile()
    {
        var bad = (byte[])Config.Clone();
        bad[Array.IndexOf(bad, (byte)'q')] = 0xa4; // inside "Sequential": a continuation byte with no lead byte
        var e = Fails(new("config.json", bad));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("config.json is not valid UTF-8 text", e.Message);
    }

    [Fact]
    public void A_config_json_string_with_a_lone_surrogate_escape_is_CorruptFile()
    {
        // Valid UTF-8 and valid JSON, but the string cannot become .NET text: GetString would throw wherever the config is used.
        var e = Fails(new("config.json", Encoding.ASCII.GetBytes("""{"class_name": "Seq\ud800", "config": {"layers": []}}""")));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("config.json holds a string that is not valid Unicode", e.Message);
    }

    [Fact]
    public void A_metadata_json_that_is_not_UTF_8_only_loses_the_version()
    {
        Assert.Equal("3.4.1", KerasModelConfig.VersionOf(Metadata));
        var bad = (byte[])Metadata.Clone();
        bad[Array.IndexOf(bad, (byte)'k')] = 0xa4;
        Assert.Null(KerasModelConfig.VersionOf(bad));
    }

    [Fact]
    public void A_zip64_size_past_2_63_is_CorruptFile_not_an_OverflowException()
    {
        // System.IO.Compression reports the claim as a negative Length.
        var e = Fails(new("config.json", Config) { Size = ulong.MaxValue });
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("the zip directory gives config.json -1 bytes", e.Message);
    }

    [Fact]
    public void A_compressed_size_past_the_archive_is_CorruptFile()
    {
        var e = Fails(new("config.json", Config) { CompressedSize = 1L << 40 });
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains($"config.json {Config.Length} bytes ({1L << 40} compressed)", e.Message);
    }

    [Fact]
    public void A_local_header_offset_past_the_end_is_CorruptFile_not_an_IOException()
    {
        var e = Fails(new("config.json", Config) { LocalHeaderOffset = ulong.MaxValue - 8 });
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("config.json cannot be read from the archive, which is damaged", e.Message);
        Assert.NotNull(e.InnerException);
    }

    [Fact]
    public void A_weights_record_claiming_more_than_its_bytes_can_hold_is_refused_before_allocating()
    {
        var e = Fails(new("config.json", Config), new("model.weights.h5", Weights) { Size = 1_500_000_000 });
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains($"model.weights.h5 claims 1500000000 bytes from {Weights.Length} compressed bytes", e.Message);
    }
}
