namespace LstmPort.Formats;

/// <summary>
/// What the user told <c>Get-LstmWeights</c> about a file beyond its path. <paramref name="Config"/>:
/// a model config (a Keras <c>config.json</c> or the <c>.keras</c> of the same model) for a file that
/// holds weights only. <paramref name="SkipUnsafeObjects"/>: read the tensors of a pickle that also
/// names foreign objects, constructing and calling nothing it names, instead of refusing the file.
/// </summary>
public sealed record ReadOptions(string? Config = null, bool SkipUnsafeObjects = false)
{
    public static ReadOptions Default { get; } = new();
}
