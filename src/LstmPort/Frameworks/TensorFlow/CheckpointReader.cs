using Google.Protobuf;
using LstmPort.Formats;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// TensorFlow checkpoints (<c>&lt;prefix&gt;.index</c> + <c>.data-*</c>). Object-based ones
/// (tf.train.Checkpoint, Keras <c>save_weights</c> in TF format) carry <c>_CHECKPOINTABLE_OBJECT_GRAPH</c>
/// and are described as Keras layers; name-based TF1 ones (tf.train.Saver) by their cell scopes.
/// A <c>&lt;prefix&gt;.meta</c> beside it, when present, supplies forget_bias and cell_clip.
/// </summary>
public sealed class CheckpointReader : IWeightReader
{
    public WeightFormat Format => WeightFormat.TensorFlowCheckpoint;

    // Checkpoints are found by path (TfPaths), never by leading bytes: an .index starts with data.
    public int Probe(FileProbe file) => 0;

    /// <param name="path">The checkpoint prefix (<c>model.ckpt</c>), or its .index file.</param>
    public WeightFile Read(string path, ReadOptions options) => ReadBundle(TfPaths.Prefix(path), path, null, null, Format);

    internal static WeightFile ReadBundle(string prefix, string source, IReadOnlyDictionary<string, ObjectGraph.KerasLayerInfo>? metadata,
        string? kerasVersion, WeightFormat format)
    {
        var bundle = TensorBundle.Open(prefix);
        // Checked now: damage found when a tensor is first used could only show as $null in PowerShell.
        var errors = bundle.EntryErrors.Concat(bundle.RemoveDamaged()).ToList();
        var warnings = new List<string>();
        var notes = new List<string>();
        var strings = bundle.Entries.Where(e => TfDataType.Scalar(e.Entry.DType) is null && e.Key != TensorBundle.ObjectGraphKey).Select(e => e.Key).ToList();
        if (strings.Count > 0)
            notes.Add($"left out {strings.Count} entries that are not numeric tensors: {string.Join(", ", strings.Take(5))}{(strings.Count > 5 ? ", ..." : "")}");

        var objectGraph = bundle.Entries.FirstOrDefault(e => e.Key == TensorBundle.ObjectGraphKey);
        if (objectGraph.Key is not null)
        {
            ObjectGraph graph;
            try { graph = ObjectGraph.Parse(bundle.ReadScalarString(objectGraph.Key, objectGraph.Entry)); }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException)
            { throw new LstmPortException(ErrorIds.CorruptProtobuf, $"'{prefix}.index': the object graph is damaged: {e.Message}.", source, e); }
            var described = ObjectGraph.Describe(bundle, graph, metadata ?? new Dictionary<string, ObjectGraph.KerasLayerInfo>(),
                kerasVersion ?? "2.0.0-tf", source);
            warnings.AddRange(described.Warnings);
            errors.AddRange(described.Errors);
            notes.AddRange(described.Notes);
            return Finish(source, format, described.Tensors, warnings, errors, notes);
        }

        var hints = new Dictionary<string, CellHints>(StringComparer.Ordinal);
        var cudnn = new Dictionary<string, CudnnHints>(StringComparer.Ordinal);
        Dictionary<string, int>? order = null;
        var meta = prefix + ".meta";
        if (File.Exists(meta))
        {
            try
            {
                var graph = TfGraph.ParseMetaGraph(File.ReadAllBytes(meta));
                hints = graph.CellHints();
                cudnn = graph.CudnnHints();
                order = graph.VariableOrder();
            }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException or NotSupportedException or OverflowException)
            { warnings.Add($"'{meta}' could not be read ({e.Message}); forget_bias is assumed to be {Tf1Scopes.DefaultForgetBias}"); }
        }
        var variables = bundle.Entries.Where(e => TfDataType.Scalar(e.Entry.DType) is not null)
            .Select(e => new TfVariable(e.Key, e.Entry.Shape.Select(d => (int)d).ToArray(),
                DTypes.Name(TfDataType.Scalar(e.Entry.DType)!.Value), bundle.Loader(e.Key, e.Entry))).ToList();
        var d = Tf1Scopes.Describe(variables, hints, source, cudnn, order, byName: true);
        warnings.AddRange(d.Warnings);
        errors.AddRange(d.Errors);
        notes.AddRange(d.Notes);
        return Finish(source, format, d.Tensors, warnings, errors, notes);
    }

    static WeightFile Finish(string source, WeightFormat format, IReadOnlyList<LstmTensor> tensors, List<string> warnings,
        List<LstmPortException> errors, List<string> notes)
    {
        if (tensors.Count == 0 && errors.Count == 0)
            throw new LstmPortException(ErrorIds.NoTensors,
                $"'{source}' holds no weights{(notes.Count == 0 ? "" : $" ({string.Join("; ", notes)})")}.", source);
        return new WeightFile(source, format, tensors, warnings, errors, notes);
    }
}

