namespace LstmPort;

/// <summary>What a tensor is within its layer.</summary>
public enum TensorRole
{
    Kernel, RecurrentKernel, Bias, InputBias, RecurrentBias, FusedKernel,
    Weight, ProjectionKernel, Peephole, Embeddings, Other,
    // TF1 GRUCell: candidate/kernel [in+h,h] and candidate/bias [h] (its gates/kernel is a FusedKernel, order RU).
    CandidateKernel, CandidateBias,
}
