using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace LstmPort.Runtime;

/// <summary>
/// A whole file as read-only memory, mapped instead of read: a parser that walks a large file's
/// structure (an ONNX model's protobuf) touches only the pages it looks at, so listing the
/// tensors of a 1 GB model reads kilobytes, not the gigabyte. Slices of <see cref="Memory"/> keep
/// the mapping alive (they reference this manager); the mapping goes when the last is collected
/// (the finaliser releases the pointer, then the view's own handle unmaps it).
/// Small files are read into an array: mapping them saves nothing.
/// </summary>
public sealed unsafe class MappedFile : MemoryManager<byte>
{
    /// <summary>Files below this are read, not mapped.</summary>
    public const long MapThreshold = 16L << 20;

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _pointer;
    readonly int _length;
    int _released;

    MappedFile(string path, long length)
    {
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + _view.PointerOffset;
        _length = checked((int)length);
    }

    /// <summary>The file's bytes: mapped when it is at least <see cref="MapThreshold"/> bytes (and below 2 GB), else read.</summary>
    public static ReadOnlyMemory<byte> Open(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < MapThreshold || length > int.MaxValue) return File.ReadAllBytes(path);
        return new MappedFile(path, length).Memory;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin() { }

    ~MappedFile() => Dispose(false);

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        if (!disposing) return;
        _view.Dispose();
        _map.Dispose();
    }
}
