using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace LstmPort.Host;

/// <summary>What one run produced: objects, error records, and the text the host rendered.</summary>
public sealed record RunResult(IReadOnlyList<PSObject> Output, IReadOnlyList<ErrorRecord> Errors, string Text, string ErrorText, int? ExitCode, Exception? Terminating)
{
    public bool Failed => Terminating is not null || Errors.Count > 0 || ExitCode is > 0;
}

/// <summary>
/// A runspace with the LstmPort module imported, on a <see cref="TextHost"/>. Runs a script and
/// either returns the objects (<see cref="Run"/>) or renders them through Out-Default (<see cref="Render"/>).
/// </summary>
public sealed class ScriptRunner : IDisposable
{
    readonly StringWriter _out = new(), _err = new();
    readonly TextHost _host;
    readonly Runspace _runspace;

    /// <param name="modulePath">The LstmPort.psd1 to import, or null for a bare runspace.</param>
    /// <param name="width">Console width that tables are rendered to.</param>
    /// <param name="ansi">Whether rendered text may hold ANSI colour sequences (a terminal), or is plain.</param>
    public ScriptRunner(string? modulePath, int width = 120, bool ansi = false)
    {
        _host = new TextHost(_out, _err, width, ansi);
        var iss = InitialSessionState.CreateDefault2();
        if (OperatingSystem.IsWindows()) iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
        _runspace = RunspaceFactory.CreateRunspace(_host, iss);
        _runspace.Open();
        if (modulePath is not null)
        {
            var r = Run("Import-Module -Name $args[0] -ErrorAction Stop", modulePath);
            if (r.Failed)
                throw new InvalidOperationException($"Import-Module {modulePath} failed: {r.Terminating?.Message ?? string.Join("; ", r.Errors)}");
        }
    }

    /// <summary>Runs a script; output objects are returned, not rendered.</summary>
    public RunResult Run(string script, params object[] args) => Invoke(ps => ps.AddScript(script), args, render: false);

    /// <summary>Runs a script and pipes its output to Out-Default, as a console would.</summary>
    public RunResult Render(string script, params object[] args) => Invoke(ps => ps.AddScript(script), args, render: true);

    /// <summary>Runs a .ps1 file with arguments and renders its output.</summary>
    public RunResult RenderFile(string path, params object[] args) => Invoke(ps => ps.AddCommand(Path.GetFullPath(path)), args, render: true);

    RunResult Invoke(Action<System.Management.Automation.PowerShell> add, object[] args, bool render)
    {
        _out.GetStringBuilder().Clear();
        _err.GetStringBuilder().Clear();
        using var ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = _runspace;
        add(ps);
        foreach (var a in args) ps.AddArgument(a);
        if (render) ps.AddCommand("Out-Default");

        var output = new List<PSObject>();
        Exception? terminating = null;
        try { output.AddRange(ps.Invoke()); }
        catch (RuntimeException e) { terminating = e; }

        var errors = ps.Streams.Error.ToList();
        foreach (var e in errors) _host.UI.WriteErrorLine(Describe(e));
        if (terminating is RuntimeException re) _host.UI.WriteErrorLine(Describe(re.ErrorRecord));
        return new RunResult(output, errors, _out.ToString(), _err.ToString(), _host.ExitCode, terminating);
    }

    /// <summary>One line per error, the way pwsh's concise view shows it, plus its ErrorId.</summary>
    public static string Describe(ErrorRecord e)
    {
        var command = e.InvocationInfo?.MyCommand?.Name;
        var prefix = string.IsNullOrEmpty(command) ? "" : command + ": ";
        return $"{prefix}{e.ErrorDetails?.Message ?? e.Exception.Message} ({e.FullyQualifiedErrorId})";
    }

    public void Dispose() => _runspace.Dispose();
}
