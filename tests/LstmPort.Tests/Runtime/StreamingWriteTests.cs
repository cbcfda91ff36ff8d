using System.Text.Json;
using TorchSharp;
using LstmPort.Formats;
using LstmPort.Frameworks.Torch;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>
/// What the streaming write path rests on (issue 9): the .pth zip layout written front to back,
/// the aligned direct-to-disk file, and the memory pool that large tensors reuse.
/// </summary>
public sealed class StreamingWriteTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pth_records_are_aligned_checksummed_and_load_in_torch_with_and_without_zip64_fields(bool zip64)
    {
        using var dir = new TempDir();
        var source = dir.File("source.pth");
        var expected = Python.Run("torch_files.py", "save", source, "lstm");
        var tensors = WeightReader.Read(source).Tensors;
        var target = dir.File("out.pth");
        using (var file = new DirectFileStream(target))
        {
            new TorchFileWriter { Zip64From = zip64 ? 0 : uint.MaxValue }.Write(file, tensors);
            file.Complete();
        }

        var zip = Python.Run("torch_files.py", "zipcheck", target);
        Assert.Equal(JsonValueKind.Null, zip.GetProperty("bad").ValueKind); // zipfile found every CRC right
        var entries = zip.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(["archive/data.pkl", "archive/byteorder", .. tensors.Select((_, i) => $"archive/data/{i}"), "archive/version"],
            entries.Select(e => e.GetProperty("name").GetString()));
        const int Zip64Tag = 1;
        foreach (var e in entries)
        {
            Assert.Equal(0, e.GetProperty("method").GetInt32());
            Assert.Equal(0, e.GetProperty("data").GetInt64() % 64);
            Assert.Equal(zip64, e.GetProperty("local_tags").EnumerateArray().Any(t => t.GetInt32() == Zip64Tag));
            Assert.Equal(zip64, e.GetProperty("central_tags").EnumerateArray().Any(t => t.GetInt32() == Zip64Tag));
        }
        Assert.Equal(zip64, zip.GetProperty("zip64_end").GetBoolean());

        var loaded = Python.Run("torch_files.py", "load", target);
        foreach (var e in expected.EnumerateObject())
            Assert.Equal(e.Value.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()),
                loaded.GetProperty("tensors").GetProperty(e.Name).GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));
        TorchFileTests.AssertSame(expected, WeightReader.Read(target).Tensors);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(8 << 20)]
    [InlineData((8 << 20) * 2 + 4097)]
    public void A_direct_file_holds_exactly_the_bytes_written(int length)
    {
        using var dir = new TempDir();
        var path = dir.File("f.bin");
        var data = new byte[length];
        new Random(length).NextBytes(data);
        using (var f = new DirectFileStream(path))
        {
            // Uneven pieces across the 4 KiB blocks and the 8 MiB buffer, as the writers produce them.
            for (int at = 0, step = 1; at < length; at += step, step = step * 3 + 7)
                f.Write(data.AsSpan(at, Math.Min(step, length - at)));
            Assert.Equal(length, f.Position);
            f.Complete();
            Assert.Throws<ObjectDisposedException>(() => f.Write(new byte[1]));
        }
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_direct_file_never_replaces_an_existing_file()
    {
        using var dir = new TempDir();
        var path = dir.File("f.bin");
        File.WriteAllText(path, "keep");
        Assert.Throws<IOException>(() => new DirectFileStream(path));
        Assert.Equal("keep", File.ReadAllText(path));
    }

    [Fact]
    public void A_failed_disk_write_surfaces_in_the_writer_and_nothing_waits_forever()
    {
        using var dir = new TempDir();
        var f = new DirectFileStream(dir.File("f.bin"));
        var block = new byte[8 << 20];
        f.Write(block);
        // The file goes away under the disk thread: its next write fails.
        ((Microsoft.Win32.SafeHandles.SafeFileHandle)HandleField.GetValue(f)!).Dispose();
        var e = Assert.ThrowsAny<IOException>(() =>
        {
            for (int i = 0; i < 20; i++) f.Write(block);
            f.Complete();
        });
        Assert.IsType<ObjectDisposedException>(e.InnerException);
        f.Dispose();
    }

    static readonly System.Reflection.FieldInfo HandleField =
        typeof(DirectFileStream).GetField("_handle", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;

    [SkippableFact]
    public void On_Linux_a_direct_file_says_truly_whether_it_bypasses_the_page_cache()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "O_DIRECT is a Linux flag");
        using var dir = new TempDir();
        using var f = new DirectFileStream(dir.File("f.bin"));
        var handle = (Microsoft.Win32.SafeHandles.SafeFileHandle)HandleField.GetValue(f)!;
        var flags = File.ReadAllLines($"/proc/self/fdinfo/{handle.DangerousGetHandle()}").Single(l => l.StartsWith("flags:"));
        int octal = Convert.ToInt32(flags["flags:".Length..].Trim(), 8);
        int direct = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is System.Runtime.InteropServices.Architecture.Arm64 ? 0x10000 : 0x4000;
        Assert.Equal(f.Direct, (octal & direct) != 0);
        Skip.IfNot(f.Direct, "this file system refuses O_DIRECT; the writes go through the page cache");
    }
}

