using static TorchSharp.torch;

namespace LstmPort.Conversion;

/// <summary>What one layer and direction computed on one input: outputs in input time order, [T,B,n]; final states [B,n].</summary>
internal sealed record LayerOutputs(Tensor Output, Tensor? FinalH, Tensor? FinalC);
