using LstmPort.Host;
using TorchSharp;

namespace LstmPort.Tests;

/// <summary>Split-LstmBias and Merge-LstmBias: sums preserved, GRU new-gate parts never moved, other tensors untouched.</summary>
public sealed class BiasTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static LstmTensor[] TorchLayer(LayerType type, int units = 4, int input = 3, bool zeroNewGate = false)
    {
        int gates = type == LayerType.LSTM ? 4 : type == LayerType.GRU ? 3 : 1;
        var gen = new torch.Generator(7);
        var order = type == LayerType.GRU ? GateOrder.RZN : type == LayerType.LSTM ? GateOrder.IFGO : GateOrder.None;
        LstmTensor T(torch.Tensor x, string p, TensorRole role) =>
            LstmTensor.FromTensor(x, $"m.{p}_l0", "m", type, role, Layout.Torch, Direction.Forward, 0, order, units, input);
        var bhh = torch.randn([gates * units], generator: gen);
        if (zeroNewGate) bhh.narrow(0, 2 * units, units).zero_();
        return [T(torch.randn([gates * units, input], generator: gen), "weight_ih", TensorRole.Kernel),
                T(torch.randn([gates * units, units], generator: gen), "weight_hh", TensorRole.RecurrentKernel),
                T(torch.randn([gates * units], generator: gen), "bias_ih", TensorRole.InputBias),
                T(bhh, "bias_hh", TensorRole.RecurrentBias)];
    }

    [Theory]
    [InlineData(LayerType.LSTM, 0.3)]
    [InlineData(LayerType.SimpleRNN, 0.0)]
    [InlineData(LayerType.GRU, 0.8)]
    public void Split_moves_the_share_and_keeps_the_sum(LayerType type, double ratio)
    {
        var layer = TorchLayer(type);
        var output = ps.Objects<LstmTensor>("$args[0] | Split-LstmBias -Ratio $args[1]", layer, ratio);
        Assert.Same(layer[0], output[0]);  // weights pass through untouched
        Assert.Same(layer[1], output[1]);
        var sumBefore = layer[2].Tensor + layer[3].Tensor;
        Assert.True((output[2].Tensor + output[3].Tensor).allclose(sumBefore, 1e-6, 1e-6));
        long moved = type == LayerType.GRU ? 8 : sumBefore.shape[0];
        Assert.True(output[2].Tensor.narrow(0, 0, moved).allclose(sumBefore.narrow(0, 0, moved) * ratio, 1e-6, 1e-6));
        if (type == LayerType.GRU) // the new-gate parts stay where they were
        {
            Assert.True(output[2].Tensor.narrow(0, 8, 4).equal(layer[2].Tensor.narrow(0, 8, 4)).all().item<bool>());
            Assert.True(output[3].Tensor.narrow(0, 8, 4).equal(layer[3].Tensor.narrow(0, 8, 4)).all().item<bool>());
        }
        Assert.Equal(layer.Select(t => t.Name), output.Select(t => t.Name));
    }

    [Fact]
    public void Split_rejects_a_ratio_outside_zero_to_one()
    {
        var r = ps.Run("$args[0] | Split-LstmBias -Ratio 1.5", (object)TorchLayer(LayerType.LSTM));
        Assert.Contains("ParameterArgumentValidationError", Assert.Single(r.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void Merge_puts_the_sum_into_bias_ih()
    {
        var layer = TorchLayer(LayerType.LSTM);
        var output = ps.Objects<LstmTensor>("$args[0] | Merge-LstmBias", (object)layer);
        Assert.True(output[2].Tensor.allclose(layer[2].Tensor + layer[3].Tensor, 0, 0));
        Assert.Equal(0f, output[3].Tensor.abs().sum().item<float>());
    }

    [SkippableFact]
    public void Merge_refuses_a_GRU_whose_recurrent_new_gate_bias_is_not_zero()
    {
        var layer = TorchLayer(LayerType.GRU);
        var r = ps.Run("$args[0] | Merge-LstmBias", (object)layer);
        var e = Assert.Single(r.Errors);
        Assert.Equal("CannotMergeGruBias", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("m", e.TargetObject);
        Assert.Equal(layer, r.Output.Select(o => (LstmTensor)o.BaseObject)); // passed on unchanged

        var mergeable = TorchLayer(LayerType.GRU, zeroNewGate: true);
        var merged = ps.Objects<LstmTensor>("$args[0] | Merge-LstmBias", (object)mergeable);
        Assert.True(merged[2].Tensor.allclose(mergeable[2].Tensor + mergeable[3].Tensor, 0, 0));
    }

    [SkippableFact]
    public void Merge_sums_the_halves_of_a_CuDNN_bias()
    {
        var file = Repo.Fixture("textgenrnn-cudnnlstm-weights", "textgenrnn_weights_keras215_cudnn.hdf5");
        var source = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer rnn_1", file);
        var merged = ps.Objects<LstmTensor>("$args[0] | Merge-LstmBias", (object)source.ToArray());
        var before = source.Single(t => t.Role == TensorRole.Bias).Tensor;
        var after = merged.Single(t => t.Role == TensorRole.Bias);
        Assert.Equal([512], after.Shape);
        Assert.True(after.Tensor.allclose(before.narrow(0, 0, 512) + before.narrow(0, 512, 512), 0, 0));
        // Merged or not, the PyTorch conversion computes the same thing.
        var direct = ps.Objects<LstmTensor>("$args[0] | ConvertTo-TorchLayout", (object)source.ToArray());
        var viaMerge = ps.Objects<LstmTensor>("$args[0] | ConvertTo-TorchLayout", (object)merged.ToArray());
        var sumDirect = direct[2].Tensor + direct[3].Tensor;
        Assert.True(sumDirect.allclose(viaMerge[2].Tensor + viaMerge[3].Tensor, 1e-6, 1e-6));
    }
}
