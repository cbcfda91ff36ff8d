namespace LstmPort;

/// <summary>What kind of layer a tensor belongs to.</summary>
public enum LayerType { LSTM, GRU, SimpleRNN, Dense, Embedding, Other }

/// <summary>What a tensor is within its layer.</summary>
public enum TensorRole
{
    Kernel, RecurrentKernel, Bias, InputBias, RecurrentBias, FusedKernel,
    Weight, ProjectionKernel, Peephole, Embeddings, Other,
    // TF1 GRUCell: candidate/kernel [in+h,h] and candidate/bias [h] (its gates/kernel is a FusedKernel, order RU).
    CandidateKernel, CandidateBias,
}

public enum Direction { Forward, Backward }

/// <summary>Whose conventions a tensor follows: matrix orientation, gate order, bias split.</summary>
public enum Layout { Keras, TensorFlow, Torch, Onnx }

/// <summary>Gate order of the packed gate axis; None for tensors without gates.</summary>
public enum GateOrder { None, IFCO, IJFO, IFGO, IOFC, ZRH, RZN, RU }
