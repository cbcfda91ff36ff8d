namespace LstmPort.Formats;

/// <summary>
/// What a reader found in one file: tensors in layer order, notes for the user, and the errors of
/// tensors that could not be read (damaged data): those are left out and the rest is still here.
/// </summary>
public sealed class WeightFile(string path, WeightFormat format, IReadOnlyList<LstmTensor> tensors, IReadOnlyList<string>? warnings = null,
    IReadOnlyList<LstmPortException>? errors = null)
{
    public string Path { get; } = path;
    public WeightFormat Format { get; } = format;
    public IReadOnlyList<LstmTensor> Tensors { get; } = tensors;
    public IReadOnlyList<string> Warnings { get; } = warnings ?? [];
    public IReadOnlyList<LstmPortException> Errors { get; } = errors ?? [];
}

public interface IWeightReader
{
    WeightFormat Format { get; }
    /// <summary>
    /// How sure this reader is that the file is its format, from 0 (not mine) to 100: the reader
    /// with the highest score reads the file. Containers are looked into (zip entries, HDF5 root),
    /// so two formats in one container kind are told apart by what they hold.
    /// </summary>
    int Probe(FileProbe file);
    WeightFile Read(string path, ReadOptions options);
}
