using static TorchSharp.torch;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Keras 2's CuDNNLSTM/CuDNNGRU store each gate's matrices in cuDNN's order. tf-keras's h5 loader
/// (<c>_convert_rnn_weights</c>) brings them to the plain LSTM/GRU layout: per gate, the input
/// kernel <c>k [in,h]</c> becomes <c>k.T.reshape((in,h), order='F')</c> — the same as reading k's
/// bytes as <c>[h,in]</c> and transposing — and the recurrent kernel is transposed.
/// </summary>
public static class CudnnKernels
{
    public static Tensor StandardKernel(Tensor kernel, int gates, int units, int inputSize) =>
        cat(kernel.chunk(gates, 1).Select(k => k.contiguous().view(units, inputSize).t()).ToList(), 1);

    public static Tensor StandardRecurrentKernel(Tensor recurrent, int gates) =>
        cat(recurrent.chunk(gates, 1).Select(k => k.t()).ToList(), 1);
}
