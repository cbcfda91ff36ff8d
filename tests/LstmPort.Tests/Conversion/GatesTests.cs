using static TorchSharp.torch;
using LstmPort.Conversion;

namespace LstmPort.Tests;

/// <summary>Gate orders, counts and reorders, matched by meaning (candidate c = g = j, GRU h = n, TF1 u = z).</summary>
public sealed class GatesTests
{
    [Theory]
    [InlineData(GateOrder.IFCO, GateOrder.IFGO, new[] { 0, 1, 2, 3 })]
    [InlineData(GateOrder.IJFO, GateOrder.IFGO, new[] { 0, 2, 1, 3 })]
    [InlineData(GateOrder.IJFO, GateOrder.IFCO, new[] { 0, 2, 1, 3 })]
    [InlineData(GateOrder.IOFC, GateOrder.IFCO, new[] { 0, 2, 3, 1 })]
    [InlineData(GateOrder.ZRH, GateOrder.RZN, new[] { 1, 0, 2 })]
    [InlineData(GateOrder.RZN, GateOrder.ZRH, new[] { 1, 0, 2 })]
    public void Permutation_gives_the_source_position_of_each_target_gate(GateOrder from, GateOrder to, int[] expected) =>
        Assert.Equal(expected, Gates.Permutation(from, to));

    [Fact]
    public void Orders_of_different_layer_types_do_not_mix()
    {
        Assert.Throws<ArgumentException>(() => Gates.Permutation(GateOrder.IFCO, GateOrder.RZN));
        Assert.Throws<ArgumentException>(() => Gates.Permutation(GateOrder.RU, GateOrder.RZN));
    }

    [Fact]
    public void Keras_IFCO_is_PyTorch_IFGO_so_reordering_returns_the_tensor_itself()
    {
        Assert.True(Gates.SameOrder(GateOrder.IFCO, GateOrder.IFGO));
        Assert.False(Gates.SameOrder(GateOrder.ZRH, GateOrder.RZN));
        var t = arange(8);
        Assert.Same(t, Gates.Reorder(t, 0, GateOrder.IFCO, GateOrder.IFGO));
    }

    [Fact]
    public void Reorder_moves_whole_blocks_along_the_given_dimension()
    {
        // Three gate blocks of two columns, each column holding its block's number.
        var t = tensor(new float[] { 0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2 }).reshape(2, 6);
        var r = Gates.Reorder(t, 1, GateOrder.ZRH, GateOrder.RZN);
        Assert.Equal(new float[] { 1, 1, 0, 0, 2, 2, 1, 1, 0, 0, 2, 2 }, r.data<float>().ToArray());
        var rows = Gates.Reorder(t.t(), 0, GateOrder.ZRH, GateOrder.RZN);
        Assert.True(rows.eq(r.t()).all().item<bool>());
    }

    [Theory]
    [InlineData(LayerType.LSTM, 4, GateOrder.IFCO, GateOrder.IFGO, GateOrder.IJFO)]
    [InlineData(LayerType.GRU, 3, GateOrder.ZRH, GateOrder.RZN, GateOrder.RU)]
    [InlineData(LayerType.SimpleRNN, 1, GateOrder.None, GateOrder.None, GateOrder.None)]
    public void Each_framework_has_its_order_and_the_canonical_one_is_PyTorchs(LayerType type, int count, GateOrder keras, GateOrder torch, GateOrder tf1)
    {
        Assert.Equal(count, Gates.Count(type));
        Assert.Equal(count, Gates.Blocks(type));
        Assert.Equal(keras, Gates.KerasOrder(type));
        Assert.Equal(torch, Gates.TorchOrder(type));
        Assert.Equal(tf1, Gates.Tf1Order(type));
        Assert.Equal(torch, Gates.Canonical(type));
    }

    [Fact]
    public void Dense_has_one_block_and_no_gates()
    {
        Assert.Equal(1, Gates.Blocks(LayerType.Dense));
        Assert.Throws<ArgumentException>(() => Gates.Count(LayerType.Dense));
    }
}
