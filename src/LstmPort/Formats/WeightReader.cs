using LstmPort.Frameworks.Keras;
using LstmPort.Frameworks.Onnx;
using LstmPort.Frameworks.TensorFlow;
using LstmPort.Frameworks.Torch;

namespace LstmPort.Formats;

/// <summary>
/// Opens any supported weight file: checks it exists and picks the reader by probing its content
/// (TensorFlow checkpoints and SavedModels, which are prefixes and folders, by their paths first).
/// </summary>
public static class WeightReader
{
    static readonly IWeightReader[] Readers = [new SafetensorsReader(), new TorchFileReader(), new TorchScriptReader(), new KerasHdf5Reader(), new KerasArchiveReader(),
        new KerasWeightsReader(), new CheckpointReader(), new SavedModelReader(), new FrozenGraphReader(), new OnnxReader()];

    public static WeightFile Read(string path, WeightFormat format = WeightFormat.Auto, ReadOptions? options = null)
    {
        options ??= ReadOptions.Default;
        // TensorFlow checkpoints are named by prefix (model.ckpt, no such file) and SavedModels are
        // directories: both are found by path before the probing below.
        if (TfPaths.Locate(path, format) is { } tf)
            return Run(Readers.First(r => r.Format == tf.Format), tf.Path, path, options);
        if (Directory.Exists(path))
            throw new LstmPortException(ErrorIds.PathIsDirectory,
                $"'{path}' is a directory; expected a weight file.", path);
        if (!File.Exists(path))
            throw new LstmPortException(ErrorIds.FileNotFound, $"Cannot find the file '{path}'.", path);

        var probe = new FileProbe(path);
        if (probe.Length == 0)
            throw new LstmPortException(ErrorIds.EmptyFile, $"'{path}' is empty; expected a weight file.", path);

        var reader = format == WeightFormat.Auto ? Detect(probe) : Readers.FirstOrDefault(r => r.Format == format);
        if (reader is null)
            throw new LstmPortException(ErrorIds.UnknownFormat,
                $"'{path}' is not a weight file LstmPort reads; expected one of: {string.Join(", ", Readers.Select(r => r.Format))}.", path);
        return Run(reader, path, path, options);
    }

    /// <summary>The reader that is surest the file is its format, or null when none claims it.</summary>
    static IWeightReader? Detect(FileProbe probe) =>
        Readers.Select(r => (Reader: r, Score: r.Probe(probe))).Where(x => x.Score > 0)
            .OrderByDescending(x => x.Score).Select(x => x.Reader).FirstOrDefault();

    /// <summary>The format a file is detected as (TensorFlow checkpoints and SavedModels by their paths), or null.</summary>
    public static WeightFormat? DetectFormat(string path)
    {
        if (TfPaths.Locate(path, WeightFormat.Auto) is { } tf) return tf.Format;
        if (!File.Exists(path)) return null;
        var probe = new FileProbe(path);
        return probe.Length == 0 ? null : Detect(probe)?.Format;
    }

    static WeightFile Run(IWeightReader reader, string readPath, string path, ReadOptions options)
    {
        try
        {
            var file = reader.Read(readPath, options);
            // Only Keras weights files take a model config; say so rather than ignore -Config silently.
            if (options.Config is not null && reader.Format is not (WeightFormat.KerasHdf5 or WeightFormat.KerasArchive or WeightFormat.KerasWeights))
                file = new WeightFile(file.Path, file.Format, file.Tensors,
                    [.. file.Warnings, $"-Config '{options.Config}' is not used: a model config is read for Keras weights files only, and this is a {reader.Format} file."],
                    file.Errors, file.Notes);
            return file;
        }
        catch (LstmPortException) { throw; }
        // The reader's boundary: whatever a damaged file makes a parser or library throw (PureHDF's
        // System.Exception on a broken object header, an index out of range, ...) is this file's
        // CorruptFile, never a raw exception; so is an allocation sized from a corrupt header that the
        // runtime refuses (OutOfMemoryException). I/O failures are the caller's FileReadError.
        catch (Exception e) when (e is EndOfStreamException or IOException { TargetSite.Name: "Seek" or "SeekCore" } // a seek before the start: an address from the file
            or not (IOException or UnauthorizedAccessException or InsufficientExecutionStackException or OperationCanceledException))
        {
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a valid {reader.Format} file: {e.Message}", path, e);
        }
    }
}
