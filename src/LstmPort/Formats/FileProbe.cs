using System.Buffers.Binary;
using LstmPort.Containers;
using PureHDF;
using PureHDF.VOL.Native;

namespace LstmPort.Formats;

/// <summary>
/// What format detection looks at: the path, the first bytes and, for containers, a look inside
/// the opened container (a zip's entry names; whether an HDF5 file's root has a given attribute or
/// link), each read once and only when a reader asks. Nothing is decoded beyond that; a container
/// that cannot be opened looks empty, and the reader that claims it reports why when it reads.
/// </summary>
public sealed class FileProbe
{
    public const int HeadLength = 512;

    readonly Lazy<IReadOnlySet<string>> _zipEntries;
    readonly Dictionary<string, bool> _hdf5Answers = new(StringComparer.Ordinal);
    readonly Lazy<bool> _hdf5Intact;

    public FileProbe(string path)
    {
        Path = path;
        using (var f = File.OpenRead(path))
        {
            Length = f.Length;
            var head = new byte[HeadLength];
            Head = head.AsMemory(0, f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false));
        }
        _zipEntries = new(ReadZipEntries);
        _hdf5Intact = new(CheckHdf5);
    }

    public string Path { get; }
    public long Length { get; }
    /// <summary>The first bytes (up to <see cref="HeadLength"/>).</summary>
    public ReadOnlyMemory<byte> Head { get; }
    public string Extension => System.IO.Path.GetExtension(Path).ToLowerInvariant();
    public string FileName => System.IO.Path.GetFileName(Path);

    public bool IsZip => Head.Span.StartsWith("PK\x03\x04"u8) || Head.Span.StartsWith("PK\x05\x06"u8);
    public bool IsHdf5 => Head.Span.StartsWith(Hdf5Data.Signature);
    /// <summary>A pickle stream: the PROTO opcode with protocol 2 to 5.</summary>
    public bool IsPickle => Head.Length >= 2 && Head.Span[0] == 0x80 && Head.Span[1] is >= 2 and <= 5;

    /// <summary>The zip archive's entry names (empty when the file is no readable zip).</summary>
    public IReadOnlySet<string> ZipEntries => _zipEntries.Value;

    /// <summary>Whether the HDF5 root group has this attribute (false when the file is no readable HDF5).</summary>
    public bool Hdf5RootHasAttribute(string name) => AskHdf5("@" + name, h5 => h5.AttributeExists(name));

    /// <summary>
    /// Whether the HDF5 root group has a link of this name. Only that one name is looked up: the
    /// root's other links are never listed or followed (a damaged file may have links that loop).
    /// </summary>
    public bool Hdf5RootHasLink(string name) => AskHdf5("/" + name, h5 => h5.LinkExists(name));

    /// <summary>The little-endian uint64 the file starts with (safetensors' header length).</summary>
    public ulong LeadingUInt64 => Head.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(Head.Span) : 0;

    IReadOnlySet<string> ReadZipEntries()
    {
        if (!IsZip) return new HashSet<string>();
        try
        {
            using var f = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            return ZipDirectory.Read(Path, f).Entries.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        }
        catch (Exception e) when (e is LstmPortException or IOException or InvalidDataException or OverflowException or ArgumentException)
        {
            return new HashSet<string>();
        }
    }

    /// <summary>
    /// Whether the HDF5 metadata passes <see cref="Hdf5Structure"/>: PureHDF is never asked about a file
    /// whose links or trees loop (it would recurse until the process dies). A refused file looks empty
    /// here; KerasHdf5Reader still claims any HDF5 file and reports the structural error when it reads.
    /// </summary>
    bool CheckHdf5()
    {
        try { Hdf5Structure.Check(Path); return true; }
        catch (Exception e) when (e is LstmPortException or IOException or UnauthorizedAccessException) { return false; }
    }

    bool AskHdf5(string key, Func<NativeFile, bool> question)
    {
        if (!IsHdf5 || !_hdf5Intact.Value) return false;
        if (_hdf5Answers.TryGetValue(key, out var known)) return known;
        bool answer;
        try
        {
            using var h5 = H5File.OpenRead(Path);
            answer = question(h5);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException))
        {
            answer = false; // a damaged file: the HDF5 reader that claims it says what is wrong
        }
        return _hdf5Answers[key] = answer;
    }
}
