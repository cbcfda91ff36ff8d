using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text.RegularExpressions;

namespace LstmPort.Tests;

/// <summary>The built module in a hosted PowerShell: import, exports, natives, views, help.</summary>
public sealed class ModuleTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    // The cmdlet classes of the assembly PowerShell imported from out/LstmPort.
    string[] Implemented => ps.Objects<string>("""
        foreach ($t in (Get-Module LstmPort).ImplementingAssembly.GetTypes()) {
            foreach ($a in $t.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)) { "$($a.VerbName)-$($a.NounName)" }
        }
        """).OrderBy(n => n, StringComparer.Ordinal).ToArray();

    [Fact]
    public void Module_exports_exactly_the_implemented_cmdlets()
    {
        var implemented = Implemented;
        var exported = ps.Objects<string>("(Get-Module LstmPort).ExportedCmdlets.Keys");
        Assert.NotEmpty(implemented);
        Assert.Equal(implemented, exported.OrderBy(n => n, StringComparer.Ordinal));
        // The manifest lists them explicitly, too.
        var manifest = File.ReadAllText(Path.Combine(Repo.Root, "LstmPort.psd1"));
        foreach (var name in implemented) Assert.Contains($"'{name}'", manifest);
    }

    [Fact]
    public void Module_version_comes_from_the_manifest()
    {
        var version = ps.Objects<Version>("(Get-Module LstmPort).Version").Single();
        var dll = ps.Objects<Version>("[LstmPort.LstmTensor].Assembly.GetName().Version").Single();
        Assert.Equal(version.ToString(3), dll.ToString(3));
    }

    [Fact]
    public void A_torch_tensor_is_created_inside_the_runspace()
    {
        var sum = ps.Objects<float>("[LstmPort.Runtime.TorchRuntime]::EnsureLoaded(); [TorchSharp.torch]::ones(5).sum().item[float]()").Single();
        Assert.Equal(5f, sum);
    }

    [Fact]
    public void Get_Help_returns_the_synopsis_of_every_exported_cmdlet()
    {
        foreach (var name in Implemented)
        {
            var synopsis = ps.Objects<string>("(Get-Help $args[0]).Synopsis", name).Single().Trim();
            Assert.False(string.IsNullOrWhiteSpace(synopsis), name);
            Assert.DoesNotContain(name + " ", synopsis.Split('\n')[0] + " "); // not the auto-generated syntax line
            var examples = ps.Run("@((Get-Help $args[0]).examples.example).Count", name).Output.Single().BaseObject;
            Assert.True((int)examples >= 2, $"{name} has {examples} examples");
        }
    }

    [Fact]
    public void About_topic_is_shipped()
    {
        var text = File.ReadAllText(Path.Combine(Repo.ModuleDir, "en-US", "about_LstmPort.help.txt"));
        Assert.Contains("TOPIC", text);
        Assert.Contains("about_LstmPort", text);
    }

    [Fact]
    public void Module_folder_holds_the_allow_listed_files_only()
    {
        var files = Directory.GetFiles(Repo.ModuleDir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Repo.ModuleDir, f).Replace('\\', '/')).ToHashSet();
        foreach (var required in new[] { "LstmPort.psd1", "LstmPort.Format.ps1xml", "LstmPort.PowerShell.dll", "LstmPort.dll",
                     "TorchSharp.dll", "PureHDF.dll", "en-US/LstmPort.PowerShell.dll-Help.xml", "en-US/about_LstmPort.help.txt" })
            Assert.Contains(required, files);
        if (OperatingSystem.IsLinux())
            foreach (var native in new[] { "libLibTorchSharp.so", "libtorch.so", "libtorch_cpu.so", "libc10.so" })
                Assert.Contains(native, files);
        Assert.DoesNotContain("libtorch_python.so", files); // libtorch's own extras stay out
    }

    [Fact]
    public void Pester_tests_parse()
    {
        var files = Directory.GetFiles(Path.Combine(Repo.Root, "tests"), "*.Tests.ps1");
        Assert.NotEmpty(files);
        foreach (var f in files.Append(Path.Combine(Repo.Root, "build.ps1")))
        {
            Parser.ParseFile(f, out _, out var errors);
            Assert.True(errors.Length == 0, $"{Path.GetFileName(f)}: {string.Join("; ", errors.Select(e => $"{e.Extent.StartLineNumber}: {e.Message}"))}");
        }
    }

    [Fact]
    public void Every_exported_cmdlet_has_a_Pester_test_file()
    {
        foreach (var name in Implemented)
            Assert.True(File.Exists(Path.Combine(Repo.Root, "tests", $"{name}.Tests.ps1")), $"tests/{name}.Tests.ps1 is missing");
    }
}

