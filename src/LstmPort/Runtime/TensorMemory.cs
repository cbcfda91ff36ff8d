using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using TorchSharp;

namespace LstmPort.Runtime;

/// <summary>
/// Moves bytes straight between a stream and a tensor's own memory, so a storage is never held
/// twice (no intermediate managed array, no 2 GB span limit).
/// </summary>
public static class TensorMemory
{
    // TorchSharp has no public data pointer; LibTorchSharp exports it (TorchRuntime has loaded it).
    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr tensor);

    const int Chunk = 1 << 24;

    /// <summary>A new uninitialised tensor; a large one takes its memory from <see cref="TensorPool"/>.</summary>
    public static torch.Tensor Empty(long[] shape, torch.ScalarType dtype)
    {
        TorchRuntime.EnsureLoaded();
        long bytes = checked(shape.Aggregate(1L, (n, d) => n * d) * DTypes.Size(dtype));
        return bytes >= TensorPool.MinimumBytes ? TensorPool.Empty(shape, dtype) : torch.empty(shape, dtype);
    }

    /// <summary>Where a tensor's data starts (for tests of where memory comes from).</summary>
    internal static nint Address(torch.Tensor t) => THSTensor_data(t.Handle);

    public static long ByteCount(torch.Tensor t) => t.numel() * t.element_size();

    /// <summary>Fills a new contiguous tensor of the given shape and type from the stream (little-endian bytes).</summary>
    public static torch.Tensor Read(Stream stream, long[] shape, torch.ScalarType dtype)
    {
        var t = Empty(shape, dtype);
        try { ReadInto(stream, t); }
        catch { t.Dispose(); throw; }
        return t;
    }

    public static unsafe void ReadInto(Stream stream, torch.Tensor t)
    {
        if (!t.is_contiguous()) throw new ArgumentException("tensor must be contiguous");
        var p = (byte*)THSTensor_data(t.Handle);
        long left = ByteCount(t);
        while (left > 0)
        {
            int n = (int)Math.Min(left, Chunk);
            var span = new Span<byte>(p, n);
            int got = stream.ReadAtLeast(span, n, throwOnEndOfStream: false);
            if (got < n)
                throw new LstmPortException(ErrorIds.TruncatedFile, "the file ends inside a tensor's data");
            p += n;
            left -= n;
        }
    }

    /// <summary>Receives a tensor's bytes in order, a chunk at a time.</summary>
    public delegate void ChunkWriter(ReadOnlySpan<byte> chunk);

    public static unsafe void Write(torch.Tensor t, ChunkWriter write)
    {
        using var c = t.contiguous();
        var p = (byte*)THSTensor_data(c.Handle);
        long left = ByteCount(c);
        while (left > 0)
        {
            int n = (int)Math.Min(left, Chunk);
            write(new ReadOnlySpan<byte>(p, n));
            p += n;
            left -= n;
        }
    }

    /// <summary>The CRC-32 of a tensor's bytes, as zip archives record it.</summary>
    public static uint Crc32(torch.Tensor t)
    {
        var crc = new System.IO.Hashing.Crc32();
        Write(t, crc.Append);
        return crc.GetCurrentHashAsUInt32();
    }

    /// <summary>The memory of a contiguous tensor of fewer than 2^31 elements, as a span of its element type.</summary>
    public static unsafe Span<T> Span<T>(torch.Tensor t) where T : unmanaged
    {
        if (!t.is_contiguous()) throw new ArgumentException("tensor must be contiguous");
        if (sizeof(T) != t.element_size()) throw new ArgumentException($"tensor elements are {t.element_size()} bytes, not {sizeof(T)}");
        return new Span<T>((void*)THSTensor_data(t.Handle), checked((int)t.numel()));
    }

    /// <summary>
    /// The transpose of a 2-D tensor in new contiguous memory, copied in cache-sized tiles on all
    /// cores. The matrices of a Keras-to-PyTorch conversion are all transposed; this is the one copy it needs.
    /// </summary>
    public static unsafe torch.Tensor Transposed(torch.Tensor m)
    {
        if (m.dim() != 2) throw new ArgumentException("expected a 2-D tensor");
        using var src = m.contiguous();
        long rows = src.shape[0], cols = src.shape[1];
        var dst = Empty([cols, rows], src.dtype);
        nint s = THSTensor_data(src.Handle), d = THSTensor_data(dst.Handle);
        switch (src.element_size())
        {
            case 1: Tiles<byte>(s, d, rows, cols); break;
            case 2: Tiles<ushort>(s, d, rows, cols); break;
            case 4: Tiles<uint>(s, d, rows, cols); break;
            case 8: Tiles<ulong>(s, d, rows, cols); break;
            default: dst.Dispose(); return m.t().contiguous();
        }
        return dst;
    }

    const int Tile = 64;

    static unsafe void Tiles<T>(nint source, nint target, long rows, long cols) where T : unmanaged
    {
        long bands = (rows + Tile - 1) / Tile;
        if (rows * cols < 1 << 16) { for (long b = 0; b < bands; b++) Band((T*)source, (T*)target, rows, cols, b * Tile); }
        else Parallel.For(0L, bands, b => Band((T*)source, (T*)target, rows, cols, b * Tile));
    }

    // One band of up to 64 source rows, tile by tile. Optimised from the first call: this loop runs
    // once per conversion, for seconds, and tier-0 code in it was several times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Band<T>(T* s, T* d, long rows, long cols, long i0) where T : unmanaged
    {
        long i1 = Math.Min(i0 + Tile, rows);
        for (long j0 = 0; j0 < cols; j0 += Tile)
        {
            long j1 = Math.Min(j0 + Tile, cols);
            if (sizeof(T) == 4 && Avx.IsSupported && i1 - i0 == Tile && j1 - j0 == Tile)
            {
                for (long i = i0; i < i1; i += 8)
                    for (long j = j0; j < j1; j += 8)
                        Transpose8x8((float*)(s + i * cols + j), cols, (float*)(d + j * rows + i), rows);
                continue;
            }
            for (long i = i0; i < i1; i++)
            {
                T* row = s + i * cols;
                for (long j = j0; j < j1; j++) d[j * rows + i] = row[j];
            }
        }
    }

    /// <summary>An 8×8 block of 4-byte elements, transposed in AVX registers (any 4-byte type moves as float bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Transpose8x8(float* s, long sourceStride, float* d, long targetStride)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + sourceStride);
        var r2 = Avx.LoadVector256(s + 2 * sourceStride); var r3 = Avx.LoadVector256(s + 3 * sourceStride);
        var r4 = Avx.LoadVector256(s + 4 * sourceStride); var r5 = Avx.LoadVector256(s + 5 * sourceStride);
        var r6 = Avx.LoadVector256(s + 6 * sourceStride); var r7 = Avx.LoadVector256(s + 7 * sourceStride);
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped across.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + targetStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * targetStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * targetStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * targetStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * targetStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * targetStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * targetStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Reverses the bytes of every element in place (big-endian files).</summary>
    public static unsafe void SwapBytes(torch.Tensor t)
    {
        if (!t.is_contiguous()) throw new ArgumentException("tensor must be contiguous");
        int size = (int)t.element_size();
        var p = (byte*)THSTensor_data(t.Handle);
        for (long i = 0, n = t.numel(); i < n; i++, p += size)
            new Span<byte>(p, size).Reverse();
    }
}
