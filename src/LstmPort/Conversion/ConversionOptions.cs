namespace LstmPort.Conversion;

/// <summary>
/// What the user asked of a conversion. <paramref name="StackAs"/>: PyTorch target, the recurrent
/// layers become depths of one module of this name. <paramref name="AsCell"/>: PyTorch target,
/// LSTMCell/GRUCell/RNNCell names. <paramref name="Force"/>: write what the target cannot compute
/// exactly, with a warning, instead of refusing. <paramref name="ForgetBias"/>: the TF1 forget_bias
/// to fold, overriding what was read or assumed.
/// </summary>
public sealed record ConversionOptions(string? StackAs = null, bool AsCell = false, bool Force = false, double? ForgetBias = null)
{
    public static ConversionOptions Default { get; } = new();
}
