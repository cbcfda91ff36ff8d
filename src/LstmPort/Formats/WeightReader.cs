namespace LstmPort.Formats;

/// <summary>Opens any supported weight file: checks it exists and picks the reader by content.</summary>
public static class WeightReader
{
    static readonly IWeightReader[] Readers = [new SafetensorsReader(), new Torch.TorchFileReader(), new KerasHdf5Reader(), new KerasArchiveReader(),
        new TensorFlow.CheckpointReader(), new TensorFlow.SavedModelReader(), new TensorFlow.FrozenGraphReader()];

    public static WeightFile Read(string path, WeightFormat format = WeightFormat.Auto)
    {
        // TensorFlow checkpoints are named by prefix (model.ckpt, no such file) and SavedModels are
        // directories: both are found by path before the byte sniffing below.
        if (TensorFlow.TfPaths.Locate(path, format) is { } tf)
            return Run(Readers.First(r => r.Format == tf.Format), tf.Path, path);
        if (Directory.Exists(path))
            throw new LstmPortException("PathIsDirectory", ErrorKind.InvalidArgument,
                $"'{path}' is a directory; expected a weight file.", path);
        if (!File.Exists(path))
            throw new LstmPortException("FileNotFound", ErrorKind.ObjectNotFound, $"Cannot find the file '{path}'.", path);

        var head = new byte[64];
        int n;
        using (var f = File.OpenRead(path)) n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n == 0)
            throw new LstmPortException("EmptyFile", ErrorKind.InvalidData, $"'{path}' is empty; expected a weight file.", path);

        var reader = format == WeightFormat.Auto
            ? Readers.FirstOrDefault(r => r.Recognises(head.AsSpan(0, n), path))
            : Readers.FirstOrDefault(r => r.Format == format);
        if (reader is null)
            throw new LstmPortException("UnknownFormat", ErrorKind.InvalidData,
                $"'{path}' is not a weight file LstmPort reads; expected one of: {string.Join(", ", Readers.Select(r => r.Format))}.", path);
        return Run(reader, path, path);
    }

    static WeightFile Run(IWeightReader reader, string readPath, string path)
    {
        try
        {
            return reader.Read(readPath);
        }
        catch (LstmPortException) { throw; }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or FormatException or System.Text.Json.JsonException)
        {
            throw new LstmPortException("CorruptFile", ErrorKind.InvalidData, $"'{path}' is not a valid {reader.Format} file: {e.Message}", path, e);
        }
    }
}
