namespace LstmPort.Frameworks.Torch;

/// <param name="ForgetBias">Overrides the forget_bias of TF1 LSTM cells.</param>
public sealed record TorchConversionOptions(string? StackAs = null, bool AsCell = false, bool Force = false, double? ForgetBias = null);
