using static TorchSharp.torch;
using LstmPort.Conversion;

namespace LstmPort.Tests;

/// <summary>
/// The canonical form and each framework's mapping to and from it, with small tensors whose values
/// say where they came from: no files, no Python. Expected matrices are built here by hand
/// (transpose and gate blocks), independently of <see cref="Gates"/>.
/// </summary>
public sealed class CanonicalFormTests
{
    const int In = 3, H = 2;

    /// <summary>Distinct values 1..n in the given shape, so any misplaced element shows.</summary>
    static Tensor Values(params long[] shape) => arange(1, shape.Aggregate(1L, (a, d) => a * d) + 1, dtype: ScalarType.Float32).reshape(shape);

    static LstmTensor Keras(Tensor t, string name, LayerType type, TensorRole role, GateOrder order, Dictionary<string, object?>? config = null,
        string layer = "rnn", Direction direction = Direction.Forward) =>
        LstmTensor.FromTensor(t, $"{layer}/{name}:0", layer, type, role, Layout.Keras, direction, 0, order, H, In, config);

    static LstmTensor Torch(Tensor t, string name, LayerType type, TensorRole role, int depth = 0, string layer = "rnn") =>
        LstmTensor.FromTensor(t, $"{layer}.{name}_l{depth}", layer, type, role, Layout.Torch, Direction.Forward, depth, Gates.TorchOrder(type), H, In);

    static CanonicalLayer ToCanonical(IEnumerable<LstmTensor> tensors, ConversionOptions? options = null)
    {
        var g = LayerGroup.Group(tensors).Single();
        return Mapping(g.Layout).ToCanonical(g, options ?? ConversionOptions.Default);
    }

    static IToCanonical Mapping(Layout layout) => LayoutMappings.Source(layout)!;

    static Tensor Read(CanonicalTensor t)
    {
        using var lease = t.Borrow();
        return lease.Tensor.clone();
    }

    /// <summary>Gate blocks of rows (dim 0) in the given order of source positions.</summary>
    static Tensor Blocks(Tensor t, params int[] order) => cat(order.Select(i => t.chunk(order.Length, 0)[i]).ToList(), 0);

    static void Same(Tensor expected, Tensor actual) =>
        Assert.True(expected.shape.SequenceEqual(actual.shape) && expected.eq(actual).all().item<bool>(),
            $"expected {expected.ToString(TorchSharp.TensorStringStyle.Numpy)}, got {actual.ToString(TorchSharp.TensorStringStyle.Numpy)}");

    [Fact]
    public void Keras_LSTM_is_transposed_and_keeps_its_one_bias_as_the_input_bias()
    {
        var k = Values(In, 4 * H); var r = Values(H, 4 * H); var b = Values(4 * H);
        var c = ToCanonical([Keras(k, "kernel", LayerType.LSTM, TensorRole.Kernel, GateOrder.IFCO), Keras(r, "recurrent_kernel", LayerType.LSTM, TensorRole.RecurrentKernel, GateOrder.IFCO),
            Keras(b, "bias", LayerType.LSTM, TensorRole.Bias, GateOrder.IFCO)]);
        Assert.Equal(GateOrder.IFGO, c.GateOrder);
        Same(k.t(), Read(c.WeightIh!)); // Keras i,f,c,o is i,f,g,o
        Same(r.t(), Read(c.WeightHh!));
        Same(b, Read(c.BiasIh!));
        Assert.Null(c.BiasHh);
        Assert.True(c.SourceFromRight);
    }

    [Fact]
    public void Keras_GRU_gates_z_r_h_become_r_z_n_and_the_two_halves_of_its_bias_stay_apart()
    {
        var k = Values(In, 3 * H); var r = Values(H, 3 * H); var b = Values(2, 3 * H);
        var c = ToCanonical([Keras(k, "kernel", LayerType.GRU, TensorRole.Kernel, GateOrder.ZRH), Keras(r, "recurrent_kernel", LayerType.GRU, TensorRole.RecurrentKernel, GateOrder.ZRH),
            Keras(b, "bias", LayerType.GRU, TensorRole.Bias, GateOrder.ZRH)]);
        Same(Blocks(k.t(), 1, 0, 2), Read(c.WeightIh!));
        Same(Blocks(r.t(), 1, 0, 2), Read(c.WeightHh!));
        Same(Blocks(b[0], 1, 0, 2), Read(c.BiasIh!));
        Same(Blocks(b[1], 1, 0, 2), Read(c.BiasHh!));
        Assert.True(c.Flag(ConfigKeys.ResetAfter)); // a [2,3h] bias is reset_after=True's
    }

