using System.Text.Json;
using PureHDF;
using PureHDF.VOL.Native;
using LstmPort.Containers;
using LstmPort.Formats;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Reads Keras HDF5 files: full models (<c>model_weights</c> group, <c>model_config</c> attribute) and
/// weights-only files (<c>save_weights</c>: <c>layer_names</c> on the root), from Keras 1, Keras 2 with any
/// backend, tf.keras and Keras 3's legacy writer. Each layer group lists its datasets in
/// <c>weight_names</c>; that list, not HDF5's alphabetical order, gives the order of the weights.
/// </summary>
public sealed class KerasHdf5Reader : IWeightReader
{
    public WeightFormat Format => WeightFormat.KerasHdf5;

    // Any HDF5 file is claimed, weakly, so that one without Keras structure is refused as NotKerasFile.
    public int Probe(FileProbe file) =>
        !file.IsHdf5 ? 0
        : file.Hdf5RootHasAttribute("layer_names") || file.Hdf5RootHasLink("model_weights") ? 95
        : 10;

    public WeightFile Read(string path, ReadOptions options)
    {
        Hdf5Data.CheckBeforeOpening(path);

        try
        {
            using var file = H5File.OpenRead(path);
            return ReadFrom(file, path, Reopening(path), options.Config);
        }
        catch (Exception e) when (Hdf5Data.IsDamage(e))
        {
            throw Hdf5Data.Damaged(path, e);
        }
    }

