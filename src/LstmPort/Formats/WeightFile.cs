namespace LstmPort.Formats;

/// <summary>
/// What a reader found in one file: tensors in layer order, warnings for the user, the errors of
/// layers or tensors that could not be read or understood (those are left out and the rest is
/// still here), and notes on what was left out on purpose (optimizer state, counters, non-tensor
/// entries), which the cmdlets write as verbose lines.
/// </summary>
public sealed class WeightFile(string path, WeightFormat format, IReadOnlyList<LstmTensor> tensors, IReadOnlyList<string>? warnings = null,
    IReadOnlyList<LstmPortException>? errors = null, IReadOnlyList<string>? notes = null)
{
    public IReadOnlyList<string> Notes { get; } = notes ?? [];
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
