using System.Management.Automation;
using System.Runtime.InteropServices;
using LstmPort.Formats;

namespace LstmPort.PowerShell.Commands;

/// <summary>
/// Collects LstmTensors from the pipeline and writes them as one weight file (.pth/.pt, .safetensors, Keras .h5),
/// through a temporary file renamed into place, so the target is either complete or untouched.
/// </summary>
[Cmdlet(VerbsData.Export, "LstmWeights", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FileInfo))]
public sealed class ExportLstmWeightsCommand : LstmPortCmdlet
{
    const long ProgressThreshold = 100L << 20;

    readonly List<LstmTensor> _tensors = [];
    readonly CancellationTokenSource _stop = new();

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    [ValidateNotNull]
    public LstmTensor[] InputObject { get; set; } = [];

    [Parameter]
    public WeightFormat Format { get; set; } = WeightFormat.Auto;

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() => _tensors.AddRange(InputObject);

    protected override void EndProcessing()
    {
        string target;
        try
        {
            target = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path, out var provider, out _);
            if (provider.Name != "FileSystem")
                throw new LstmPortException(ErrorIds.NotAFileSystemPath,
                    $"'{Path}' is on the {provider.Name} provider; expected a file system path.", Path);
        }
        catch (LstmPortException e) { ThrowTerminatingError(ToErrorRecord(e)); return; }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException)
        { ThrowTerminatingError(ToErrorRecord(e, ErrorIds.InvalidPath, Path)); return; }

        long bytes;
        IWeightWriter writer;
        try { (writer, bytes) = WeightWriter.Prepare(target, _tensors, Format, Force); }
        catch (LstmPortException e) { ThrowTerminatingError(ToErrorRecord(e)); return; }

        var action = $"Write {_tensors.Count} tensors ({bytes:N0} bytes of data) as {writer.Format}";
        if (!ShouldProcess(target, action)) return;

        var record = new ProgressRecord(1, "Export-LstmWeights", $"Writing {target}");
        int lastPercent = -1;
        Action<long, long>? progress = bytes < ProgressThreshold ? null : (done, total) =>
        {
            int percent = (int)(100 * done / Math.Max(total, 1));
            if (percent == lastPercent) return;
            lastPercent = percent;
            record.PercentComplete = percent;
            WriteProgress(record);
        };

        FileInfo file;
        try { file = WeightWriter.Write(target, _tensors, Format, Force, progress, _stop.Token); }
        catch (OperationCanceledException) { return; } // Ctrl+C: the temporary file is gone, the target untouched
        catch (LstmPortException e) { ThrowTerminatingError(ToErrorRecord(e)); return; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ExternalException)
        { ThrowTerminatingError(ToErrorRecord(e, ErrorIds.FileWriteError, target)); return; }
        finally
        {
            if (lastPercent >= 0) { record.RecordType = ProgressRecordType.Completed; WriteProgress(record); }
        }
        if (PassThru) WriteObject(file);
    }

    protected override void StopProcessing() => _stop.Cancel();
}
