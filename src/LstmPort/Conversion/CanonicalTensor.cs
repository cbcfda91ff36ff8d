using static TorchSharp.torch;
using LstmPort.Runtime;

namespace LstmPort.Conversion;

/// <summary>
/// One tensor of a <see cref="CanonicalLayer"/>: shape and dtype now, data on demand. A mapping
/// builds it from a source tensor (<see cref="Of"/>) and rearranges it lazily (<see cref="Map"/>);
/// nothing is computed until the layer's target tensors are read, and each read frees what it
/// made on the way, so converting a large model holds about one tensor at a time.
/// </summary>
public sealed class CanonicalTensor
{
    readonly Func<TensorLease> _borrow;

    CanonicalTensor(int[] shape, string dtype, string? source, Func<TensorLease> borrow)
    {
        Shape = shape;
        DType = dtype;
        Source = source;
        _borrow = borrow;
    }

    public int[] Shape { get; }
    public string DType { get; }
    /// <summary>The file the data comes from, if any.</summary>
    public string? Source { get; }

    /// <summary>A source tensor as it is (read from its file when borrowed, unless already loaded).</summary>
    public static CanonicalTensor Of(LstmTensor t) => new(t.Shape, t.DType, t.Source, t.Borrow);

    /// <summary>A new tensor of this shape and dtype, made when borrowed (zeros for an absent bias, say).</summary>
    public static CanonicalTensor Make(int[] shape, string dtype, string? source, Func<Tensor> make) =>
        new(shape, dtype, source, () =>
        {
            using var scope = NewDisposeScope();
            return Owned(make());
        });

    /// <summary>This tensor rearranged by <paramref name="compute"/> (a transpose, a gate reorder, a split), computed when borrowed.</summary>
    public CanonicalTensor Map(int[] shape, Func<Tensor, Tensor> compute) => new(shape, DType, Source, () =>
    {
        using var lease = _borrow();
        using var scope = NewDisposeScope();
        var result = compute(lease.Tensor);
        // A new handle when the computation is the identity, so releasing the result never frees the source's own tensor.
        if (ReferenceEquals(result, lease.Tensor)) result = result.detach();
        return Owned(result);
    });

    /// <summary>Two tensors of one dtype made into one, computed when borrowed.</summary>
    public static CanonicalTensor Combine(CanonicalTensor a, CanonicalTensor b, int[] shape, Func<Tensor, Tensor, Tensor> compute) =>
        new(shape, a.DType, a.Source ?? b.Source, () =>
        {
            using var x = a._borrow();
            using var y = b._borrow();
            using var scope = NewDisposeScope();
            return Owned(compute(x.Tensor, y.Tensor));
        });

    /// <summary>
    /// Several tensors stacked along a new first dimension, computed when borrowed: each part is
    /// borrowed in turn, <paramref name="fill"/> writes it into its slice (converting the dtype), and it is freed.
    /// </summary>
    public static CanonicalTensor Stack(IReadOnlyList<CanonicalTensor> parts, int[] shape, string dtype, Action<Tensor, Tensor> fill) =>
        new(shape, dtype, parts.Select(p => p.Source).FirstOrDefault(s => s is not null), () =>
        {
            using var scope = NewDisposeScope();
            var result = TensorMemory.Empty(shape.Select(d => (long)d).ToArray(), DTypes.Parse(dtype));
            for (int i = 0; i < parts.Count; i++)
            {
                using var part = parts[i]._borrow();
                using var slice = result[i];
                fill(part.Tensor, slice);
            }
            return Owned(result);
        });

    /// <summary>The data for one use; disposing the lease frees it when it was made for this use.</summary>
    public TensorLease Borrow() => _borrow();

    /// <summary>A loader for an <see cref="LstmTensor"/> marked reloadable: new data on every call.</summary>
    public Func<Tensor> Loader() => () =>
    {
        var lease = _borrow();
        return lease.Owned ? lease.Tensor : lease.Tensor.detach();
    };

    static TensorLease Owned(Tensor t)
    {
        t.DetachFromDisposeScope();
        return new TensorLease(t, owned: true);
    }
}
