using System.Management.Automation;
using LstmPort.Verification;

namespace LstmPort.PowerShell.Commands;

/// <summary>
/// Runs the paired recurrent and Dense layers of two weight sets on the same random inputs and
/// emits one result per layer and direction. A layer that fails, is unmatched or cannot be run
/// also writes a non-terminating error (so $? is false); -Strict ends with a terminating error.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "LstmEquivalence")]
[OutputType(typeof(EquivalenceResult))]
public sealed class TestLstmEquivalenceCommand : LstmPortCmdlet
{
    readonly List<LstmTensor> _difference = [];
    readonly CancellationTokenSource _cancel = new();

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public LstmTensor[] ReferenceObject { get; set; } = [];

    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public LstmTensor[] DifferenceObject { get; set; } = [];

    [Parameter]
    [ValidateRange(0.0, double.MaxValue)]
    public double Tolerance { get; set; } = new EquivalenceOptions().Tolerance;

    [Parameter]
    [ValidateRange(1, 100_000)]
    public int SequenceLength { get; set; } = new EquivalenceOptions().SequenceLength;

    [Parameter]
    [ValidateRange(1, 100_000)]
    public int BatchSize { get; set; } = new EquivalenceOptions().BatchSize;

    [Parameter]
    public int Seed { get; set; } = new EquivalenceOptions().Seed;

    /// <summary>Stop the script with a terminating error when any layer does not pass (after every result is written).</summary>
    [Parameter]
    public SwitchParameter Strict { get; set; }

    protected override void ProcessRecord() => _difference.AddRange(DifferenceObject.Where(t => t is not null));

    protected override void EndProcessing()
    {
        var options = new EquivalenceOptions { Tolerance = Tolerance, SequenceLength = SequenceLength, BatchSize = BatchSize, Seed = Seed };
        var notPassed = new List<EquivalenceResult>();
        IEnumerable<EquivalenceResult> results;
        try { results = EquivalenceChecker.Check(ReferenceObject.Where(t => t is not null), _difference, options, _cancel.Token); }
        catch (LstmPortException e) { ThrowTerminatingError(ToErrorRecord(e)); return; }

        int done = 0;
        var progress = new ProgressRecord(1, "Test-LstmEquivalence", "Running layers");
        foreach (var result in results)
        {
            progress.StatusDescription = $"{result.Layer}: {result.Status}";
            WriteProgress(progress);
            WriteObject(result);
            done++;
            if (result.Passed) continue;
            notPassed.Add(result);
            if (!Strict) WriteError(ErrorFor(result));
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);

        if (done == 0)
            WriteError(ToErrorRecord(ErrorIds.NothingToCompare, "Neither weight set has a recurrent or Dense layer to compare.", null));
        if (Strict && notPassed.Count > 0)
            ThrowTerminatingError(ToErrorRecord(ErrorIds.NotEquivalent,
                $"{notPassed.Count} of {done} layer(s) are not equivalent: " + string.Join("; ", notPassed.Select(r => r.ToString())),
                notPassed.ToArray()));
    }

    protected override void StopProcessing() => _cancel.Cancel();

    static ErrorRecord ErrorFor(EquivalenceResult r)
    {
        var id = r.Status switch
        {
            EquivalenceStatus.Failed => ErrorIds.LayerNotEquivalent,
            EquivalenceStatus.Unmatched => ErrorIds.LayerUnmatched,
            EquivalenceStatus.Mismatch => ErrorIds.LayerMismatch,
            _ => r.ErrorId ?? ErrorIds.CheckFailed,
        };
        return ToErrorRecord(id, r.ToString() + (r.Reason is null || r.MaxAbsError is null ? "" : ": " + r.Reason), r);
    }
}