    [Fact]
    public void A_Keras_GRU_with_one_bias_resets_before_the_matmul_and_PyTorch_refuses_it_unless_forced()
    {
        var tensors = new[] { Keras(Values(In, 3 * H), "kernel", LayerType.GRU, TensorRole.Kernel, GateOrder.ZRH),
            Keras(Values(H, 3 * H), "recurrent_kernel", LayerType.GRU, TensorRole.RecurrentKernel, GateOrder.ZRH), Keras(Values(3 * H), "bias", LayerType.GRU, TensorRole.Bias, GateOrder.ZRH) };
        Assert.False(ToCanonical(tensors).Flag(ConfigKeys.ResetAfter));
        var refused = LayoutConverter.Convert(tensors, Layout.Torch, ConversionOptions.Default);
        Assert.Empty(refused.Tensors);
        Assert.Equal(ErrorIds.NotTorchPortable, Assert.Single(refused.Refused).ErrorId);
        Assert.Contains("reset_after=False", refused.Refused[0].Reason);
        var forced = LayoutConverter.Convert(tensors, Layout.Torch, new ConversionOptions(Force: true));
        Assert.Equal(4, forced.Tensors.Count);
        Assert.Contains("reset_after=False", Assert.Single(forced.Warnings).Message);
    }

    [Fact]
    public void CuDNN_kernels_and_their_two_bias_halves_reach_the_standard_form()
    {
        // CuDNN stores each gate's input kernel as the bytes of a [h,in] matrix in a [in,h] slot.
        var k = Values(In, 4 * H); var r = Values(H, 4 * H); var b = Values(8 * H);
        var cudnn = new Dictionary<string, object?> { [ConfigKeys.Cudnn] = true };
        var c = ToCanonical([Keras(k, "kernel", LayerType.LSTM, TensorRole.Kernel, GateOrder.IFCO, cudnn), Keras(r, "recurrent_kernel", LayerType.LSTM, TensorRole.RecurrentKernel, GateOrder.IFCO, cudnn),
            Keras(b, "bias", LayerType.LSTM, TensorRole.Bias, GateOrder.IFCO, cudnn)]);
        var expectedIh = cat(k.chunk(4, 1).Select(g => g.contiguous().view(H, In)).ToList(), 0);
        var expectedHh = cat(r.chunk(4, 1).ToList(), 0);
        Same(expectedIh, Read(c.WeightIh!));
        Same(expectedHh, Read(c.WeightHh!));
        Same(b[..(4 * H)], Read(c.BiasIh!));
        Same(b[(4 * H)..], Read(c.BiasHh!));
        Assert.False(c.Settings.ContainsKey(ConfigKeys.Cudnn));
        Assert.Equal("sigmoid", c.Text(ConfigKeys.RecurrentActivation));
    }

    [Fact]
    public void A_TF1_LSTM_cell_is_split_reordered_and_its_forget_bias_folded()
    {
        var fused = Values(In + H, 4 * H); var b = Values(4 * H);
        LstmTensor T(Tensor t, string name, TensorRole role) => LstmTensor.FromTensor(t, $"rnn/lstm_cell/{name}", "rnn", LayerType.LSTM, role, Layout.TensorFlow,
            gateOrder: GateOrder.IJFO, units: H, inputSize: In, config: new Dictionary<string, object?> { [ConfigKeys.ForgetBias] = 1.0 });
        var c = ToCanonical([T(fused, "kernel", TensorRole.FusedKernel), T(b, "bias", TensorRole.Bias)]);
        // i,j,f,o → i,f,g,o: source blocks 0,2,1,3.
        Same(Blocks(fused[..In].t(), 0, 2, 1, 3), Read(c.WeightIh!));
        Same(Blocks(fused[In..].t(), 0, 2, 1, 3), Read(c.WeightHh!));
        var expectedBias = Blocks(b, 0, 2, 1, 3).clone();
        expectedBias[H..(2 * H)] += 1.0f;
        Same(expectedBias, Read(c.BiasIh!));
        Assert.Null(c.BiasHh);
        // -ForgetBias overrides what was read.
        var overridden = ToCanonical([T(fused, "kernel", TensorRole.FusedKernel), T(b, "bias", TensorRole.Bias)], new ConversionOptions(ForgetBias: 0.0));
        Same(Blocks(b, 0, 2, 1, 3), Read(overridden.BiasIh!));
    }

