using System.Globalization;
using TorchSharp;

namespace LstmPort;

/// <summary>
/// Short text for showing a tensor: its shape, dtype and first few values
/// (<c>Shape [16,3]  DType float32  Values 0.1, 0.2, ... (48 values)</c>). The format file's views
/// call it. It never copies a whole tensor: the first values come from views of the leading rows,
/// so only those few values are converted. It never loads a large <see cref="LstmTensor"/> whose
/// data has not been read yet.
/// </summary>
public static class TensorPreview
{
    /// <summary>The most values a preview shows; fewer when they would not fit the width.</summary>
    public const int MaxCount = 8;

    /// <summary>The width a preview fits when it can (one line of an 80-column console); at least one value is shown.</summary>
    public const int DefaultWidth = 79;

    /// <summary>An LstmTensor whose data is not read yet and is larger than this (bytes) is not read for a preview.</summary>
    public const long DefaultReadLimit = 1L << 20;

    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// Shape, dtype, device when not the CPU, and as many of the first values as fit in
    /// <paramref name="width"/> characters (at least one, at most <see cref="MaxCount"/>).
    /// </summary>
    public static string Describe(torch.Tensor? tensor, int width = DefaultWidth)
    {
        if (tensor is null) return "";
        if (tensor.IsInvalid) return "disposed tensor";
        var device = tensor.device_type == DeviceType.CPU ? "" : $"  Device {tensor.device}";
        var head = $"Shape {ShapeText(tensor.shape)}  DType {DTypes.Name(tensor.dtype)}{device}  Values ";
        return head + Values(tensor, width - head.Length);
    }

    /// <summary>
    /// The preview of an LstmTensor's data. A tensor already in memory is previewed from it; one not
    /// read yet is read for the preview only when it is at most <paramref name="readLimit"/> bytes
    /// (and then, when its loader reads afresh on every call, freed again); a larger one says it is
    /// not read yet. A read that fails shows the failure instead of throwing.
    /// </summary>
    public static string Describe(LstmTensor? tensor, int width = DefaultWidth, long readLimit = DefaultReadLimit)
    {
        if (tensor is null) return "";
        if (tensor.IsLoaded) return Describe(tensor.Tensor, width);
        var head = $"Shape {ShapeText(tensor.Shape)}  DType {tensor.DType}";
        var bytes = ByteCount(tensor);
        if (bytes is not long b || b > readLimit)
            return $"{head}  not read yet ({Size(bytes)}): .ToArray() or .Tensor reads it";
        try
        {
            using var lease = tensor.Borrow();
            return Describe(lease.Tensor, width);
        }
        catch (LstmPortException e)
        {
            // The tensor's name is on the same screen: show the ErrorId and the cause.
            return $"{head}  could not be read ({e.ErrorId}): {(e.InnerException ?? e).Message}";
        }
    }

    /// <summary>
    /// The first values, comma-separated, then '...' when there are more, then the count:
    /// <c>0.1, 0.2, ... (48 values)</c>; as many values as fit in <paramref name="width"/> (at least one).
    /// </summary>
    public static string Values(torch.Tensor tensor, int width = DefaultWidth)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long total = tensor.numel();
        var counted = total == 1 ? "(1 value)" : $"({total.ToString("N0", Invariant)} values)";
        if (total == 0) return counted;
        var first = First(tensor, MaxCount);
        if (first is null) return counted;
        string Text(int k) => string.Join(", ", first.Take(k)) + (total > k ? ", ... " : " ") + counted;
        int shown = first.Length;
        while (shown > 1 && Text(shown).Length > width) shown--;
        return Text(shown);
    }

    /// <summary>
    /// The first <paramref name="count"/> values in row-major order as text, or null for an element type
    /// without a short text form (complex, quantised). Reads only the leading rows, never the whole tensor.
    /// </summary>
    public static string[]? First(torch.Tensor tensor, int count = MaxCount)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var kind = Kind(tensor.dtype);
        if (kind is null) return null;
        long take = Math.Min(count, tensor.numel());
        if (take == 0) return [];

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var v = Leading(tensor, take);
        return kind switch
        {
            'f' => v.to_type(torch.ScalarType.Float64).data<double>().ToArray().Select(x => x.ToString("G4", Invariant)).ToArray(),
            'i' => v.to_type(torch.ScalarType.Int64).data<long>().ToArray().Select(x => x.ToString(Invariant)).ToArray(),
            _ => v.data<bool>().ToArray().Select(x => x ? "True" : "False").ToArray(),
        };
    }

    /// <summary>
    /// A one-dimensional CPU tensor of the first <paramref name="take"/> values: views select the first
    /// row while a row holds them all, then narrow to the rows needed, so at most about 2 x take values
    /// are copied (when the view is not contiguous) and never the whole tensor.
    /// </summary>
    static torch.Tensor Leading(torch.Tensor t, long take)
    {
        var v = t;
        while (v.dim() > 1 && v.numel() / v.shape[0] >= take) v = v.select(0, 0);
        if (v.dim() == 0) return v.reshape(1).cpu().contiguous();
        long row = v.numel() / v.shape[0];
        v = v.narrow(0, 0, Math.Min(v.shape[0], (take + row - 1) / row));
        return v.reshape(-1).narrow(0, 0, take).cpu().contiguous();
    }

    static char? Kind(torch.ScalarType t) => t switch
    {
        torch.ScalarType.Float32 or torch.ScalarType.Float64 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16 => 'f',
        torch.ScalarType.Int64 or torch.ScalarType.Int32 or torch.ScalarType.Int16 or torch.ScalarType.Int8 or torch.ScalarType.Byte => 'i',
        torch.ScalarType.Bool => 'b',
        _ => null,
    };

    static string ShapeText(IEnumerable<long> shape) => "[" + string.Join(",", shape) + "]";
    static string ShapeText(IEnumerable<int> shape) => "[" + string.Join(",", shape) + "]";

    static long? ByteCount(LstmTensor t)
    {
        try { return t.ByteCount; }
        catch (ArgumentException) { return null; } // a dtype without a known size: treat as large
        catch (OverflowException) { return null; }
    }

    static string Size(long? bytes) => bytes switch
    {
        null => "size unknown",
        >= 1L << 30 => (bytes.Value / (double)(1L << 30)).ToString("0.#", Invariant) + " GB",
        >= 1L << 20 => (bytes.Value / (double)(1L << 20)).ToString("0.#", Invariant) + " MB",
        >= 1L << 10 => (bytes.Value / (double)(1L << 10)).ToString("0.#", Invariant) + " KB",
        _ => bytes.Value.ToString(Invariant) + " bytes",
    };
}
