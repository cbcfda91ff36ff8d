using TorchSharp;

namespace LstmPort.Tests;

/// <summary>The writers' prefetch: order kept, the reader's error surfaces, nothing held after an early stop.</summary>
public sealed class TensorPrefetchTests
{
    static LstmTensor Reloadable(string name, Func<torch.Tensor> load) =>
        new(name, "m", LayerType.Dense, TensorRole.Weight, Layout.Torch, [2], "float32", load, reloadable: true);

    [Fact]
    public void Lends_every_tensor_in_order_and_frees_each_after_use()
    {
        TorchRuntime.EnsureLoaded();
        var made = new List<torch.Tensor>();
        var tensors = Enumerable.Range(0, 5).Select(i => Reloadable($"t{i}", () =>
        {
            var t = torch.full([2], (float)i);
            lock (made) made.Add(t);
            return t;
        })).ToList();
        var seen = new List<float>();
        foreach (var (t, lease) in TensorPrefetch.Borrow(tensors))
        {
            Assert.Equal($"t{(int)lease.Tensor[0].item<float>()}", t.Name);
            seen.Add(lease.Tensor[0].item<float>());
        }
        Assert.Equal([0f, 1f, 2f, 3f, 4f], seen);
        Assert.All(made, t => Assert.True(t.IsInvalid, "a borrowed tensor was not freed"));
    }

    [Fact]
    public void The_readers_own_error_surfaces_and_the_prepared_tensor_is_freed_when_the_caller_stops()
    {
        TorchRuntime.EnsureLoaded();
        var made = new List<torch.Tensor>();
        torch.Tensor Make() { var t = torch.zeros(2); lock (made) made.Add(t); return t; }
        var failing = new[] { Reloadable("a", Make), Reloadable("b", () => throw new LstmPortException("TruncatedFile", ErrorKind.InvalidData, "cut")) };
        var e = Assert.Throws<LstmPortException>(() => { foreach (var _ in TensorPrefetch.Borrow(failing)) { } });
        Assert.Equal("TruncatedFile", e.ErrorId);

        made.Clear();
        var many = Enumerable.Range(0, 4).Select(i => Reloadable($"t{i}", Make)).ToList();
        foreach (var _ in TensorPrefetch.Borrow(many)) break; // the writer failed after the first tensor
        Assert.Equal(2, made.Count); // the first, and the one being prepared
        Assert.All(made, t => Assert.True(t.IsInvalid));
    }
}
