using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;
using LstmPort.Runtime;

namespace LstmPort.Verification;

/// <summary>Settings of an equivalence check.</summary>
public sealed record EquivalenceOptions
{
    /// <summary>Absolute and relative tolerance; 1e-5 is far above float64 rounding and far below any conversion mistake.</summary>
    public double Tolerance { get; init; } = 1e-5;
    public int SequenceLength { get; init; } = 32;
    public int BatchSize { get; init; } = 4;
    public int Seed { get; init; } = 1;
}

/// <summary>
/// Runs paired layers of two weight sets, each with its own layout's semantics (Keras and TF1
/// through the reference implementations, PyTorch through libtorch's modules), on the same
/// seeded random inputs, in float64 on both sides (see LayerSettings.Precision), and compares the full output
/// sequence, the final h and (LSTM) the final c.
/// </summary>
/// <remarks>
/// Each layer and direction gets its own input of its own input size, so an error is reported at
/// the layer that makes it instead of being carried into every later layer. Inputs are uniform
/// with standard deviation min(1, 1/max_j ||W[:,j]||) for the reference's input kernel W, which
/// keeps the input part of every gate pre-activation near unit scale: saturated gates (sigmoid
/// at 0 or 1) would hide a gate-order or transpose mistake. The share of pre-activations still
/// beyond |5| is reported as Saturation.
/// </remarks>
public static class EquivalenceChecker
{
    const double SaturationLimit = 5.0;

    public static IEnumerable<EquivalenceResult> Check(IEnumerable<LstmTensor> reference, IEnumerable<LstmTensor> difference,
        EquivalenceOptions? options = null, CancellationToken cancel = default)
    {
        options ??= new EquivalenceOptions();
        if (options.SequenceLength < 1 || options.BatchSize < 1 || !(options.Tolerance >= 0))
            throw new LstmPortException(ErrorIds.InvalidCheckOptions,
                $"SequenceLength and BatchSize must be at least 1 and Tolerance not negative (got {options.SequenceLength}, {options.BatchSize}, {options.Tolerance}).");
        TorchRuntime.EnsureLoaded();
        var pairs = LayerPairing.Pair(LayerGroup.Group(reference), LayerGroup.Group(difference));
        for (int index = 0; index < pairs.Count; index++)
        {
            cancel.ThrowIfCancellationRequested();
            yield return CheckPair(pairs[index], options, options.Seed + index);
        }
    }

