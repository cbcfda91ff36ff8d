namespace LstmPort.Formats;

/// <summary>
/// File formats <c>Get-LstmWeights</c> reads and <c>Export-LstmWeights</c> writes. Auto detects from
/// the file's content (and, for TensorFlow checkpoints and SavedModels, its path).
/// KerasWeights is Keras 3's <c>.weights.h5</c> (<c>layers/&lt;name&gt;/vars/0..n</c>); TorchScript is a
/// <c>torch.jit.save</c> archive; Onnx an ONNX model (<c>.onnx</c>).
/// </summary>
public enum WeightFormat { Auto, SafeTensors, PyTorch, KerasHdf5, KerasArchive, TensorFlowCheckpoint, SavedModel, FrozenGraph, KerasWeights, TorchScript, Onnx }
