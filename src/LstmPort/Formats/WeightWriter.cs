using LstmPort.Frameworks.Keras;
using LstmPort.Frameworks.Onnx;
using LstmPort.Frameworks.Torch;
using LstmPort.Runtime;

namespace LstmPort.Formats;

/// <summary>One output format. Writers get a fresh stream and the checked tensor list; the registry does the file handling.</summary>
public interface IWeightWriter
{
    WeightFormat Format { get; }
    /// <summary>File extensions (with the dot, lower case) that select this writer when no format is given.</summary>
    IReadOnlyList<string> Extensions { get; }
    /// <summary>Throws an <see cref="LstmPortException"/> for a tensor this format cannot hold (before anything is written).</summary>
    void Check(IReadOnlyList<LstmTensor> tensors, string path);
    /// <summary>True when <see cref="Write"/> only ever appends: the registry then gives it a <see cref="DirectFileStream"/>.</summary>
    bool WritesSequentially => false;
    void Write(Stream output, IReadOnlyList<LstmTensor> tensors);
}

/// <summary>
/// Writes weight files: picks the writer by format or extension, refuses empty input, duplicate
/// names and unwanted overwrites, and writes into a <see cref="PendingFile"/> that takes the
/// target's name only when complete, so an error, a cancel or a kill never leaves a partial file.
/// </summary>
public static class WeightWriter
{
    static readonly List<IWeightWriter> Writers = [new SafetensorsWriter(), new TorchFileWriter(), new KerasHdf5Writer(), new KerasWeightsWriter(), new OnnxWriter()];

    /// <summary>Adds a writer (a format added later plugs in here).</summary>
    public static void Register(IWeightWriter writer)
    {
        lock (Writers) Writers.Add(writer);
    }

    public static IReadOnlyList<IWeightWriter> All { get { lock (Writers) return [.. Writers]; } }

    public static IWeightWriter Resolve(string path, WeightFormat format)
    {
        var all = All;
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var name = Path.GetFileName(path).ToLowerInvariant();
        // The longest extension the name ends with decides: x.weights.h5 is Keras 3's, x.h5 tf.keras 2's.
        var writer = format == WeightFormat.Auto
            ? all.SelectMany(w => w.Extensions.Select(e => (Writer: w, Extension: e)))
                .Where(x => name.EndsWith(x.Extension, StringComparison.Ordinal))
                .OrderByDescending(x => x.Extension.Length).Select(x => x.Writer).FirstOrDefault()
            : all.FirstOrDefault(w => w.Format == format);
        return writer ?? throw new LstmPortException(ErrorIds.UnknownFormat,
            format == WeightFormat.Auto
                ? $"'{path}': cannot tell the format from the extension '{ext}'; use one of {string.Join(", ", all.SelectMany(w => w.Extensions))} or -Format."
                : $"'{path}': LstmPort cannot write {format} files; it writes {string.Join(", ", all.Select(w => w.Format))}.", path);
    }

    /// <summary>Checks everything that can be checked before writing: returns the writer and the total data size.</summary>
    public static (IWeightWriter Writer, long Bytes) Prepare(string path, IReadOnlyList<LstmTensor> tensors, WeightFormat format, bool overwrite)
    {
        if (tensors.Count == 0)
            throw new LstmPortException(ErrorIds.NoTensors, $"'{path}': there are no tensors to write.", path);
        var duplicate = tensors.GroupBy(t => t.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new LstmPortException(ErrorIds.DuplicateTensorName,
                $"'{path}': {duplicate.Count()} tensors are named '{duplicate.Key}'; every tensor in a file needs its own name.", duplicate.Key);
        var writer = Resolve(path, format);
        if (Directory.Exists(path))
            throw new LstmPortException(ErrorIds.PathIsDirectory, $"'{path}' is a directory; expected a file name.", path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir))
            throw new LstmPortException(ErrorIds.DirectoryNotFound, $"'{path}': the folder '{dir}' does not exist.", path);
        if (!overwrite && File.Exists(path))
            throw new LstmPortException(ErrorIds.FileExists, $"'{path}' already exists; use -Force to overwrite it.", path);
        writer.Check(tensors, path);
        long bytes = tensors.Sum(t => t.ByteCount);
        return (writer, bytes);
    }

    /// <param name="progress">Called with (bytes written, total bytes) as the data goes out.</param>
    public static FileInfo Write(string path, IReadOnlyList<LstmTensor> tensors, WeightFormat format = WeightFormat.Auto,
        bool overwrite = false, Action<long, long>? progress = null, CancellationToken cancel = default)
    {
        var (writer, total) = Prepare(path, tensors, format, overwrite);
        var full = Path.GetFullPath(path);
        try
        {
            TensorPool.Expect(tensors.Max(t => t.ByteCount));
            // Invisible until complete: a failure, a cancel or a kill leaves no partial file (PendingFile).
            using var pending = PendingFile.Create(full);
            if (writer.WritesSequentially)
            {
                using var file = new DirectFileStream(pending.Handle, ownsHandle: false);
                writer.Write(new ProgressStream(file, total, progress, cancel), tensors);
                file.Complete();
            }
            else
            {
                // The stream gets a handle it does not own: closing the pending file before Commit would lose it.
                using var file = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(pending.Handle.DangerousGetHandle(), ownsHandle: false), FileAccess.ReadWrite, 1 << 16);
                writer.Write(new ProgressStream(file, total, progress, cancel), tensors);
                file.Flush(flushToDisk: true);
            }
            cancel.ThrowIfCancellationRequested();
            try { pending.Commit(overwrite); }
            catch (IOException) when (!overwrite && File.Exists(full))
            {
                throw new LstmPortException(ErrorIds.FileExists, $"'{path}' already exists; use -Force to overwrite it.", path);
            }
            return new FileInfo(full);
        }
        finally
        {
            TensorPool.Trim();
        }
    }

    /// <summary>Counts bytes on their way to the file, reports progress and stops between chunks when cancelled.</summary>
    sealed class ProgressStream(Stream inner, long total, Action<long, long>? progress, CancellationToken cancel) : Stream
    {
        long _written;
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => inner.SetLength(value);
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            cancel.ThrowIfCancellationRequested();
            inner.Write(buffer);
            _written += buffer.Length;
            progress?.Invoke(Math.Min(_written, total), total);
        }
    }
}
