using System.Management.Automation;
using LstmPort.Host;

namespace LstmPort.Tests;

/// <summary>
/// A real PowerShell engine (hosted System.Management.Automation) with the built out/LstmPort
/// module imported, rendering at 80 columns. Shared by a test class; each Run starts clean.
/// </summary>
public sealed class ModuleSession : IDisposable
{
    readonly ScriptRunner _runner;

    public ModuleSession()
    {
        Assert.True(File.Exists(Repo.Manifest), $"{Repo.Manifest} is missing: build the solution first (dotnet build)");
        _runner = new ScriptRunner(Repo.Manifest, width: 80);
    }

    public RunResult Run(string script, params object[] args)
    {
        lock (_runner) return _runner.Run(script, args);
    }

    public RunResult Render(string script, params object[] args)
    {
        lock (_runner) return _runner.Render(script, args);
    }

    /// <summary>Runs and fails the test on any error; returns the base objects.</summary>
    public List<T> Objects<T>(string script, params object[] args)
    {
        var r = Run(script, args);
        Assert.False(r.Failed, "script failed: " + string.Join("\n", r.Errors.Select(ScriptRunner.Describe)) + r.Terminating?.Message);
        return r.Output.Select(o => Assert.IsType<T>(o.BaseObject)).ToList();
    }

    public void Dispose() => _runner.Dispose();
}
