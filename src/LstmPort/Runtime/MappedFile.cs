using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

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

    readonly FileStream _file;
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _pointer;
    readonly int _length;
    int _released;

    MappedFile(string path, long length)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        _map = MemoryMappedFile.CreateFromFile(_file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
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

    /// <summary>
    /// The bytes of <paramref name="slice"/> as a stream that reads them from the file (the same
    /// open file as the mapping), not through the mapping: a weight's data is copied once from the
    /// page cache instead of faulting in every page of the map, which also kept them in the
    /// process's resident memory. Any other memory is read in place.
    /// </summary>
    public static Stream OpenRead(ReadOnlyMemory<byte> slice)
    {
        if (MemoryMarshal.TryGetMemoryManager(slice, out MappedFile? file, out int start, out int length))
            return new Region(file, start, length);
        var pin = slice.Pin();
        return new PinnedStream(pin, (byte*)pin.Pointer, slice.Length);
    }

    sealed class Region(MappedFile file, long start, long length) : Stream
    {
        long _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            if (buffer.Length > length - _position) buffer = buffer[..(int)(length - _position)];
            int n = buffer.IsEmpty ? 0 : RandomAccess.Read(file._file.SafeFileHandle, buffer, start + _position);
            _position += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    sealed class PinnedStream(MemoryHandle pin, byte* pointer, long length) : UnmanagedMemoryStream(pointer, length)
    {
        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            pin.Dispose();
        }
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
        _file.Dispose();
    }
}
