using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LstmPort.Runtime;

/// <summary>
/// Memory for large tensors, reused from one tensor to the next. A conversion streams tensor after
/// tensor of similar sizes (read one, compute its converted form, write it, free both); taking each
/// from fresh memory made the kernel zero every page again, which cost about as much as the disk
/// on the benchmark machine. Freed blocks are kept (at most <see cref="Kept"/>) and handed to the
/// next tensor that fits; <see cref="Trim"/> returns them to the system once a job is done.
/// </summary>
public static unsafe class TensorPool
{
    /// <summary>Tensors smaller than this come from libtorch's own allocator.</summary>
    public const long MinimumBytes = 4 << 20;
    const int Kept = 2;
    const long HugePage = 2 << 20;
    const int MadvHugePage = 14;

    static readonly object Gate = new();
    static readonly Dictionary<nint, long> Capacity = [];   // every block the pool owns, in use or free
    static readonly List<nint> Free = [];
    static long _expected;

    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_new(IntPtr data, delegate* unmanaged[Cdecl]<IntPtr, void> deleter, long* sizes, int ndims,
        sbyte scalarType, sbyte dtype, int deviceType, int deviceIndex, [MarshalAs(UnmanagedType.U1)] bool requiresGrad);

    [DllImport("libc", EntryPoint = "madvise")]
    static extern int Madvise(nint address, nuint length, int advice);

    /// <summary>
    /// Says tensors of up to this size are coming (a writer knows its largest): new blocks are made
    /// that large until <see cref="Trim"/>, so the pool does not grow step by step. Each new block's
    /// pages are zeroed by the kernel when first touched, which was a quarter of a 1 GB conversion's
    /// CPU time; pages of a block never touched cost nothing.
    /// </summary>
    public static void Expect(long bytes)
    {
        lock (Gate) _expected = bytes;
    }

    /// <summary>Bytes held by free blocks (for tests and diagnostics).</summary>
    public static long FreeBytes { get { lock (Gate) return Free.Sum(p => Capacity[p]); } }

    /// <summary>Bytes of blocks that tensors still hold (for tests: a writer must leave none behind).</summary>
    internal static long InUseBytes { get { lock (Gate) return Capacity.Where(b => !Free.Contains(b.Key)).Sum(b => b.Value); } }

    /// <summary>A new uninitialised CPU tensor whose memory returns to the pool when libtorch frees it.</summary>
    public static torch.Tensor Empty(long[] shape, torch.ScalarType dtype)
    {
        TorchRuntime.EnsureLoaded();
        var block = Rent(checked(shape.Aggregate(1L, (n, d) => n * d) * DTypes.Size(dtype)));
        IntPtr handle;
        fixed (long* sizes = shape)
            handle = THSTensor_new(block, &Returned, sizes, shape.Length, (sbyte)dtype, (sbyte)dtype, 0, 0, false);
        if (handle == IntPtr.Zero)
        {
            Return(block);
            torch.CheckForErrors();
        }
        return torch.Tensor.UnsafeCreateTensor(handle);
    }

    static nint Rent(long bytes)
    {
        lock (Gate)
        {
            nint best = 0;
            foreach (var p in Free)
                if (Capacity[p] >= bytes && (best == 0 || Capacity[p] < Capacity[best])) best = p;
            if (best != 0)
            {
                Free.Remove(best);
                return best;
            }
            // Nothing fits: the free blocks held smaller tensors, which are unlikely to come back.
            ReleaseFree();
            bytes = Math.Max(bytes, _expected);
        }
        var block = (nint)NativeMemory.AlignedAlloc((nuint)bytes, (nuint)HugePage);
        // 2 MiB pages: one fault per 4 KiB page cost 0.7 to 0.9 s per GB on a 2-core VM, 2 MiB
        // pages 0.15 s. A hint only; where transparent huge pages are off nothing changes.
        if (OperatingSystem.IsLinux()) _ = Madvise(block, (nuint)bytes, MadvHugePage);
        lock (Gate) Capacity[block] = bytes;
        return block;
    }

    // libtorch calls this when the tensor's storage is freed, on whichever thread drops the last reference.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    static void Returned(IntPtr block) => Return(block);

    static void Return(nint block)
    {
        lock (Gate)
        {
            Free.Add(block);
            if (Free.Count > Kept)
            {
                var smallest = Free.MinBy(p => Capacity[p]);
                Free.Remove(smallest);
                Release(smallest);
            }
        }
    }

    /// <summary>Returns every free block to the system (blocks still in use stay with their tensors) and forgets <see cref="Expect"/>.</summary>
    public static void Trim()
    {
        lock (Gate)
        {
            ReleaseFree();
            _expected = 0;
        }
    }

    static void ReleaseFree()
    {
        foreach (var p in Free) Release(p);
        Free.Clear();
    }

    static void Release(nint block)
    {
        Capacity.Remove(block);
        NativeMemory.AlignedFree((void*)block);
    }
}