    [Fact]
    public void A_TF1_GRU_cell_is_a_GRU_that_resets_before_the_matmul()
    {
        var gates = Values(In + H, 2 * H); var cand = Values(In + H, H); var gb = Values(2 * H); var cb = Values(H);
        LstmTensor T(Tensor t, string name, TensorRole role) => LstmTensor.FromTensor(t, $"rnn/gru_cell/{name}", "rnn", LayerType.GRU, role, Layout.TensorFlow, units: H, inputSize: In);
        var c = ToCanonical([T(gates, "gates/kernel", TensorRole.FusedKernel), T(gb, "gates/bias", TensorRole.Bias),
            T(cand, "candidate/kernel", TensorRole.CandidateKernel), T(cb, "candidate/bias", TensorRole.CandidateBias)]);
        Same(cat([gates[..In], cand[..In]], 1).t(), Read(c.WeightIh!)); // r | u | candidate = r, z, n
        Same(cat([gates[In..], cand[In..]], 1).t(), Read(c.WeightHh!));
        Same(cat([gb, cb]), Read(c.BiasIh!));
        Assert.False(c.Flag(ConfigKeys.ResetAfter));
    }

    [Fact]
    public void PyTorch_tensors_are_the_canonical_form_as_they_are()
    {
        var ih = Values(4 * H, In); var hh = Values(4 * H, H); var bih = Values(4 * H); var bhh = Values(4 * H) * 10;
        var c = ToCanonical([Torch(ih, "weight_ih", LayerType.LSTM, TensorRole.Kernel), Torch(hh, "weight_hh", LayerType.LSTM, TensorRole.RecurrentKernel),
            Torch(bih, "bias_ih", LayerType.LSTM, TensorRole.InputBias), Torch(bhh, "bias_hh", LayerType.LSTM, TensorRole.RecurrentBias)]);
        Same(ih, Read(c.WeightIh!));
        Same(hh, Read(c.WeightHh!));
        Same(bih, Read(c.BiasIh!));
        Same(bhh, Read(c.BiasHh!));
        Assert.False(c.SourceFromRight);
    }

    [Fact]
    public void PyTorch_to_Keras_sums_an_LSTMs_biases_and_keeps_a_GRUs_apart()
    {
        var lstm = LayoutConverter.Convert([Torch(Values(4 * H, In), "weight_ih", LayerType.LSTM, TensorRole.Kernel), Torch(Values(4 * H, H), "weight_hh", LayerType.LSTM, TensorRole.RecurrentKernel),
            Torch(Values(4 * H), "bias_ih", LayerType.LSTM, TensorRole.InputBias), Torch(Values(4 * H) * 10, "bias_hh", LayerType.LSTM, TensorRole.RecurrentBias)], Layout.Keras, ConversionOptions.Default);
        Assert.Equal(["rnn/lstm_cell/kernel:0", "rnn/lstm_cell/recurrent_kernel:0", "rnn/lstm_cell/bias:0"], lstm.Tensors.Select(t => t.Name));
        Same(Values(4 * H) * 11, lstm.Tensors[2].Tensor);
        Same(Values(4 * H, In).t(), lstm.Tensors[0].Tensor);

        var gru = LayoutConverter.Convert([Torch(Values(3 * H, In), "weight_ih", LayerType.GRU, TensorRole.Kernel), Torch(Values(3 * H, H), "weight_hh", LayerType.GRU, TensorRole.RecurrentKernel),
            Torch(Values(3 * H), "bias_ih", LayerType.GRU, TensorRole.InputBias), Torch(Values(3 * H) * 10, "bias_hh", LayerType.GRU, TensorRole.RecurrentBias)], Layout.Keras, ConversionOptions.Default);
        Same(stack([Blocks(Values(3 * H), 1, 0, 2), Blocks(Values(3 * H) * 10, 1, 0, 2)]), gru.Tensors[2].Tensor);
        Same(Blocks(Values(3 * H, In), 1, 0, 2).t(), gru.Tensors[0].Tensor);
        Assert.Equal(true, gru.Tensors[0].Config[ConfigKeys.ResetAfter]);
    }

