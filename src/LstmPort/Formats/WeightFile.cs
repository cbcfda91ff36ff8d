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
    /// <summary>True when the file's leading bytes (at least 64, fewer if the file is shorter) belong to this format.</summary>
    bool Recognises(ReadOnlySpan<byte> head, string path);
    WeightFile Read(string path);
}
