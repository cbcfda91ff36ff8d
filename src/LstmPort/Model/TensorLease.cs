using TorchSharp;

namespace LstmPort;

/// <summary>A tensor lent by <see cref="LstmTensor.Borrow"/>; disposing frees it when it was read for this use only.</summary>
public readonly struct TensorLease(torch.Tensor tensor, bool owned) : IDisposable
{
    public torch.Tensor Tensor { get; } = tensor;
    public bool Owned { get; } = owned;
    public void Dispose() { if (Owned) Tensor.Dispose(); }
}
