namespace LstmPort.Conversion;

/// <summary>What a conversion produced: tensors, layers it refused (with the reason), and what it did per layer.</summary>
public sealed class ConversionResult
{
    public List<LstmTensor> Tensors { get; } = [];
    public List<(string Layer, string ErrorId, string Reason)> Refused { get; } = [];
    public List<(string Layer, string Message)> Warnings { get; } = [];
    public List<string> Log { get; } = [];
}
