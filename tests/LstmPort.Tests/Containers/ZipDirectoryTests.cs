using LstmPort.Containers;

namespace LstmPort.Tests;

/// <summary>
/// ZipDirectory on hostile zip64 values (issue 16, D7): a value past 2^63 (negative as a long) and an
/// offset near long.MaxValue (which wraps offset + n) are the file's error, never an
/// ArgumentOutOfRangeException, OverflowException or IOException from a seek or an allocation.
/// </summary>
public sealed class ZipDirectoryTests
{
    static readonly byte[] Data = "0123456789abcdef"u8.ToArray();

    static LstmPortException Fails(byte[] zip, Action<ZipDirectory, FileStream>? use = null)
    {
        using var dir = new TempDir();
        var path = dir.File("x.pth");
        File.WriteAllBytes(path, zip);
        using var f = File.OpenRead(path);
        return Assert.Throws<LstmPortException>(() =>
        {
            var z = ZipDirectory.Read(path, f);
            use?.Invoke(z, f);
        });
    }

    [Fact]
    public void A_genuine_hand_built_archive_reads()
    {
        using var dir = new TempDir();
        var path = dir.File("x.pth");
        File.WriteAllBytes(path, ZipBytes.Build([new("archive/data.pkl", Data)]));
        using var f = File.OpenRead(path);
        var z = ZipDirectory.Read(path, f);
        Assert.Equal(Data, z.ReadAll(f, z.Find("archive/data.pkl")!, 100));
    }

    [Fact]
    public void A_zip64_entry_count_past_2_63_is_CorruptFile()
    {
        var e = Fails(ZipBytes.Build([new("archive/data.pkl", Data)], zip64Count: ulong.MaxValue - 8));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("zip64 entry count is 18446744073709551607", e.Message);
    }

    [Fact]
    public void A_zip64_size_past_2_63_is_CorruptFile_naming_the_record()
    {
        var e = Fails(ZipBytes.Build([new("archive/data.pkl", Data) { Size = ulong.MaxValue - 8 }]));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("zip64 size of 'archive/data.pkl' is 18446744073709551607", e.Message);
    }

    [Fact]
    public void A_local_header_offset_near_long_MaxValue_is_TruncatedFile_not_an_IOException()
    {
        // offset + 30 wraps to a negative number, which passed the old check; the seek then failed.
        var zip = ZipBytes.Build([new("archive/data.pkl", Data) { LocalHeaderOffset = long.MaxValue }]);
        var e = Fails(zip, (z, f) => z.ReadAll(f, z.Find("archive/data.pkl")!, 100));
        Assert.Equal(ErrorIds.TruncatedFile, e.ErrorId);
        Assert.Contains("lies past the end of the file", e.Message);
    }

    [Fact]
    public void A_size_larger_than_the_bytes_in_the_file_is_refused_before_anything_is_allocated()
    {
        // A stored record of 16 bytes claiming 900 MB (below the caller's bound): the buffer would be sized from the claim.
        var zip = ZipBytes.Build([new("archive/data.pkl", Data) { Size = 900_000_000 }]);
        var e = Fails(zip, (z, f) => z.ReadAll(f, z.Find("archive/data.pkl")!, 1L << 30));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("'archive/data.pkl' claims 900000000 bytes, more than its 16 bytes in the file can hold", e.Message);
    }

    [Fact]
    public void A_compressed_size_past_the_end_is_TruncatedFile()
    {
        var zip = ZipBytes.Build([new("archive/data.pkl", Data) { CompressedSize = long.MaxValue - 10 }]);
        var e = Fails(zip, (z, f) => z.DataOffset(f, z.Find("archive/data.pkl")!));
        Assert.Equal(ErrorIds.TruncatedFile, e.ErrorId);
        Assert.Contains("the data of 'archive/data.pkl' ends past the end of the file", e.Message);
    }
}
