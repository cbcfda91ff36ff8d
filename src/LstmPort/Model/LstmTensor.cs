using System.Collections.ObjectModel;
using TorchSharp;
using LstmPort.Runtime;

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

    readonly Func<torch.Tensor> _load;
    readonly bool _reloadable;
    readonly object _gate = new();
    // Kept once read. A failed read is not remembered: the next use reads again (the file may be mended).
    torch.Tensor? _loaded;

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
    }

    /// <summary>Runs the loader; every failure becomes an <see cref="LstmPortException"/> naming this tensor.</summary>
    torch.Tensor Load()
    {
        torch.Tensor t;
        try
        {
            TorchRuntime.EnsureLoaded();
            t = _load();
        }
        catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException))
        {
            throw DataError(e);
        }
        // Owned by this LstmTensor (or the lease), never by a dispose scope the caller happens to be in.
        t.DetachFromDisposeScope();
        var actual = t.shape.Select(d => (int)d).ToArray();
        if (!actual.SequenceEqual(Shape))
        {
            if (_reloadable) t.Dispose();
            throw ErrorIdException.Create(ErrorIds.TensorShapeMismatch,
                $"{Describe()}: the data has shape [{string.Join(",", actual)}], expected [{string.Join(",", Shape)}].", Source ?? Name);
        }
        return t;
    }

    string Describe() => Source is null ? $"'{Name}'" : $"'{Name}' of '{Source}'";

    /// <summary>
    /// The error for a failed read, typed by its ErrorId (see <see cref="ErrorIdException"/>), so that
    /// PowerShell, which names a failing member's error after the exception's type, shows the ErrorId.
    /// </summary>
    LstmPortException DataError(Exception e)
    {
        var (id, what) = e switch
        {
            LstmPortException lp => (lp.ErrorId, lp.Message),
            FileNotFoundException or DirectoryNotFoundException => (ErrorIds.FileNotFound, $"the file is gone ({e.Message})"),
            EndOfStreamException => (ErrorIds.TruncatedFile, $"the file ends inside its data ({e.Message})"),
            IOException or UnauthorizedAccessException => (ErrorIds.FileReadError, e.Message),
            InvalidDataException or FormatException => (ErrorIds.CorruptFile, e.Message),
            _ => (ErrorIds.TensorReadError, e.Message),
        };
        // A reader's own message names the file already; say which tensor too.
        return ErrorIdException.Create(id, $"{Describe()}: cannot read the data: {what}", Source ?? Name, e);
    }

    torch.Tensor Loaded()
    {
        if (_loaded is { } t) return t;
        lock (_gate) return _loaded ??= Load();
    }

    /// <summary>
    /// The data for one use without keeping it: the loaded tensor when there is one, else, for a
    /// tensor whose loader makes new data on every call (a file read, a conversion), a fresh tensor
    /// that disposing the lease frees. Writers and conversions use this so that a large model
    /// passes through memory one tensor at a time.
    /// </summary>
    public TensorLease Borrow() =>
        _loaded is { } t ? new TensorLease(t, owned: false)
        : _reloadable ? new TensorLease(Load(), owned: true)
        : new TensorLease(Loaded(), owned: false);

    /// <summary>
    /// The data borrowed for a write (a tensor read or converted just for this write is freed right
    /// after it), after checking that it holds the dtype it says.
    /// </summary>
    internal TensorLease BorrowForWrite()
    {
        var lease = Borrow();
        var dtype = DTypes.Name(lease.Tensor.dtype);
        if (dtype == DType) return lease;
        lease.Dispose();
        throw new LstmPortException(ErrorIds.TensorSizeMismatch, $"'{Name}' holds {dtype} data but says it is {DType}.", Name);
    }

    /// <summary>Writes the data's bytes, little-endian and row-major, as the safetensors, .pth and HDF5 writers store them.</summary>
    internal void WriteData(Stream output)
    {
        using var lease = BorrowForWrite();
        TensorMemory.Write(lease.Tensor, output.Write);
    }

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

    /// <summary>
    /// The data as a TorchSharp tensor (read on first use and kept). PowerShell turns an exception
    /// in a property getter into $null, so readers verify what they can (checksums, sizes) before
    /// a tensor is emitted, and the methods below report a failed read with its ErrorId.
    /// </summary>
    public torch.Tensor Tensor => Loaded();

    /// <summary>True once the data has been read.</summary>
    public bool IsLoaded => _loaded is not null;

    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>The size of the data in bytes.</summary>
    internal long ByteCount => ElementCount * DTypes.Size(DTypes.Parse(DType));

    public override string ToString() => $"{Name} [{string.Join(",", Shape)}] {DType}";

    // Inspection helpers for scripts. TorchSharp's own members collide with PowerShell's
    // case-insensitive binding (T and t()) and its overload resolution (mul(Tensor)/mul(Scalar)).
    // Each reads the data for this call only (Borrow) unless it is already loaded.

    /// <summary>
    /// The values as a flat array in row-major order: float[] for float32, double[] for float64,
    /// Half[] for float16, float[] for bfloat16 (exact: .NET has no bfloat16), long[], int[], short[],
    /// sbyte[], byte[], bool[] for int64, int32, int16, int8, uint8, bool.
    /// </summary>
    public Array ToArray()
    {
        using var lease = Borrow();
        var t = lease.Tensor;
        if (t.numel() > Array.MaxLength)
            throw ErrorIdException.Create(ErrorIds.TensorTooLarge,
                $"{Describe()} has {t.numel()} values, more than a .NET array holds; slice .Tensor first.", Name);
        using var scope = torch.NewDisposeScope();
        return t.dtype switch
        {
            torch.ScalarType.Float32 => Copy<float>(t),
            torch.ScalarType.Float64 => Copy<double>(t),
            torch.ScalarType.Float16 => Copy<Half>(t),
            torch.ScalarType.BFloat16 => Copy<float>(t.to_type(torch.ScalarType.Float32)),
            torch.ScalarType.Int64 => Copy<long>(t),
            torch.ScalarType.Int32 => Copy<int>(t),
            torch.ScalarType.Int16 => Copy<short>(t),
            torch.ScalarType.Int8 => Copy<sbyte>(t),
            torch.ScalarType.Byte => Copy<byte>(t),
            torch.ScalarType.Bool => Copy<bool>(t),
            var other => throw ErrorIdException.Create(ErrorIds.UnsupportedDType, $"{Describe()} is {other}.", Name),
        };
    }

    static T[] Copy<T>(torch.Tensor t) where T : unmanaged
    {
        var values = new T[t.numel()];
        int at = 0; // in elements: a byte offset would pass int.MaxValue below Array.MaxLength
        TensorMemory.Write(t, chunk =>
        {
            var items = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(chunk);
            items.CopyTo(values.AsSpan(at));
            at += items.Length;
        });
        return values;
    }

    /// <summary>A transposed copy (dimensions reversed, as numpy's .T), with this tensor's name and metadata.</summary>
    public LstmTensor Transpose() => Derive(t => t.permute(Enumerable.Range(0, (int)t.dim()).Reverse().Select(d => (long)d).ToArray()).contiguous());

    /// <summary>A copy with every value multiplied by <paramref name="factor"/>, with this tensor's name and metadata.</summary>
    public LstmTensor Multiply(double factor) => Derive(t => t.mul(factor));

    /// <summary>The sum of all values, accumulated in float64.</summary>
    public double Sum() => Reduce(t => t.sum(type: torch.ScalarType.Float64), empty: 0);

    /// <summary>The mean of all values, accumulated in float64; NaN for an empty tensor.</summary>
    public double Mean() => Reduce(t => t.sum(type: torch.ScalarType.Float64) / t.numel(), empty: double.NaN);

    /// <summary>The smallest value; NaN for an empty tensor.</summary>
    public double Min() => Reduce(t => t.min(), empty: double.NaN);

    /// <summary>The largest value; NaN for an empty tensor.</summary>
    public double Max() => Reduce(t => t.max(), empty: double.NaN);

    double Reduce(Func<torch.Tensor, torch.Tensor> f, double empty)
    {
        using var lease = Borrow();
        if (lease.Tensor.numel() == 0) return empty;
        using var scope = torch.NewDisposeScope();
        return f(lease.Tensor).to_type(torch.ScalarType.Float64).item<double>();
    }

    LstmTensor Derive(Func<torch.Tensor, torch.Tensor> f)
    {
        torch.Tensor result;
        using (var lease = Borrow())
        using (var scope = torch.NewDisposeScope())
            result = f(lease.Tensor).MoveToOuterDisposeScope();
        result.DetachFromDisposeScope();
        return FromTensor(result, Name, Layer, LayerType, Role, Layout, Direction, StackIndex, GateOrder, Units, InputSize, Config, Source);
    }
}
