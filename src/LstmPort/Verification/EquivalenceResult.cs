namespace LstmPort.Verification;

/// <summary>How one layer and direction came out of the check.</summary>
public enum EquivalenceStatus
{
    /// <summary>Both sides ran and agree within the tolerance.</summary>
    Passed,
    /// <summary>Both sides ran and differ by more than the tolerance.</summary>
    Failed,
    /// <summary>The layer exists on one side only.</summary>
    Unmatched,
    /// <summary>The paired layers cannot compute the same thing (type, sizes or output shape differ).</summary>
    Mismatch,
    /// <summary>A side could not be run (missing tensor, bad shape, unsupported setting): see ErrorId and Reason.</summary>
    Error,
}

/// <summary>
/// The outcome of comparing one layer, depth and direction of two weight sets on the same inputs.
/// Errors are over every compared value: <see cref="MaxAbsError"/> = max |difference - reference|;
/// <see cref="MaxRelError"/> = that divided by the largest |reference| value (so it reads as a
/// fraction of the signal, and does not explode where an output crosses zero). A layer passes
/// when every value satisfies |d - r| &lt;= Tolerance + Tolerance * |r|.
/// </summary>
public sealed record EquivalenceResult
{
    public required string Layer { get; init; }
    public string? DifferenceLayer { get; init; }
    public LayerType LayerType { get; init; }
    public Direction Direction { get; init; }
    public int StackIndex { get; init; }
    public int DifferenceStackIndex { get; init; }
    public Layout? ReferenceLayout { get; init; }
    public Layout? DifferenceLayout { get; init; }
    public EquivalenceStatus Status { get; init; }
    public bool Passed => Status == EquivalenceStatus.Passed;
    public double? MaxAbsError { get; init; }
    public double? MaxRelError { get; init; }
    /// <summary>Max abs error over the full output sequence, the final h and the final c (LSTM), each; null where not compared.</summary>
    public double? OutputError { get; init; }
    public double? FinalHError { get; init; }
    public double? FinalCError { get; init; }
    public double Tolerance { get; init; }
    /// <summary>What was compared, e.g. "Output[32,4,8]", "FinalH[4,8]", "FinalC[4,8]".</summary>
    public string[] Compared { get; init; } = [];
    public int SequenceLength { get; init; }
    public int BatchSize { get; init; }
    public int Seed { get; init; }
    /// <summary>Standard deviation of the random inputs, chosen from the reference's input kernel so gate pre-activations stay moderate.</summary>
    public double InputScale { get; init; }
    /// <summary>Fraction of the input part of the gate pre-activations (x @ W + b) with |value| &gt; 5, where gates are flat.</summary>
    public double Saturation { get; init; }
    /// <summary>Why the layer did not pass or was not run; notes (e.g. saturation) when it did.</summary>
    public string? Reason { get; init; }
    /// <summary>The engine's ErrorId when Status is Error.</summary>
    public string? ErrorId { get; init; }
    public TimeSpan Elapsed { get; init; }

    public override string ToString() =>
        $"{Layer}{(StackIndex > 0 ? $"[{StackIndex}]" : "")}{(Direction == Direction.Backward ? " backward" : "")} {LayerType}: {Status}" +
        (MaxAbsError is double e ? $" (max abs error {e:G3})" : Reason is null ? "" : $" ({Reason})");
}