    /// <summary>Compares one pair; never throws for bad weights: problems become an Error or Mismatch result.</summary>
    public static EquivalenceResult CheckPair(LayerPair pair, EquivalenceOptions options, int seed)
    {
        var watch = Stopwatch.StartNew();
        var (r, d) = (pair.Reference, pair.Difference);
        var main = (r ?? d)!;
        EquivalenceResult Result(EquivalenceStatus status, string? reason, string? errorId = null) => new()
        {
            Layer = main.Layer, DifferenceLayer = d?.Layer, LayerType = main.LayerType, Direction = main.Direction,
            StackIndex = main.StackIndex, DifferenceStackIndex = d?.StackIndex ?? 0,
            ReferenceLayout = r?.Layout, DifferenceLayout = d?.Layout, Status = status, Reason = reason, ErrorId = errorId,
            Tolerance = options.Tolerance, SequenceLength = options.SequenceLength, BatchSize = options.BatchSize, Seed = seed,
            Elapsed = watch.Elapsed,
        };

        if (r is null) return Result(EquivalenceStatus.Unmatched, $"{d!.Describe()} is in DifferenceObject only.");
        if (d is null) return Result(EquivalenceStatus.Unmatched, $"{r.Describe()} is in ReferenceObject only.");

        (long In, long Units) rs, ds;
        try
        {
            // Read the data before any dispose scope opens, so the scope never owns an LstmTensor's own tensor.
            foreach (var t in r.Tensors.Concat(d.Tensors)) _ = t.Tensor;
            rs = Sizes(r);
            ds = Sizes(d);
        }
        catch (Exception e) { return Failure(e); }

        if (r.LayerType != d.LayerType)
            return Result(EquivalenceStatus.Mismatch, $"{r.Describe()} is {r.LayerType}, {d.Describe()} is {d.LayerType}.");
        if (rs != ds)
            return Result(EquivalenceStatus.Mismatch,
                $"sizes differ: {r.Describe()} has input {rs.In}, units {rs.Units}; {d.Describe()} has input {ds.In}, units {ds.Units}.");

        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var generator = new torch.Generator((ulong)seed);
            double scale = InputScale(r);
            var x = (torch.rand(options.SequenceLength, options.BatchSize, rs.In, dtype: LayerSettings.Precision, generator: generator) * 2 - 1) * (Math.Sqrt(3) * scale);
            double saturation = Saturation(r, x);
            var ro = Run(r, x);
            var dout = Run(d, x);

            var parts = new List<(string Name, Tensor Ref, Tensor Diff)> { ("Output", ro.Output, dout.Output) };
            if (ro.FinalH is not null && dout.FinalH is not null) parts.Add(("FinalH", ro.FinalH, dout.FinalH));
            if (ro.FinalC is not null && dout.FinalC is not null) parts.Add(("FinalC", ro.FinalC, dout.FinalC));
            foreach (var (name, a, b) in parts)
                if (!a.shape.SequenceEqual(b.shape))
                    return Result(EquivalenceStatus.Mismatch,
                        $"{name} shapes differ: [{string.Join(",", a.shape)}] vs [{string.Join(",", b.shape)}].");

            double maxAbs = 0, maxRef = 0;
            bool within = true;
            var errors = new Dictionary<string, double>();
            foreach (var (name, a, b) in parts)
            {
                var a64 = a.to_type(ScalarType.Float64);
                var diff = (b.to_type(ScalarType.Float64) - a64).abs();
                double e = diff.max().item<double>();
                errors[name] = e;
                maxAbs = double.IsNaN(e) || double.IsNaN(maxAbs) ? double.NaN : Math.Max(maxAbs, e);
                maxRef = Math.Max(maxRef, a64.abs().max().item<double>());
                within &= (diff <= options.Tolerance + options.Tolerance * a64.abs()).all().item<bool>();
            }
            double maxRel = maxAbs / Math.Max(maxRef, double.Epsilon);
            var note = saturation > 0.25
                ? $"{saturation:P0} of input pre-activations exceed |{SaturationLimit}|: gates are saturated and the check is weaker."
                : null;
            var reason = within ? note : $"outputs differ by up to {maxAbs:G3} (tolerance {options.Tolerance:G3})." + (note is null ? "" : " " + note);
            return Result(within ? EquivalenceStatus.Passed : EquivalenceStatus.Failed, reason) with
            {
                MaxAbsError = maxAbs, MaxRelError = maxRel,
                OutputError = errors["Output"],
                FinalHError = errors.TryGetValue("FinalH", out var eh) ? eh : null,
                FinalCError = errors.TryGetValue("FinalC", out var ec) ? ec : null,
                Compared = parts.Select(p => $"{p.Name}[{string.Join(",", p.Ref.shape)}]").ToArray(),
                InputScale = scale, Saturation = saturation, Elapsed = watch.Elapsed,
            };
        }
        catch (Exception e) { return Failure(e); }

        EquivalenceResult Failure(Exception e) => e switch
        {
            LstmPortException lp => Result(EquivalenceStatus.Error, lp.Message, lp.ErrorId),
            InvalidDataException => Result(EquivalenceStatus.Error, e.Message, ErrorIds.TensorDataError),
            IOException or UnauthorizedAccessException => Result(EquivalenceStatus.Error, e.Message, ErrorIds.FileReadError),
            _ => Result(EquivalenceStatus.Error, $"{e.GetType().Name}: {e.Message}", ErrorIds.CheckFailed),
        };
    }

    static LayerOutputs Run(LayerGroup g, Tensor x) => LayoutMaths.For(g).RunLayer(g, x);

    internal static (long In, long Units) Sizes(LayerGroup g) => LayoutMaths.For(g).Sizes(g);

    static (Tensor W, Tensor? B)? InputProjection(LayerGroup g, long inputSize) => LayoutMaths.For(g).InputProjection(g, inputSize);

    static double InputScale(LayerGroup g)
    {
        if (InputProjection(g, Sizes(g).In) is not var (w, _)) return 1.0;
        double largest = w.pow(2).sum(0L).sqrt().max().item<double>();
        return largest > 1 ? 1 / largest : 1.0;
    }

    static double Saturation(LayerGroup g, Tensor x)
    {
        if (g.LayerType == LayerType.Dense || InputProjection(g, x.shape[^1]) is not var (w, b)) return 0;
        var z = MatMul(x, w);
        if (b is not null) z = z + b;
        return (z.abs() > SaturationLimit).to_type(ScalarType.Float64).mean().item<double>();
    }
}