    /// <summary>
    /// Shared with the .keras reader for archives whose weights file is in the legacy layout.
    /// <paramref name="loader"/> makes the lazy load for a dataset path; <paramref name="configPath"/>
    /// is -Config, used when the file has no model config of its own.
    /// </summary>
    internal static WeightFile ReadFrom(NativeFile file, string path, Func<DatasetRef, Func<TorchSharp.torch.Tensor>> loader, string? configPath = null)
    {
        string? version = Hdf5Data.StringAttribute(file, "keras_version");
        string? backend = Hdf5Data.StringAttribute(file, "backend");
        JsonDocument? modelConfig = null;
        var modelConfigText = Hdf5Data.StringAttribute(file, "model_config");
        if (modelConfigText is not null)
        {
            try { modelConfig = JsonDocument.Parse(modelConfigText, KerasModelConfig.JsonOptions); }
            catch (JsonException e) { throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' has a model_config that is not JSON: {e.Message}", path, e); }
        }
        using var _ = modelConfig;

        IH5Group root = file;
        string prefix = "";
        string[]? layerNames = Hdf5Data.NamesAttribute(file, "layer_names");
        if (layerNames is null && file.LinkExists("model_weights") && file.Get("model_weights") is IH5Group mw)
        {
            root = mw;
            prefix = "model_weights/";
            layerNames = Hdf5Data.NamesAttribute(mw, "layer_names");
            version ??= Hdf5Data.StringAttribute(mw, "keras_version");
            backend ??= Hdf5Data.StringAttribute(mw, "backend");
        }
        if (layerNames is null)
            throw new LstmPortException(ErrorIds.NotKerasFile, Keras3Store.IsStore(file)
                ? $"'{path}' is a Keras 3 weights file (layers/<layer>/vars groups), not a Keras 1/2 HDF5 file with 'layer_names'; read it with -Format KerasWeights, or let the format be detected."
                : $"'{path}' is an HDF5 file but not a Keras one: expected a 'layer_names' attribute on the root or on a 'model_weights' group.", path);

        var warnings = new List<string>();
        var notes = new List<string>();
        var errors = new List<LstmPortException>();
        KerasModelConfig? given = null;
        if (configPath is not null)
        {
            if (modelConfig is null) given = KerasModelConfig.Load(configPath);
            else warnings.Add($"the file has its own model config; -Config '{configPath}' is not used.");
        }
        using var __ = given;
        if (given is not null)
        {
            version ??= given.KerasVersion;
            notes.Add($"the model config is {given.Source} (-Config)");
        }

        // A full-model file keeps the optimizer's state beside the weights: left out, and said so.
        if (file.LinkExists("optimizer_weights"))
        {
            var count = file.Get("optimizer_weights") is IH5Group og ? Hdf5Data.CountDatasets(og) : null;
            notes.Add(count is int n ? $"left out {n} optimizer weight{(n == 1 ? "" : "s")} (optimizer_weights)" : "left out the optimizer's state (optimizer_weights)");
        }

        var configRoot = modelConfig?.RootElement ?? given?.Model;
        var configs = configRoot is JsonElement cr ? KerasConfig.LayersByName(cr) : null;
        var layers = new List<KerasLayers.Layer>();
        foreach (var name in layerNames)
        {
            // One layer's damage is that layer's error: the others are still read.
            try
            {
                if (!root.LinkExists(name) || root.Get(name) is not IH5Group g)
                    throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' lists layer '{name}' in layer_names but has no group for it.", path);
                var weights = new List<KerasLayers.Weight>();
                foreach (var w in Hdf5Data.NamesAttribute(g, "weight_names") ?? [])
                {
                    if (!g.LinkExists(w) || g.Get(w) is not IH5Dataset d)
                        throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' lists weight '{w}' for layer '{name}' but has no dataset for it.", path);
                    var dref = Describe(d, prefix + name + "/" + w, path);
                    weights.Add(new KerasLayers.Weight(w, dref.Shape, dref.DType, loader(dref)));
                }
                JsonElement? config = configs is not null && configs.TryGetValue(name, out var c) ? c : null;
                layers.Add(new KerasLayers.Layer(name, weights, config));
            }
            catch (LstmPortException e) { errors.Add(e); }
            catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException))
            {
                errors.Add(new LstmPortException(ErrorIds.CorruptFile, $"'{path}': layer '{name}' cannot be read: {e.Message}", path, e));
            }
        }
        if (given is not null && layers.Where(l => l.Weights.Count > 0 && l.Config is null).Select(l => l.Name).ToList() is { Count: > 0 } unnamed)
            warnings.Add($"the model config {given.Source} (-Config) has no layer named {string.Join(", ", unnamed)}; check that it is this model's.");
        var described = KerasLayers.Read(layers, new KerasLayers.Origin(path, version, backend));
        warnings.AddRange(described.Warnings);
        errors.AddRange(described.Errors);
        return new WeightFile(path, WeightFormat.KerasHdf5, described.Tensors, warnings, errors, notes);
    }

    internal sealed record DatasetRef(string Path, int[] Shape, string DType);

    internal static DatasetRef Describe(IH5Dataset d, string datasetPath, string file)
    {
        var shape = Hdf5Data.Shape(d);
        var dtype = Hdf5Data.DType(d) ?? throw new LstmPortException(ErrorIds.UnsupportedDType,
            $"'{file}': dataset '{datasetPath}' holds {d.Type.Class} data of {d.Type.Size} bytes; expected floating-point or integer numbers.", file);
        return new DatasetRef(datasetPath, shape, dtype);
    }

    internal static TorchSharp.torch.Tensor LoadDataset(NativeFile file, DatasetRef d, long fileBytes) =>
        Hdf5Data.ReadTensor((NativeDataset)file.Dataset(d.Path), d.DType, d.Shape, fileBytes);

    /// <summary>
    /// Lazy loads that open the file again when a tensor is used. Its metadata was checked when it was
    /// listed; a file changed since then is checked again before PureHDF follows its links.
    /// </summary>
    internal static Func<DatasetRef, Func<TorchSharp.torch.Tensor>> Reopening(string path) => d => () =>
    {
        Hdf5Structure.Check(path);
        using var again = H5File.OpenRead(path);
        return LoadDataset(again, d, new FileInfo(path).Length);
    };
}
