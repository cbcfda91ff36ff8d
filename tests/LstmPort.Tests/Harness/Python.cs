using System.Diagnostics;
using System.Text.Json;

namespace LstmPort.Tests;

/// <summary>
/// Real PyTorch and the official ONNX package, through Debian's python3-torch and python3-onnx
/// (/usr/bin/python3). Tests that need them skip with a reason where they are missing, except under
/// CI (CI=true), where .ci/run installs them and a missing one is a failure.
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

    /// <summary>The official ONNX package (Debian's python3-onnx: its checker and helpers), for the ONNX tests.</summary>
    static readonly Lazy<string?> OnnxMissing = new(() =>
    {
        if (!File.Exists(Interpreter)) return $"{Interpreter} is not installed";
        var (code, _, err) = Exec("-c", "import onnx, onnx.checker, onnx.external_data_helper, numpy");
        return code == 0 ? null : $"{Interpreter} cannot import onnx (apt-get install python3-onnx), so the ONNX checker cannot run: {err.Trim()}";
    });

    public static void Require() => Need(Missing.Value);

    public static void RequireOnnx() => Need(OnnxMissing.Value);

    static void Need(string? missing)
    {
        if (missing is null) return;
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(missing);
        Skip.If(true, missing);
    }

    /// <summary>Runs tests/LstmPort.Tests/Python/onnx_check.py (python3-onnx, no torch) and parses the JSON it prints.</summary>
    public static JsonElement RunOnnx(params string[] args)
    {
        RequireOnnx();
        return RunScript("onnx_check.py", args);
    }

    /// <summary>Runs tests/LstmPort.Tests/Python/&lt;script&gt; and parses the JSON it prints.</summary>
    public static JsonElement Run(string script, params string[] args)
    {
        Require();
        return RunScript(script, args);
    }

    static JsonElement RunScript(string script, string[] args)
    {
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
