using System.Collections.ObjectModel;
using TorchSharp;

namespace LstmPort;

/// <summary>
/// One weight tensor with the metadata needed to interpret it. Immutable; the data is read
/// from its file the first time <see cref="Tensor"/> is used, so listing a large file is cheap.
/// <c>reloadable</c> says the loader makes new data on every call (so <see cref="Borrow"/> may read
/// without keeping); a loader that returns an existing tensor must leave it false.
/// </summary>
public sealed class LstmTensor
{
    static readonly IReadOnlyDictionary<string, object?> NoConfig =
        new ReadOnlyDictionary<string, object?>(new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase));

    readonly Lazy<torch.Tensor> _tensor;
    readonly Func<torch.Tensor> _load;
    readonly bool _reloadable;

    public LstmTensor(
        string name, string layer, LayerType layerType, TensorRole role, Layout layout,
        int[] shape, string dtype, Func<torch.Tensor> load,
        Direction direction = Direction.Forward, int stackIndex = 0, GateOrder gateOrder = GateOrder.None,
        int units = 0, int inputSize = 0, IEnumerable<KeyValuePair<string, object?>>? config = null, string? source = null,
        bool reloadable = false)
    {
        Name = name;
        Layer = layer;
        LayerType = layerType;
        Role = role;
        Layout = layout;
        Shape = (int[])shape.Clone();
        DType = dtype;
        Direction = direction;
        StackIndex = stackIndex;
        GateOrder = gateOrder;
        Units = units;
        InputSize = inputSize;
        Config = config is null ? NoConfig
            : new ReadOnlyDictionary<string, object?>(new Dictionary<string, object?>(config, StringComparer.OrdinalIgnoreCase));
        Source = source;
        _load = load;
        _reloadable = reloadable;
        _tensor = new Lazy<torch.Tensor>(Load);
    }

    torch.Tensor Load()
    {
        TorchRuntime.EnsureLoaded();
        var t = _load();
        // Owned by this LstmTensor (or the lease), never by a dispose scope the caller happens to be in.
        t.DetachFromDisposeScope();
        var actual = t.shape.Select(d => (int)d).ToArray();
        if (!actual.SequenceEqual(Shape))
        {
            if (_reloadable) t.Dispose();
            throw new InvalidDataException($"{Name}: data has shape [{string.Join(",", actual)}], expected [{string.Join(",", Shape)}].");
        }
        return t;
    }

    /// <summary>
    /// The data for one use without keeping it: the loaded tensor when there is one, else, for a
    /// tensor whose loader makes new data on every call (a file read, a conversion), a fresh tensor
    /// that disposing the lease frees. Writers and conversions use this so that a large model
    /// passes through memory one tensor at a time.
    /// </summary>
    public TensorLease Borrow() =>
        _tensor.IsValueCreated || !_reloadable ? new TensorLease(_tensor.Value, owned: false) : new TensorLease(Load(), owned: true);

    /// <summary>Wraps a tensor that is already in memory.</summary>
    public static LstmTensor FromTensor(torch.Tensor tensor, string name, string layer, LayerType layerType,
        TensorRole role, Layout layout, Direction direction = Direction.Forward, int stackIndex = 0,
        GateOrder gateOrder = GateOrder.None, int units = 0, int inputSize = 0,
        IEnumerable<KeyValuePair<string, object?>>? config = null, string? source = null) =>
        new(name, layer, layerType, role, layout, tensor.shape.Select(d => (int)d).ToArray(),
            DTypes.Name(tensor.dtype), () => tensor, direction, stackIndex, gateOrder, units, inputSize, config, source);

    public string Name { get; }
    public string Layer { get; }
    public LayerType LayerType { get; }
    public TensorRole Role { get; }
    public Direction Direction { get; }
    public int StackIndex { get; }
    public Layout Layout { get; }
    public GateOrder GateOrder { get; }
    public int Units { get; }
    public int InputSize { get; }
    public int[] Shape { get; }
    public string DType { get; }
    /// <summary>Layer settings that change the maths (activation, reset_after, forget_bias, ...). Keys are case-insensitive.</summary>
    public IReadOnlyDictionary<string, object?> Config { get; }
    public string? Source { get; }

    /// <summary>The data as a TorchSharp tensor (loaded on first use).</summary>
    public torch.Tensor Tensor => _tensor.Value;

    /// <summary>True once the data has been read.</summary>
    public bool IsLoaded => _tensor.IsValueCreated;

    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>The size of the data in bytes.</summary>
    internal long ByteCount => ElementCount * DTypes.Size(DTypes.Parse(DType));

    public override string ToString() => $"{Name} [{string.Join(",", Shape)}] {DType}";
}

/// <summary>A tensor lent by <see cref="LstmTensor.Borrow"/>; disposing frees it when it was read for this use only.</summary>
public readonly struct TensorLease(torch.Tensor tensor, bool owned) : IDisposable
{
    public torch.Tensor Tensor { get; } = tensor;
    public bool Owned { get; } = owned;
    public void Dispose() { if (Owned) Tensor.Dispose(); }
}
