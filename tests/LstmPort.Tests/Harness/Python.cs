using System.Diagnostics;
using System.Text.Json;

namespace LstmPort.Tests;

/// <summary>
/// Real PyTorch, through Debian's python3-torch (/usr/bin/python3). Tests that need it skip with a
/// reason where it is missing, except under CI (CI=true), where .ci/run installs it and a missing
/// torch is a failure.
/// </summary>
public static class Python
{
    public const string Interpreter = "/usr/bin/python3";
    static readonly Lazy<string?> Missing = new(() =>
    {
        if (!File.Exists(Interpreter)) return $"{Interpreter} is not installed";
        var (code, _, err) = Exec("-c", "import torch, numpy");
        return code == 0 ? null : $"{Interpreter} cannot import torch and numpy (apt-get install python3-torch): {err.Trim()}";
    });

    public static void Require()
    {
        if (Missing.Value is null) return;
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(Missing.Value);
        Skip.If(true, Missing.Value);
    }

    /// <summary>Runs tests/LstmPort.Tests/Python/&lt;script&gt; and parses the JSON it prints.</summary>
    public static JsonElement Run(string script, params string[] args)
    {
        Require();
        var path = Path.Combine(AppContext.BaseDirectory, "Python", script);
        var (code, stdout, stderr) = Exec([path, .. args]);
        Assert.True(code == 0, $"python {script} failed ({code}):\n{stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    /// <summary>Runs the interpreter with these arguments: exit code, stdout, stderr.</summary>
    internal static (int Code, string Out, string Err) Exec(params string[] args)
    {
        var psi = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
