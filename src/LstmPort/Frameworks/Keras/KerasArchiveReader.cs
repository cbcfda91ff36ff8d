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
/// (<c>layers/lstm/cell/vars/0..2</c>) under a path derived from the class name; the layer's real
/// name is the <c>name</c> attribute of its <c>vars</c> group, and its type comes from config.json.
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
        using (var zip = OpenZip(path))
        {
            var configEntry = zip.GetEntry(ConfigEntry) ?? throw Missing(path, ConfigEntry);
            if (zip.GetEntry(WeightsEntry) is null) throw Missing(path, WeightsEntry);
            config = JsonDocument.Parse(ReadVerified(configEntry, path));
            if (zip.GetEntry(MetadataEntry) is { } meta)
            {
                using var m = JsonDocument.Parse(ReadVerified(meta, path));
                if (m.RootElement.ValueKind == JsonValueKind.Object && m.RootElement.TryGetProperty("keras_version", out var v) && v.ValueKind == JsonValueKind.String)
                    version = v.GetString();
            }
        }
        using var _ = config;

        var weightsFile = new ArchiveWeights(path);
        var bytes = weightsFile.Bytes();
        if (!bytes.AsSpan().StartsWith(Hdf5Data.Signature))
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {WeightsEntry} in the archive is not an HDF5 file.", path);
        Hdf5Data.CheckNotTruncated(path, bytes.AsSpan(0, Math.Min(64, bytes.Length)), bytes.Length);
        using var h5 = H5File.Open(new MemoryStream(bytes, writable: false), leaveOpen: false);

        if (!h5.LinkExists("layers") || h5.Get("layers") is not IH5Group layersGroup)
        {
            // Keras 3 can also put a legacy-layout weights file inside; read that as such.
            if (Hdf5Data.NamesAttribute(h5, "layer_names") is not null || h5.LinkExists("model_weights"))
                return Relabel(KerasHdf5Reader.ReadFrom(h5, path, d => () => weightsFile.Load(d)));
            throw new LstmPortException(ErrorIds.NotKerasFile, $"'{path}': {WeightsEntry} has no 'layers' group; expected Keras 3 saved weights.", path);
        }

        // Every group whose "vars" subgroup names a layer: name -> path of that group.
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        FindOwners(layersGroup, "layers", owners);

        var layers = new List<KerasLayers.Layer>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, layerConfig) in KerasConfig.LayersInOrder(config.RootElement))
        {
            if (!owners.TryGetValue(name, out var owner) || !seen.Add(owner)) continue;
            var cls = layerConfig.TryGetProperty("class_name", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (cls is "Sequential" or "Functional" or "Model") continue; // its layers come on their own
            layers.Add(new KerasLayers.Layer(name, Weights(h5, owner, path, weightsFile), layerConfig));
        }
        // Variables config.json does not explain are listed too, as Other.
        foreach (var (name, owner) in owners.OrderBy(o => o.Value, StringComparer.Ordinal))
            if (!seen.Contains(owner) && !owners.Values.Any(o => o != owner && seen.Contains(o) && owner.StartsWith(o + "/", StringComparison.Ordinal)))
            {
                var weights = Weights(h5, owner, path, weightsFile);
                if (weights.Count > 0) layers.Add(new KerasLayers.Layer(name, weights, null));
            }

        var (tensors, warnings) = KerasLayers.Describe(layers, new KerasLayers.Origin(path, version, null));
        return new WeightFile(path, Format, tensors, warnings);
    }

    static WeightFile Relabel(WeightFile f) => new(f.Path, WeightFormat.KerasArchive, f.Tensors, f.Warnings);

    static ZipArchive OpenZip(string path)
    {
        try { return ZipFile.OpenRead(path); }
        catch (InvalidDataException e)
        {
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a readable .keras archive: {e.Message} Expected a zip of metadata.json, config.json and model.weights.h5.", path, e);
        }
    }

    /// <summary>A small record (config.json, metadata.json), checked against its zip CRC-32.</summary>
    static byte[] ReadVerified(ZipArchiveEntry entry, string path)
    {
        if (entry.Length > 1L << 28)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {entry.FullName} claims {entry.Length} bytes; a Keras config is far smaller.", path);
        var bytes = new byte[entry.Length];
        using (var s = entry.Open())
            if (s.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length)
                throw new LstmPortException(ErrorIds.TruncatedFile, $"'{path}': {entry.FullName} ends early.", path);
        if (System.IO.Hashing.Crc32.HashToUInt32(bytes) != entry.Crc32)
            throw new LstmPortException(ErrorIds.ChecksumMismatch,
                $"'{path}': {entry.FullName} fails its zip CRC-32 check (the archive is damaged).", path);
        return bytes;
    }

    static LstmPortException Missing(string path, string entry) =>
        new(ErrorIds.CorruptFile, $"'{path}' is a zip but not a Keras archive: it has no {entry}; expected metadata.json, config.json and model.weights.h5.", path);

    static void FindOwners(IH5Group group, string groupPath, Dictionary<string, string> owners)
    {
        foreach (var child in group.Children())
        {
            if (child is not IH5Group g) continue;
            var childPath = groupPath + "/" + child.Name;
            if (child.Name == "vars")
            {
                if (Hdf5Data.StringAttribute(g, "name") is string n) owners.TryAdd(n, groupPath);
                continue;
            }
            FindOwners(g, childPath, owners);
        }
    }

    /// <summary>
    /// A layer's variables in Keras' own order: a recurrent layer's are its cell's; a Bidirectional's
    /// are its forward_layer's then its backward_layer's; others are in vars/ (and in sub-objects).
    /// </summary>
    static List<KerasLayers.Weight> Weights(NativeFile h5, string owner, string path, ArchiveWeights source)
    {
        var list = new List<KerasLayers.Weight>();
        void AddVars(string groupPath)
        {
            if (!h5.LinkExists(groupPath) || h5.Get(groupPath) is not IH5Group vars) return;
            var datasets = vars.Children().OfType<IH5Dataset>()
                .OrderBy(d => int.TryParse(d.Name, out var i) ? i : int.MaxValue).ThenBy(d => d.Name, StringComparer.Ordinal);
            foreach (var d in datasets)
            {
                var dref = KerasHdf5Reader.Describe(d, groupPath + "/" + d.Name, path);
                list.Add(new KerasLayers.Weight(dref.Path, dref.Shape, dref.DType, () => source.Load(dref)));
            }
        }
        void AddTree(string groupPath)
        {
            AddVars(groupPath + "/vars");
            if (h5.Get(groupPath) is not IH5Group g) return;
            foreach (var child in g.Children().OfType<IH5Group>().OrderBy(c => c.Name, StringComparer.Ordinal))
                if (child.Name != "vars") AddTree(groupPath + "/" + child.Name);
        }
        if (h5.LinkExists(owner + "/forward_layer") && h5.LinkExists(owner + "/backward_layer"))
        {
            AddVars(owner + "/vars");
            AddTree(owner + "/forward_layer");
            AddTree(owner + "/backward_layer");
        }
        else AddTree(owner);
        return list;
    }

    /// <summary>
    /// The archive's weights file, extracted when a tensor is read. A zip entry cannot seek, so it is
    /// copied to memory; the copy is kept only while something uses it, so reading every tensor of
    /// a file extracts once and nothing stays in memory afterwards.
    /// </summary>
    sealed class ArchiveWeights(string path)
    {
        readonly object _gate = new();
        WeakReference<byte[]>? _cache;

        public byte[] Bytes()
        {
            lock (_gate)
            {
                if (_cache is not null && _cache.TryGetTarget(out var cached)) return cached;
                using var zip = OpenZip(path);
                var entry = zip.GetEntry(WeightsEntry) ?? throw Missing(path, WeightsEntry);
                if (entry.Length > Array.MaxLength)
                    throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{path}': {WeightsEntry} is {entry.Length} bytes, more than one buffer can hold.", path);
                var bytes = new byte[entry.Length];
                using (var s = entry.Open())
                {
                    int got = s.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
                    if (got < bytes.Length)
                        throw new LstmPortException(ErrorIds.TruncatedFile, $"'{path}': {WeightsEntry} ends after {got} of {bytes.Length} bytes.", path);
                }
                // The whole weights file is one record: damage anywhere in it refuses the archive, since
                // which tensor it hit cannot be told.
                if (System.IO.Hashing.Crc32.HashToUInt32(bytes) != entry.Crc32)
                    throw new LstmPortException(ErrorIds.ChecksumMismatch,
                        $"'{path}': {WeightsEntry} fails its zip CRC-32 check (the archive is damaged).", path);
                _cache = new WeakReference<byte[]>(bytes);
                return bytes;
            }
        }

        public torch.Tensor Load(KerasHdf5Reader.DatasetRef d)
        {
            using var h5 = H5File.Open(new MemoryStream(Bytes(), writable: false), leaveOpen: false);
            return KerasHdf5Reader.LoadDataset(h5, d);
        }
    }
}
