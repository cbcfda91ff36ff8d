using System.Management.Automation;
using LstmPort.Formats;

namespace LstmPort.PowerShell.Commands;

/// <summary>Reads weight files and emits one LstmTensor per tensor, in layer order.</summary>
[Cmdlet(VerbsCommon.Get, "LstmWeights", DefaultParameterSetName = PathSet)]
[OutputType(typeof(LstmTensor))]
public sealed class GetLstmWeightsCommand : LstmPortCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LayerNameCompleter))]
    public string[]? Layer { get; set; }

    [Parameter]
    public WeightFormat Format { get; set; } = WeightFormat.Auto;

    /// <summary>forget_bias of TF1 LSTM cells (not stored in checkpoints); overrides the default 1.0 and what a graph says.</summary>
    [Parameter]
    public double? ForgetBias { get; set; }

    /// <summary>The model config of a weights-only file: a Keras config.json, or the .keras archive of the same model.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Config { get; set; }

    /// <summary>Reads the tensors of a pickle that also names foreign objects, without constructing or calling them.</summary>
    [Parameter]
    public SwitchParameter SkipUnsafeObjects { get; set; }

    string? _config;

    protected override void BeginProcessing() => _config = ResolveConfig(Config);

    protected override void ProcessRecord()
    {
        var layerPatterns = Layer?.Select(l => new WildcardPattern(l, WildcardOptions.IgnoreCase)).ToArray();
        var options = new ReadOptions(_config, SkipUnsafeObjects.IsPresent);
        foreach (var weights in ReadFiles(ParameterSetName == LiteralPathSet ? LiteralPath : Path, ParameterSetName == LiteralPathSet, Format, options))
        {
            var tensors = ForgetBias is double fb ? LstmPort.Frameworks.TensorFlow.Tf1Settings.WithForgetBias(weights.Tensors, fb) : weights.Tensors;
            foreach (var t in tensors)
                if (layerPatterns is null || layerPatterns.Any(p => p.IsMatch(t.Layer)))
                    WriteObject(t);
        }
    }
}