/// <summary>The pool is process-wide, so these run alone.</summary>
[CollectionDefinition(nameof(TensorPoolTests), DisableParallelization = true)]
public sealed class TensorPoolCollection;

[Collection(nameof(TensorPoolTests))]
public sealed class TensorPoolTests
{
    // An odd size, so a block freed by another test's tensor is unlikely to fit it better.
    const long Bytes = TensorPool.MinimumBytes + 3 * 4096;

    /// <summary>
    /// An empty pool: tensors that other tests left to the garbage collector return their blocks
    /// from the finaliser thread, at any moment, so they are collected first.
    /// </summary>
    internal static void EmptyPool()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        TensorPool.Trim();
    }

    static torch.Tensor Floats(long bytes, float value)
    {
        var t = TensorMemory.Empty([bytes / 4], torch.ScalarType.Float32);
        TensorMemory.Span<float>(t).Fill(value);
        return t;
    }

    [Fact]
    public void A_freed_block_is_reused_by_the_next_tensor_that_fits_and_Trim_returns_it()
    {
        EmptyPool();
        nint first;
        using (var t = Floats(Bytes, 1.5f))
        {
            first = TensorMemory.Address(t);
            Assert.All(TensorMemory.Span<float>(t).ToArray(), v => Assert.Equal(1.5f, v));
        }
        Assert.True(TensorPool.FreeBytes >= Bytes);
        using (var t = TensorMemory.Empty([Bytes / 8], torch.ScalarType.Float64))
        {
            Assert.Equal(first, TensorMemory.Address(t));
            Assert.Equal([Bytes / 8], t.shape);
            Assert.Equal(torch.ScalarType.Float64, t.dtype);
        }
        TensorPool.Trim();
        Assert.Equal(0, TensorPool.FreeBytes);
    }

    [Fact]
    public void A_tensor_in_use_keeps_its_memory_through_Trim_and_computes_normally()
    {
        using var t = Floats(Bytes, 2f);
        EmptyPool();
        using var sum = t.sum();
        Assert.Equal(2.0 * (Bytes / 4), sum.item<float>(), 1e-3 * Bytes);
        using var c = t.contiguous(); // a view sharing the block
        Assert.Equal(TensorMemory.Address(t), TensorMemory.Address(c));
    }

    [Fact]
    public void After_Expect_new_blocks_are_made_for_the_largest_tensor_until_Trim()
    {
        EmptyPool();
        TensorPool.Expect(3 * Bytes);
        using (Floats(Bytes, 1f)) { }
        Assert.Equal(3 * Bytes, TensorPool.FreeBytes);
        using (var larger = Floats(2 * Bytes, 2f)) Assert.Equal(0, TensorPool.FreeBytes); // the same block, reused
        TensorPool.Trim();
        using (Floats(Bytes, 1f)) { }
        Assert.Equal(Bytes, TensorPool.FreeBytes);
        TensorPool.Trim();
    }

    [Fact]
    public void At_most_two_free_blocks_are_kept_and_small_tensors_bypass_the_pool()
    {
        EmptyPool();
        var tensors = Enumerable.Range(1, 4).Select(i => Floats(Bytes * i, i)).ToList();
        foreach (var t in tensors) t.Dispose();
        Assert.Equal(Bytes * 3 + Bytes * 4, TensorPool.FreeBytes);

        using (var small = Floats(TensorPool.MinimumBytes / 2, 1f)) { }
        Assert.Equal(Bytes * 7, TensorPool.FreeBytes);
        TensorPool.Trim();
    }
}

/// <summary>The one copy a Keras-to-PyTorch conversion makes of each matrix.</summary>
public sealed class TransposeTests
{
    [Theory]
    [InlineData(3, 5)]
    [InlineData(64, 64)]
    [InlineData(200, 136)]
    [InlineData(1000, 777)]
    [InlineData(512, 2048)]
    public void Transposed_equals_libtorch_transpose_for_every_element_size(long rows, long cols)
    {
        TorchRuntime.EnsureLoaded();
        using var values = torch.randint(-100, 100, [rows, cols], torch.ScalarType.Int32);
        foreach (var dtype in new[] { torch.ScalarType.Float32, torch.ScalarType.Int32, torch.ScalarType.Float64, torch.ScalarType.Float16, torch.ScalarType.Int8 })
        {
            using var m = values.to_type(dtype);
            using var ours = TensorMemory.Transposed(m);
            using var expected = m.t().contiguous();
            Assert.Equal(expected.shape, ours.shape);
            using var same = torch.equal(ours, expected).all();
            Assert.True(same.item<bool>(), $"{dtype} {rows}x{cols}");
        }
    }
}