/// <summary>A fresh process, as a user gets: the embedded host imports out/LstmPort and nothing else.</summary>
public sealed class FreshProcessTests
{
    static string HostDll => Path.Combine(Repo.Root, "src", "LstmPort.Host", "bin",
#if DEBUG
        "Debug",
#else
        "Release",
#endif
        "net10.0", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, "lstmport-host.dll");

    /// <summary>How to start the embedded host with these arguments (output redirected).</summary>
    internal static ProcessStartInfo HostStart(params string[] args)
    {
        Assert.True(File.Exists(HostDll), $"{HostDll} is missing: build the solution first");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        psi.ArgumentList.Add(HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("LSTMPORT_MODULE");
        return psi;
    }

    internal static (int Code, string Out, string Err) RunHost(params string[] args)
    {
        using var p = Process.Start(HostStart(args))!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "the host did not finish in 2 minutes");
        return (p.ExitCode, o.Result, e.Result);
    }

    [Fact]
    public void Host_takes_a_relative_Module_path_and_reports_a_bad_one_without_crashing()
    {
        var relative = Path.GetRelativePath(Repo.Root, Path.Combine(Repo.ModuleDir, "LstmPort.psd1"));
        var (code, stdout, stderr) = RunHost("-Module", relative, "-Command", "(Get-Module LstmPort).Name");
        Assert.True(code == 0, stderr);
        Assert.Equal("LstmPort", stdout.Trim());

        (code, stdout, stderr) = RunHost("-Module", "no/such/LstmPort.psd1", "-Command", "'unreached'");
        Assert.Equal(1, code);
        Assert.Contains("Import-Module", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
        Assert.DoesNotContain("unreached", stdout);
    }

    [Fact]
    public void Host_loads_libtorch_from_the_module_folder_only()
    {
        var (code, stdout, stderr) = RunHost("-Command",
            "[LstmPort.Runtime.TorchRuntime]::EnsureLoaded(); [LstmPort.Runtime.TorchRuntime]::NativeDirectory; " +
            "[TorchSharp.torch]::ones(3).sum().item[float](); " +
            "[IO.File]::ReadAllLines('/proc/self/maps') -match 'libtorch_cpu|libLibTorchSharp' -replace '^.* (/.*)$','$1'");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(Path.GetFullPath(Repo.ModuleDir).TrimEnd('/'), lines[0].TrimEnd('/'));
        Assert.Equal("3", lines[1]);
        if (OperatingSystem.IsLinux())
        {
            var mapped = lines.Skip(2).Distinct().ToArray();
            Assert.NotEmpty(mapped);
            Assert.All(mapped, m => Assert.StartsWith(Path.GetFullPath(Repo.ModuleDir), m));
        }
    }

    [Fact]
    public void Host_exits_non_zero_and_writes_errors_to_stderr()
    {
        var (code, stdout, stderr) = RunHost("-Command", "Get-LstmWeights ./no-such-file.safetensors");
        Assert.Equal(1, code);
        Assert.Contains("FileNotFound", stderr);
        Assert.DoesNotContain("FileNotFound", stdout);
    }

    [Fact]
    public void Host_runs_a_script_file_with_arguments_and_its_exit_code()
    {
        using var dir = new TempDir();
        var script = dir.File("s.ps1");
        File.WriteAllText(script, "param($a, $b) \"$a+$b\"; exit 3");
        var (code, stdout, _) = RunHost("-File", script, "x", "y");
        Assert.Equal(3, code);
        Assert.Contains("x+y", stdout);
    }

    [Fact]
    public void The_READMEs_main_job_runs_in_a_fresh_process()
    {
        using var dir = new TempDir();
        var pth = dir.File("stacked.pth");
        var (code, stdout, stderr) = RunHost("-File", Path.Combine(Repo.Root, "examples", "convert.ps1"), Path.Combine(Repo.Root, "examples", "stacked_lstm.h5"), pth);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(pth));
        Assert.Equal(5, stdout.Split('\n').Count(l => l.TrimEnd().EndsWith("seq,h,c") || l.TrimEnd().EndsWith(" seq")));
        Assert.Equal(5, stdout.Split('\n').Count(l => l.Contains(" Passed ")));
        Assert.DoesNotContain("Failed", stdout);
    }

    [Fact]
    public void Host_rejects_bad_usage()
    {
        var (code, _, stderr) = RunHost("-Bogus");
        Assert.Equal(2, code);
        Assert.Contains("unknown argument", stderr);
    }
}
