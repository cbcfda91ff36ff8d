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

/// <summary>A large reorder takes pooled memory (libtorch's allocator gave fresh pages, faulted in one by one, for every tensor).</summary>
[Collection(nameof(TensorPoolTests))]
public sealed class GatesPoolTests
{
    [Fact]
    public void A_large_reorder_is_written_into_pooled_memory_with_the_blocks_moved()
    {
        TensorPoolTests.EmptyPool();
        long h = 1024, input = 512; // [4h, input] float32 = 8 MiB
        using var source = arange(4 * h * input, ScalarType.Float32).reshape(4 * h, input);
        using (var scope = NewDisposeScope()) // the views below hold the block too
        {
            var r = Gates.Reorder(source, 0, GateOrder.IOFC, GateOrder.IFGO);
            // IOFC to IFGO: target blocks i, f, g, o come from source blocks 0, 2, 3, 1.
            foreach (var (target, from) in new[] { (0, 0), (1, 2), (2, 3), (3, 1) })
                Assert.True(r.narrow(0, target * h, h).equal(source.narrow(0, from * h, h)).all().item<bool>());
        }
        Assert.True(LstmPort.Runtime.TensorPool.FreeBytes >= 4 * h * input * 4, "the reorder's memory did not come back to the pool");
        LstmPort.Runtime.TensorPool.Trim();
    }

    [Fact]
    public void CopyInOrder_converts_the_dtype_into_the_target()
    {
        using var source = tensor(new double[] { 0, 1, 2, 3, 4, 5 });
        using var target = empty(6, ScalarType.Float32);
        Gates.CopyInOrder(source, target, 0, GateOrder.ZRH, GateOrder.RZN);
        Assert.Equal(new float[] { 2, 3, 0, 1, 4, 5 }, target.data<float>().ToArray());
        Gates.CopyInOrder(source, target, 0, GateOrder.None, GateOrder.None);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, target.data<float>().ToArray());
    }
}
