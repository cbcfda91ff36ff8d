using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using LstmPort.Formats;

namespace LstmPort.PowerShell;

/// <summary>
/// Completes -Layer with the layer names of the files named by -Path or -LiteralPath (reading them
/// as Get-LstmWeights does, which for .pth, .keras and TF checkpoints includes their checksums).
/// Paths are resolved as the cmdlet resolves them, through the session's providers in the current
/// runspace: relative to the PowerShell location, and -Path wildcards expand to the matching files,
/// whose layer names are offered together (each name once, in file order).
/// </summary>
public sealed class LayerNameCompleter : IArgumentCompleter
{
    /// <summary>At most this many files are read for one completion, so a wide wildcard stays quick.</summary>
    internal const int MaxFiles = 32;

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            bool literal = fakeBoundParameters.Contains("LiteralPath");
            var paths = Strings(literal ? fakeBoundParameters["LiteralPath"] : fakeBoundParameters["Path"]);
            if (paths.Count == 0) return [];
            var format = fakeBoundParameters["Format"] is { } f
                && Enum.TryParse<WeightFormat>(f.ToString(), ignoreCase: true, out var parsed) ? parsed : WeightFormat.Auto;

            var pattern = new WildcardPattern(Unquote(wordToComplete) + "*", WildcardOptions.IgnoreCase);
            var names = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var file in Resolve(paths, literal).Take(MaxFiles))
            {
                IReadOnlyList<LstmTensor> tensors;
                try { tensors = WeightReader.Read(file, format).Tensors; }
                catch (Exception) { continue; } // an unreadable file offers nothing; the others still do
                foreach (var t in tensors)
                    if (pattern.IsMatch(t.Layer) && seen.Add(t.Layer)) names.Add(t.Layer);
            }
            return names.Select(l => new CompletionResult(Quote(l), l, CompletionResultType.ParameterValue, l)).ToList();
        }
        catch (Exception)
        {
            return []; // completion never throws at the user
        }
    }

    static List<string> Strings(object? value) => value switch
    {
        null => [],
        string s => [s],
        IEnumerable e => e.Cast<object?>().Select(o => o switch
        {
            PSObject p => p.BaseObject?.ToString(),
            _ => o?.ToString(),
        }).Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).ToList(),
        _ => [value.ToString()!],
    };

    /// <summary>The files the paths name, resolved as the cmdlets resolve them, in the runspace the completion runs in.</summary>
    static IEnumerable<string> Resolve(List<string> paths, bool literal)
    {
        using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        var state = ps.AddScript("$ExecutionContext.SessionState").Invoke<SessionState>().FirstOrDefault();
        if (state is null) yield break;
        foreach (var p in paths)
        {
            IReadOnlyList<string> found;
            try { found = LstmPortCmdlet.ResolveFileSystemPath(state, p, literal); }
            catch (Exception) { continue; } // nothing matches, no such drive, another provider, ...
            foreach (var f in found) yield return f;
        }
    }

    static string Unquote(string word) =>
        word.Length > 0 && word[0] is '\'' or '"' ? word.Trim(word[0]) : word;

    /// <summary>
    /// The text to insert: -Layer takes wildcards, so wildcard characters in a name are escaped; a name
    /// PowerShell would split or expand is single-quoted.
    /// </summary>
    static string Quote(string layer)
    {
        var escaped = WildcardPattern.Escape(layer);
        bool plain = escaped.Length > 0 && escaped[0] != '-' && escaped.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or ':' or '\\');
        return plain ? escaped : "'" + escaped.Replace("'", "''") + "'";
    }
}
