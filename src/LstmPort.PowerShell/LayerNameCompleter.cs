using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using LstmPort.Formats;

namespace LstmPort.PowerShell;

/// <summary>Completes -Layer with the layer names of the file named by -Path or -LiteralPath (metadata only).</summary>
public sealed class LayerNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var path = (fakeBoundParameters["LiteralPath"] ?? fakeBoundParameters["Path"]) switch
        {
            string s => s,
            object[] a when a.Length > 0 => a[0]?.ToString(),
            string[] a when a.Length > 0 => a[0],
            _ => null,
        };
        if (string.IsNullOrEmpty(path)) return [];
        try
        {
            using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
            // Relative paths are relative to the PowerShell location, not the process's directory.
            var full = ps.AddScript("$ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($args[0])")
                .AddArgument(path).Invoke<string>().FirstOrDefault() ?? path;
            var pattern = new WildcardPattern(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
            return WeightReader.Read(full).Tensors.Select(t => t.Layer).Distinct()
                .Where(pattern.IsMatch)
                .Select(l => new CompletionResult(l.Contains(' ') ? $"'{l}'" : l, l, CompletionResultType.ParameterValue, l))
                .ToList();
        }
        catch (Exception)
        {
            return []; // completion never throws at the user
        }
    }
}