/// <summary>
/// SavedModel directories: the variables are the object-based bundle <c>variables/variables</c>;
/// <c>keras_metadata.pb</c>, where present, names the Keras layers and gives their configs.
/// </summary>
public sealed class SavedModelReader : IWeightReader
{
    public WeightFormat Format => WeightFormat.SavedModel;

    public int Probe(FileProbe file) => 0;

    public WeightFile Read(string path, ReadOptions options)
    {
        var dir = File.Exists(path) ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;
        var prefix = Path.Combine(dir, "variables", "variables");
        if (!File.Exists(prefix + ".index"))
            throw new LstmPortException(ErrorIds.FileNotFound,
                $"'{path}' is not a SavedModel with variables: '{prefix}.index' does not exist.", path);
        Dictionary<string, ObjectGraph.KerasLayerInfo>? layers = null;
        string? version = null;
        string? damaged = null;
        var metadataPath = Path.Combine(dir, "keras_metadata.pb");
        if (File.Exists(metadataPath))
        {
            // The variables do not need it: without it the layers' types come from their shapes, as in a checkpoint.
            try { (layers, version) = ObjectGraph.ParseKerasMetadata(File.ReadAllBytes(metadataPath)); }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException)
            { damaged = $"'{metadataPath}' is damaged ({e.Message}), so the layers' names and settings come from the object graph and the weights' shapes"; }
        }
        var file = CheckpointReader.ReadBundle(prefix, path, layers, version, Format);
        return damaged is null ? file : new WeightFile(file.Path, file.Format, file.Tensors, [damaged, .. file.Warnings], file.Errors, file.Notes);
    }
}

/// <summary>Finds TensorFlow checkpoints and SavedModels from any of the paths a user may give.</summary>
public static class TfPaths
{
    /// <summary>The reader and path for a TensorFlow checkpoint or SavedModel, or null when <paramref name="path"/> is neither.</summary>
    public static (WeightFormat Format, string Path)? Locate(string path, WeightFormat format)
    {
        if (format is not (WeightFormat.Auto or WeightFormat.TensorFlowCheckpoint or WeightFormat.SavedModel)) return null;
        if (Directory.Exists(path))
        {
            if (File.Exists(Path.Combine(path, "saved_model.pb")) || File.Exists(Path.Combine(path, "variables", "variables.index")))
                return (WeightFormat.SavedModel, path);
            var state = Path.Combine(path, "checkpoint");
            if (File.Exists(state) && format != WeightFormat.SavedModel)
                return (WeightFormat.TensorFlowCheckpoint, LatestCheckpoint(path, state));
            return null;
        }
        if (format == WeightFormat.SavedModel) return File.Exists(path) ? (WeightFormat.SavedModel, path) : null;
        if (File.Exists(path + ".index")) return (WeightFormat.TensorFlowCheckpoint, path);
        var prefix = Prefix(path);
        if (prefix != path && (File.Exists(prefix + ".index") || path.EndsWith(".index", StringComparison.Ordinal)) && File.Exists(path))
            return (WeightFormat.TensorFlowCheckpoint, prefix);
        return format == WeightFormat.TensorFlowCheckpoint && File.Exists(path) ? (WeightFormat.TensorFlowCheckpoint, path) : null;
    }

    /// <summary>The checkpoint prefix of <c>model.ckpt</c>, <c>model.ckpt.index</c>, <c>model.ckpt.meta</c> or <c>model.ckpt.data-00000-of-00001</c>.</summary>
    public static string Prefix(string path)
    {
        if (path.EndsWith(".index", StringComparison.Ordinal)) return path[..^".index".Length];
        if (path.EndsWith(".meta", StringComparison.Ordinal)) return path[..^".meta".Length];
        var m = System.Text.RegularExpressions.Regex.Match(path, @"\.data-\d{5}-of-\d{5}$");
        return m.Success ? path[..m.Index] : path;
    }

    /// <summary>The prefix the <c>checkpoint</c> state file names (<c>model_checkpoint_path: "..."</c>), relative to its folder.</summary>
    static string LatestCheckpoint(string dir, string state)
    {
        foreach (var line in File.ReadLines(state))
        {
            var t = line.Trim();
            if (!t.StartsWith("model_checkpoint_path:", StringComparison.Ordinal)) continue;
            var value = t["model_checkpoint_path:".Length..].Trim().Trim('"');
            return Path.IsPathRooted(value) && File.Exists(value + ".index") ? value : Path.Combine(dir, Path.GetFileName(value));
        }
        throw new LstmPortException(ErrorIds.CorruptFile,
            $"'{state}' names no model_checkpoint_path; expected a TensorFlow checkpoint state file.", state);
    }
}