    [Fact]
    public void Each_depth_of_a_PyTorch_module_becomes_its_own_Keras_layer_and_a_projection_is_refused()
    {
        var tensors = new List<LstmTensor>();
        foreach (var depth in new[] { 0, 1 })
            tensors.AddRange([Torch(Values(4 * H, depth == 0 ? In : H), "weight_ih", LayerType.LSTM, TensorRole.Kernel, depth), Torch(Values(4 * H, H), "weight_hh", LayerType.LSTM, TensorRole.RecurrentKernel, depth)]);
        var r = LayoutConverter.Convert(tensors, Layout.Keras, ConversionOptions.Default);
        Assert.Equal(["rnn", "rnn", "rnn_1", "rnn_1"], r.Tensors.Select(t => t.Layer));
        Assert.Equal(true, r.Tensors[0].Config[ConfigKeys.ReturnSequences]); // depth 0 feeds depth 1
        Assert.Equal(false, r.Tensors[0].Config[ConfigKeys.UseBias]);

        var projected = LayoutConverter.Convert([Torch(Values(4 * H, In), "weight_ih", LayerType.LSTM, TensorRole.Kernel), Torch(Values(4 * H, 1), "weight_hh", LayerType.LSTM, TensorRole.RecurrentKernel),
            Torch(Values(1, H), "weight_hr", LayerType.LSTM, TensorRole.ProjectionKernel)], Layout.Keras, ConversionOptions.Default);
        Assert.Equal(ErrorIds.NotKerasPortable, Assert.Single(projected.Refused).ErrorId);
        Assert.Contains("projection", projected.Refused[0].Reason);
    }

    [Theory]
    [InlineData(LayerType.LSTM, "IFCO", 4, 1)]
    [InlineData(LayerType.GRU, "ZRH", 3, 2)]
    [InlineData(LayerType.GRU, "ZRH", 3, 1)]
    [InlineData(LayerType.SimpleRNN, "None", 1, 1)]
    public void Keras_to_PyTorch_to_Keras_gives_back_the_same_values(LayerType type, string order, int gates, int biasRows)
    {
        var o = Enum.Parse<GateOrder>(order);
        var bias = biasRows == 2 ? Values(2, gates * H) : Values(gates * H);
        var keras = new[] { Keras(Values(In, gates * H), "kernel", type, TensorRole.Kernel, o), Keras(Values(H, gates * H) * 100, "recurrent_kernel", type, TensorRole.RecurrentKernel, o),
            Keras(bias * 1000, "bias", type, TensorRole.Bias, o) };
        var torch = LayoutConverter.Convert(keras, Layout.Torch, new ConversionOptions(Force: true)).Tensors;
        var back = LayoutConverter.Convert(torch, Layout.Keras, ConversionOptions.Default).Tensors;
        Same(keras[0].Tensor, back[0].Tensor);
        Same(keras[1].Tensor, back[1].Tensor);
        // A reset-before GRU's one bias comes back as reset_after=True's [2,3h] with a zero recurrent half: the same maths for the gates PyTorch ran.
        Same(biasRows == 1 && type == LayerType.GRU ? stack([bias * 1000, zeros(gates * H)]) : bias * 1000, back[2].Tensor);
    }

    [Fact]
    public void Converting_reads_nothing_until_the_converted_tensors_are_used()
    {
        int reads = 0;
        LstmTensor Lazy(Tensor t, string name, TensorRole role) => new($"rnn/{name}:0", "rnn", LayerType.LSTM, role, Layout.Keras,
            t.shape.Select(d => (int)d).ToArray(), "float32", () => { reads++; return t.clone(); }, gateOrder: GateOrder.IFCO, units: H, inputSize: In, reloadable: true);
        var k = Values(In, 4 * H);
        var r = LayoutConverter.Convert([Lazy(k, "kernel", TensorRole.Kernel), Lazy(Values(H, 4 * H), "recurrent_kernel", TensorRole.RecurrentKernel)], Layout.Torch, ConversionOptions.Default);
        Assert.Equal(0, reads);
        Same(k.t(), r.Tensors[0].Tensor);
        Assert.Equal(1, reads);
        Same(zeros(4 * H), r.Tensors[2].Tensor); // no bias: zeros, made without reading anything
        Assert.Equal(1, reads);
    }

    [Fact]
    public void A_layout_without_a_mapping_is_refused_per_layer_and_the_rest_converted()
    {
        var odd = LstmTensor.FromTensor(zeros(2), "x", "x", LayerType.LSTM, TensorRole.Kernel, (Layout)99);
        var good = Keras(Values(In, H), "kernel", LayerType.Dense, TensorRole.Kernel, GateOrder.None, layer: "dense");
        var r = LayoutConverter.Convert([odd, good], Layout.Torch, ConversionOptions.Default);
        Assert.Equal(ErrorIds.UnsupportedLayout, Assert.Single(r.Refused).ErrorId);
        Assert.Equal("dense.weight", Assert.Single(r.Tensors).Name);
        Same(Values(In, H).t(), r.Tensors[0].Tensor);
    }
}
