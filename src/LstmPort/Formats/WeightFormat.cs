namespace LstmPort.Formats;

/// <summary>File formats <c>Get-LstmWeights</c> reads. Auto detects from the file's first bytes.</summary>
public enum WeightFormat { Auto, SafeTensors, PyTorch, KerasHdf5, KerasArchive, TensorFlowCheckpoint, SavedModel, FrozenGraph }
