using System.IO.Compression;
using System.Text;
using System.Text.Json;
using PureHDF;
using PureHDF.VOL.Native;
using TorchSharp;
using LstmPort.Containers;
using LstmPort.Formats;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Reads Keras 3 <c>.keras</c> archives: a zip of <c>metadata.json</c>, <c>config.json</c> and
/// <c>model.weights.h5</c>. The weights file stores each layer's variables by position
/// (<c>layers/lstm/cell/vars/0..2</c>) under a path derived from the class name (see
/// <see cref="Keras3Store"/>); layers are named and typed by config.json.
/// </summary>
public sealed class KerasArchiveReader : IWeightReader
{
    const string WeightsEntry = "model.weights.h5";
    const string ConfigEntry = "config.json";
    const string MetadataEntry = "metadata.json";

    public WeightFormat Format => WeightFormat.KerasArchive;

    // Keras writes metadata.json, config.json and model.weights.h5 at the root of the zip.
    public int Probe(FileProbe file) =>
        !file.IsZip ? 0
        : file.ZipEntries.Contains(WeightsEntry) ? 95
        : file.ZipEntries.Contains(ConfigEntry) || file.ZipEntries.Contains(MetadataEntry) ? 40
        : file.Extension == ".keras" ? 30
        : 0;

    public WeightFile Read(string path, ReadOptions options)
    {
        string? version = null;
        JsonDocument config;
        var notes = new List<string>();
        using (var zip = OpenZip(path))
        {
            var configEntry = zip.GetEntry(ConfigEntry) ?? throw Missing(path, ConfigEntry);
            if (zip.GetEntry(WeightsEntry) is null) throw Missing(path, WeightsEntry);
            config = KerasModelConfig.ParseJson(KerasModelConfig.ReadEntry(configEntry, path), path, ConfigEntry);
            if (zip.GetEntry(MetadataEntry) is { } meta) version = KerasModelConfig.VersionOf(KerasModelConfig.ReadEntry(meta, path));
            // Entries beside the model's (an optimizer's own weights file, assets) are not weights of the model.
            foreach (var e in zip.Entries)
                if (e.FullName.Contains("optimizer", StringComparison.OrdinalIgnoreCase) && !e.FullName.EndsWith('/'))
                    notes.Add($"left out the archive entry {e.FullName} (optimizer state)");
        }
        using var _ = config;
        var warnings = new List<string>();
        if (options.Config is not null) warnings.Add($"the archive has its own model config (config.json); -Config '{options.Config}' is not used.");

        var weightsFile = new ArchiveWeights(path);
        var bytes = weightsFile.Bytes();
        if (!bytes.AsSpan().StartsWith(Hdf5Data.Signature))
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {WeightsEntry} in the archive is not an HDF5 file.", path);
        Hdf5Data.CheckNotTruncated(path, bytes.AsSpan(0, Math.Min(64, bytes.Length)), bytes.Length);
        using var h5 = H5File.Open(new MemoryStream(bytes, writable: false), leaveOpen: false);

        if (!Keras3Store.IsStore(h5))
        {
            // Keras 3 can also put a legacy-layout weights file inside; read that as such.
            if (Hdf5Data.NamesAttribute(h5, "layer_names") is not null || h5.LinkExists("model_weights"))
                return Relabel(KerasHdf5Reader.ReadFrom(h5, path, d => () => weightsFile.Load(d)), notes, warnings);
            throw new LstmPortException(ErrorIds.NotKerasFile, $"'{path}': {WeightsEntry} has no 'layers' group; expected Keras 3 saved weights.", path);
        }

        var store = Keras3Store.Read(h5, path, config.RootElement, d => () => weightsFile.Load(d));
        var described = KerasLayers.Read(store.Layers, new KerasLayers.Origin(path, version, null, store.AssumedVersion));
        return new WeightFile(path, Format, described.Tensors, [.. warnings, .. store.Warnings, .. described.Warnings],
            [.. store.Errors, .. described.Errors], [.. notes, .. store.Notes]);
    }

    static WeightFile Relabel(WeightFile f, List<string> notes, List<string> warnings) =>
        new(f.Path, WeightFormat.KerasArchive, f.Tensors, [.. warnings, .. f.Warnings], f.Errors, [.. notes, .. f.Notes]);

    static ZipArchive OpenZip(string path)
    {
        try { return ZipFile.OpenRead(path); }
        catch (Exception e) when (e is InvalidDataException or ArgumentOutOfRangeException)
        {
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a readable .keras archive: {e.Message} Expected a zip of metadata.json, config.json and model.weights.h5.", path, e);
        }
    }

    static LstmPortException Missing(string path, string entry) =>
        new(ErrorIds.CorruptFile, $"'{path}' is a zip but not a Keras archive: it has no {entry}; expected metadata.json, config.json and model.weights.h5.", path);

    /// <summary>
    /// The archive's weights file, extracted when a tensor is read. A zip entry cannot seek, so it is
    /// copied to memory; the copy is kept only while something uses it, so reading every tensor of
    /// a file extracts once and nothing stays in memory afterwards.
    /// </summary>
    sealed class ArchiveWeights(string path)
    {
        readonly object _gate = new();
        WeakReference<byte[]>? _cache;
        (uint Crc, long Length)? _checked;

        public byte[] Bytes()
        {
            lock (_gate)
            {
                if (_cache is not null && _cache.TryGetTarget(out var cached)) return cached;
                using var zip = OpenZip(path);
                var entry = zip.GetEntry(WeightsEntry) ?? throw Missing(path, WeightsEntry);
                if (entry.Length > Array.MaxLength)
                    throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{path}': {WeightsEntry} is {entry.Length} bytes, more than one buffer can hold.", path);
                // Sizes checked against the archive, stream errors and the CRC-32 there. The whole weights
                // file is one record: damage anywhere in it refuses the archive, since which tensor it hit cannot be told.
                var bytes = KerasModelConfig.ReadEntry(entry, path, Array.MaxLength, "more than one buffer can hold");
                // PureHDF follows looping links and trees until the stack overflows: the metadata is checked
                // before it sees these bytes, and again if the archive was changed since it was listed.
                if (_checked != (entry.Crc32, entry.Length))
                {
                    Hdf5Structure.Check(bytes, path);
                    _checked = (entry.Crc32, entry.Length);
                }
                _cache = new WeakReference<byte[]>(bytes);
                return bytes;
            }
        }

        public torch.Tensor Load(KerasHdf5Reader.DatasetRef d)
        {
            var bytes = Bytes();
            using var h5 = H5File.Open(new MemoryStream(bytes, writable: false), leaveOpen: false);
            return KerasHdf5Reader.LoadDataset(h5, d, bytes.Length);
        }
    }
}
