namespace LstmPort;

/// <summary>
/// Keys of <see cref="LstmTensor.Config"/>: the layer settings that change the maths. Readers fill
/// what the file says (Keras spellings and values, e.g. "tanh", "hard_sigmoid"); conversions and
/// the equivalence check read them. Every tensor of a layer carries the same Config.
/// </summary>
public static class ConfigKeys
{
    public const string Activation = "activation";                   // string: tanh, relu, sigmoid, linear, softsign, ...
    public const string RecurrentActivation = "recurrent_activation"; // string: sigmoid, hard_sigmoid, ...
    /// <summary>Which hard_sigmoid: "keras2" = clip(0.2x+0.5) (Keras 1/2, tf.keras), "keras3" = clip(x/6+0.5).</summary>
    public const string HardSigmoid = "hard_sigmoid";
    public const string UseBias = "use_bias";                         // bool
    public const string ResetAfter = "reset_after";                   // bool (GRU)
    public const string GoBackwards = "go_backwards";                 // bool
    public const string ReturnSequences = "return_sequences";         // bool
    public const string Stateful = "stateful";                        // bool
    public const string MergeMode = "merge_mode";                     // string (Bidirectional): concat, sum, mul, ave, null
    public const string Cudnn = "cudnn";                              // bool: CuDNNLSTM / CuDNNGRU weights
    public const string ForgetBias = "forget_bias";                   // double (TF1 cells; added at run time)
    public const string CellClip = "cell_clip";                       // double (TF1 LSTMCell)
    public const string UsePeepholes = "use_peepholes";               // bool (TF1 LSTMCell)
    public const string NumProj = "num_proj";                         // int (TF1 LSTMCell projection)
    public const string KerasVersion = "keras_version";               // string, as the file records it
    public const string Backend = "backend";                          // string: tensorflow, theano, cntk
    // ONNX LSTM/GRU/RNN operator attributes (https://onnx.ai/onnx/operators/), as the Onnx layout's Config holds them.
    public const string HiddenSize = "hidden_size";                   // int
    /// <summary>string: forward, reverse or bidirectional (an Onnx-layout tensor holds every direction along its first dimension).</summary>
    public const string Direction = "direction";
    public const string OnnxLayout = "layout";                        // int: 0 = [T,B,in], 1 = [B,T,in] (run-time only)
    public const string Activations = "activations";                  // string[]: ONNX names, per direction (f, g, h for LSTM)
    public const string ActivationAlpha = "activation_alpha";         // double[]
    public const string ActivationBeta = "activation_beta";           // double[]
    public const string Clip = "clip";                                // double: cell clip threshold (ONNX)
    public const string InputForget = "input_forget";                 // bool: LSTM couples input and forget gates
    public const string LinearBeforeReset = "linear_before_reset";    // bool: GRU (true = PyTorch, Keras reset_after=True)
    /// <summary>string[]: keys whose values were inferred (weights-only files), not read from a config.</summary>
    public const string Inferred = "inferred";
}
