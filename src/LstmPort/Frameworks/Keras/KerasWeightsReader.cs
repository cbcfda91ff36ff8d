using PureHDF;
using LstmPort.Containers;
using LstmPort.Formats;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Reads Keras 3 <c>.weights.h5</c> files, what <c>model.save_weights("x.weights.h5")</c> writes (and
/// tf.keras 2.13 to 2.15 with the same saver): the variable store of <see cref="Keras3Store"/>, with no
/// model config and no Keras version. The config comes from -Config (a config.json or the model's
/// .keras archive), else from a config.json beside the file (an unzipped .keras); without one, layer
/// types come from the groups' class names and the weights' shapes and the settings are Keras 3's
/// defaults, listed in Config.inferred.
/// </summary>
public sealed class KerasWeightsReader : IWeightReader
{
    public WeightFormat Format => WeightFormat.KerasWeights;

    // The store's root holds a layers group (tf.keras: _layer_checkpoint_dependencies) and never the
    // layer_names of a Keras 1/2 file, which KerasHdf5Reader reads.
    public int Probe(FileProbe file) =>
        !file.IsHdf5 || file.Hdf5RootHasAttribute("layer_names") || file.Hdf5RootHasLink("model_weights") ? 0
        : file.Hdf5RootHasLink(Keras3Store.LayersGroup) || file.Hdf5RootHasLink(Keras3Store.TfKerasLayersGroup) ? 95
        : file.Hdf5RootHasLink("vars") ? 60 // a subclassed model's store: its layers under their attribute names
        : 0;

    public WeightFile Read(string path, ReadOptions options)
    {
        Hdf5Data.CheckBeforeOpening(path, "a Keras 3 .weights.h5 file");

        var notes = new List<string>();
        // Whatever -Config says comes first; a config.json beside the file is the next best.
        using var config = options.Config is string given ? KerasModelConfig.Load(given) : KerasModelConfig.Beside(path, notes);
        if (options.Config is not null) notes.Add($"the model config is {config!.Source} (-Config)");
        try { return ReadStore(path, config, notes); }
        catch (Exception e) when (Hdf5Data.IsDamage(e)) { throw Hdf5Data.Damaged(path, e); }
    }

    WeightFile ReadStore(string path, KerasModelConfig? config, List<string> notes)
    {
        using var h5 = H5File.OpenRead(path);
        if (Hdf5Data.NamesAttribute(h5, "layer_names") is not null || h5.LinkExists("model_weights"))
            throw new LstmPortException(ErrorIds.NotKerasFile,
                $"'{path}' is a Keras 1/2 HDF5 file (layer_names), not a Keras 3 weights file; read it with -Format KerasHdf5, or let the format be detected.", path);
        if (!Keras3Store.IsStore(h5))
            throw new LstmPortException(ErrorIds.NotKerasFile,
                $"'{path}' is an HDF5 file but not a Keras 3 weights file: expected a 'layers' group of layers/<layer>/vars/0..n datasets.", path);

        var store = Keras3Store.Read(h5, path, config?.Model, KerasHdf5Reader.Reopening(path));
        var described = KerasLayers.Read(store.Layers, new KerasLayers.Origin(path, config?.KerasVersion, null, store.AssumedVersion));
        return new WeightFile(path, Format, described.Tensors, [.. store.Warnings, .. described.Warnings],
            [.. store.Errors, .. described.Errors], [.. notes, .. store.Notes]);
    }
}
