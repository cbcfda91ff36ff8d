using System.Diagnostics;
using System.Globalization;
using LstmPort.Bench;

// Usage: dotnet run -c Release --project bench/LstmPort.Bench -- [--size 1GB] [--runs 3] [--out DIR] [--paths a,b] [--old DIR] [--no-cmdlets]
// Every path a user takes with big files (see Paths below), each against its Python baseline and cp + sync
// of the same input, alternating in one series; then the metadata cmdlets on every format's file.
long size = 1L << 30;
int runs = 3;
string? outDir = null;
string? oldModule = null;
string[]? only = null;
bool cmdletsToo = true;
bool profile = false;
const string Usage = "usage: [--size 1GB] [--runs 3] [--out DIR] [--paths keras2pth,pth2keras,st2pth,pth2st,tf2pth,onnx2pth,pth2onnx] [--reverse] [--old DIR] [--no-cmdlets] [--profile]";
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--size": size = ParseSize(args[++i]); break;
        case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--out": outDir = args[++i]; break;
        case "--paths": only = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
        case "--reverse": only = ["pth2keras"]; break; // the earlier spelling of --paths pth2keras
        case "--old": oldModule = Path.GetFullPath(args[++i]); break;
        case "--no-cmdlets": cmdletsToo = false; break;
        case "--profile": profile = true; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}; {Usage}"); return 2;
    }
}

var repo = FindRepo() ?? throw new InvalidOperationException("cannot find the repository (LstmPort.psd1) above " + AppContext.BaseDirectory);
var bench = Path.Combine(repo, "bench");
outDir ??= Path.Combine(bench, "out");
Directory.CreateDirectory(outDir);
#if DEBUG
const string Configuration = "Debug";
#else
const string Configuration = "Release";
#endif
var hostDll = Path.Combine(AppContext.BaseDirectory, "host", "lstmport-host.dll"); // published ReadyToRun by the project
var pwsh = FindOnPath("pwsh");
var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : null;
var timeTool = File.Exists("/usr/bin/time") ? "/usr/bin/time" : null;
var psd1 = Path.Combine(repo, "out", "LstmPort", "LstmPort.psd1");

// A PowerShell script as a user would run it: pwsh when installed, else the embedded host.
string[] PowerShell(string script, params string[] a) => PowerShellWith(psd1, script, a);
string[] PowerShellWith(string module, string script, params string[] a) => pwsh is not null
    ? [pwsh, "-NoProfile", "-Command", $"Import-Module '{module}'; & '{Path.Combine(bench, script)}' {string.Join(' ', a.Select(x => $"'{x}'"))}"]
    : ["dotnet", hostDll, "-File", Path.Combine(bench, script), .. a];

Console.WriteLine($"LstmPort benchmark: {Environment.ProcessorCount} cores, load average {LoadAverage()}, {(pwsh is null ? "embedded host (no pwsh)" : "pwsh")}, {Configuration}");
bool haveBaseline = python is not null && Run([python, "-c", "import torch, h5py, numpy"]).ExitCode == 0;
if (!haveBaseline) { Console.Error.WriteLine("needs /usr/bin/python3 with torch, h5py and numpy (Debian: apt-get install python3-torch python3-h5py): the baselines, the inputs and the output checks use them"); return 2; }
bool haveOnnx = Run([python!, "-c", "import onnx"]).ExitCode == 0;

// ---- inputs: the same model in every format, each written by an independent writer where one exists ----
var model = Path.Combine(outDir, $"model-{size}.h5");
if (!File.Exists(model))
{
    Console.WriteLine($"generating {model} ...");
    Check(Run(PowerShell("generate.ps1", model, size.ToString(CultureInfo.InvariantCulture))), "generate.ps1");
}
var lstm512 = Path.Combine(outDir, "bilstm512x2.h5");
if (!File.Exists(lstm512)) Check(Run(PowerShell("generate.ps1", lstm512, "0", "1234", "512", "2")), "generate.ps1 (512)");
var pth = Path.Combine(outDir, $"model-{size}.pth");
if (!File.Exists(pth)) Check(Run([python!, Path.Combine(bench, "baseline.py"), model, pth]), "baseline.py (making the .pth)");
var safetensors = Path.Combine(outDir, $"model-{size}.safetensors");
if (!File.Exists(safetensors)) Check(Run([python!, Path.Combine(bench, "baseline_formats.py"), "pth2st", pth, safetensors]), "baseline_formats.py pth2st (making the .safetensors)");
var onnx = Path.Combine(outDir, $"model-{size}.onnx");
if (haveOnnx && !File.Exists(onnx)) Check(Run([python!, Path.Combine(bench, "baseline_formats.py"), "pth2onnx", pth, onnx]), "baseline_formats.py pth2onnx (making the .onnx)");
var savedModel = Path.Combine(outDir, $"savedmodel-{size}");
var ckpt = Path.Combine(savedModel, "variables", "variables");
if (!File.Exists(ckpt + ".index"))
{
    // The same architecture as generate.ps1's (h = sqrt(size / 256), input h / 2), other values.
    int h = Math.Max(8, (int)Math.Round(Math.Sqrt(size / 256.0)));
    TfCheckpoint.WriteSavedModel(savedModel, h, h / 2, 3);
}
foreach (var f in new[] { model, pth, safetensors, onnx, ckpt + ".data-00000-of-00001" }.Where(File.Exists))
    Console.WriteLine($"  {Path.GetFileName(f)}: {new FileInfo(f).Length:N0} bytes");

// ---- the paths: what each runs, its Python baseline, the file cp copies, how outputs are checked ----
string Out(string name) => Path.Combine(outDir, name);
var copy = Out("copy.bin");
if (profile) return Profile();
var paths = new List<PathBench>
{
    new("keras2pth", "Keras .h5 -> .pth", PowerShell("convert.ps1", model, Out("lstmport.pth")), Out("lstmport.pth"),
        [python!, Path.Combine(bench, "baseline.py"), model, Out("python.pth")], Out("python.pth"), "h5py, numpy, torch.save", [model], "compare.py"),
    new("pth2keras", ".pth -> Keras .h5", PowerShell("reverse.ps1", pth, Out("lstmport.h5")), Out("lstmport.h5"),
        [python!, Path.Combine(bench, "baseline_reverse.py"), pth, Out("python.h5")], Out("python.h5"), "torch.load, numpy, h5py", [pth], "compare_h5.py"),
    new("st2pth", ".safetensors -> .pth", PowerShell("path.ps1", safetensors, Out("lstmport-st.pth"), "None"), Out("lstmport-st.pth"),
        [python!, Path.Combine(bench, "baseline_formats.py"), "st2pth", safetensors, Out("python-st.pth")], Out("python-st.pth"), "numpy + json reader, torch.save", [safetensors], "compare.py"),
    new("pth2st", ".pth -> .safetensors", PowerShell("path.ps1", pth, Out("lstmport.safetensors"), "None"), Out("lstmport.safetensors"),
        [python!, Path.Combine(bench, "baseline_formats.py"), "pth2st", pth, Out("python.safetensors")], Out("python.safetensors"), "torch.load, numpy + json writer", [pth], "compare.py"),
    new("tf2pth", "TF2 SavedModel (checkpoint) -> .pth", PowerShell("path.ps1", savedModel, Out("lstmport-tf.pth"), "Torch"), Out("lstmport-tf.pth"),
        [python!, Path.Combine(bench, "baseline_formats.py"), "tf2pth", savedModel, Out("python-tf.pth")], Out("python-tf.pth"), "numpy bundle reader (no TensorFlow), torch.save",
        [ckpt + ".index", ckpt + ".data-00000-of-00001"], "compare.py"),
};
if (haveOnnx)
{
    paths.Add(new("onnx2pth", "ONNX -> .pth", PowerShell("path.ps1", onnx, Out("lstmport-onnx.pth"), "Torch"), Out("lstmport-onnx.pth"),
        [python!, Path.Combine(bench, "baseline_formats.py"), "onnx2pth", onnx, Out("python-onnx.pth")], Out("python-onnx.pth"), "onnx, numpy, torch.save", [onnx], "compare.py"));
    paths.Add(new("pth2onnx", ".pth -> ONNX", PowerShell("path.ps1", pth, Out("lstmport.onnx"), "Onnx"), Out("lstmport.onnx"),
        [python!, Path.Combine(bench, "baseline_formats.py"), "pth2onnx", pth, Out("python.onnx")], Out("python.onnx"), "torch.load, numpy, onnx", [pth], "compare.py"));
}
else Console.WriteLine("ONNX paths skipped: the Python onnx package is not installed (Debian: apt-get install python3-onnx).");
if (only is not null)
{
    var unknown = only.Except(paths.Select(p => p.Id)).ToList();
    if (unknown.Count > 0) { Console.Error.WriteLine($"unknown path(s) {string.Join(", ", unknown)}; {Usage}"); return 2; }
    paths = paths.Where(p => only.Contains(p.Id)).ToList();
}

// ---- one series: every round runs every path, and within a path the product, the older build
// (--old), Python and cp + sync in an order that rotates from round to round ----
foreach (var p in paths)
{
    p.Series.Add(("LstmPort", p.Ours, p.OursOut, []));
    if (oldModule is not null)
    {
        var old = p.Ours.ToArray();
        var oldOut = Path.Combine(outDir, "old-" + Path.GetFileName(p.OursOut));
        p.Series.Add(("LstmPort (old)", RewriteForOld(old, p.OursOut, oldOut), oldOut, []));
    }
    p.Series.Add(("Python", p.Python, p.PythonOut, []));
    p.Series.Add(("cp + sync", ["sh", "-c", $"rm -f '{copy}'* && " + string.Join(" && ", p.Copy.Select((f, i) => $"cp '{f}' '{copy}{i}'")) +
        $" && sync {string.Join(' ', p.Copy.Select((_, i) => $"'{copy}{i}'"))}"], null, []));
}
for (int r = 0; r < runs; r++)
{
    foreach (var p in paths)
    {
        // Rotate who goes first, so page cache and neighbours' load do not favour one.
        for (int k = 0; k < p.Series.Count; k++)
        {
            var (name, command, _, samples) = p.Series[(k + r) % p.Series.Count];
            samples.Add(Check(Run(command), $"{p.Id}: {name}"));
        }
        Console.WriteLine($"  run {r + 1} {p.Id,-9}: " + string.Join("   ", p.Series.Select(x => $"{x.Name} {x.Samples[^1]}")));
    }
}
File.Delete(copy);
foreach (var i in Enumerable.Range(0, 2)) File.Delete(copy + i);

Console.WriteLine();
Console.WriteLine($"load average after the series: {LoadAverage()}");
Console.WriteLine($"{"",-34} {"wall median",12} {"wall min-max",16} {"peak RSS median",16} {"minor faults",13} {"major",6} {"user",7} {"sys",7}");
int status = 0;
foreach (var p in paths)
{
    Console.WriteLine(p.Title);
    foreach (var x in p.Series) Report("  " + x.Name, x.Samples);
    foreach (var x in p.Series.Where(x => x.Name.StartsWith("LstmPort")))
    {
        var equal = Run([python!, Path.Combine(bench, p.Compare), x.Output!, p.PythonOut]);
        p.Equal[x.Name] = equal.Output.Trim();
        Console.WriteLine($"  {x.Name} vs Python output: {equal.Output.Trim()}");
        if (equal.ExitCode != 0) status = 1;
    }
}

// The table that goes into the README.
Console.WriteLine();
Console.WriteLine($"{runs} rounds, {(pwsh is null ? "embedded host" : "pwsh")}, {Configuration}; wall median (min-max), peak RSS median; ratios of medians taken in this run:");
Console.WriteLine();
Console.WriteLine("| path | LstmPort | Python baseline | `cp` + `sync` of the input | LstmPort / Python, wall | LstmPort / cp | peak RSS, LstmPort / Python | outputs |");
Console.WriteLine("|---|---|---|---|---|---|---|---|");
foreach (var p in paths)
{
    var ours = p.Series[0].Samples;
    var py = p.Series.First(x => x.Name == "Python").Samples;
    var cp = p.Series.First(x => x.Name == "cp + sync").Samples;
    string Cell(List<Sample> s) => $"{Median(s.Select(x => x.Wall)):F2} s ({s.Min(x => x.Wall):F2}–{s.Max(x => x.Wall):F2}), {Median(s.Select(x => (double)x.PeakKb)) / 1024:F0} MB";
    double W(List<Sample> s) => Median(s.Select(x => x.Wall));
    double M(List<Sample> s) => Median(s.Select(x => (double)x.PeakKb));
    Console.WriteLine($"| {p.Title} | {Cell(ours)} | {Cell(py)} ({p.PythonWhat}) | {W(cp):F2} s ({cp.Min(x => x.Wall):F2}–{cp.Max(x => x.Wall):F2}) | **{W(ours) / W(py):F2}** | {W(ours) / W(cp):F1}x | {M(ours) / M(py):F2} | {(p.Equal.TryGetValue("LstmPort", out var e) ? e : "")} |");
}
if (oldModule is not null)
    foreach (var p in paths)
    {
        var old = p.Series.First(x => x.Name == "LstmPort (old)").Samples;
        Console.WriteLine($"{p.Title}: older build {Median(old.Select(x => x.Wall)):F2} s, {Median(old.Select(x => (double)x.PeakKb)) / 1024:F0} MB; now / old wall {Median(p.Series[0].Samples.Select(x => x.Wall)) / Median(old.Select(x => x.Wall)):F2}");
    }

if (cmdletsToo)
{
    Console.WriteLine();
    var files = new[] { model, pth, safetensors, savedModel, onnx }.Where(f => File.Exists(f) || Directory.Exists(f)).ToArray();
    var cmdlets = Check(Run(PowerShell("cmdlets.ps1", lstm512, string.Join(',', files))), "cmdlets.ps1");
    Console.WriteLine("cmdlet timings (ms, in one process; warm: median (max) of the 5 calls after the first, 3 for the check):");
    foreach (var line in cmdlets.Output.Split('\n').Where(l => l.Contains('\t'))) Console.WriteLine(line.TrimEnd());
    var import = Enumerable.Range(0, 3).Select(_ => Check(Run(pwsh is not null
        ? [pwsh, "-NoProfile", "-Command", $"(Measure-Command {{ Import-Module '{psd1}' }}).TotalMilliseconds"]
        : ["dotnet", hostDll, "-Command", "'ready'"]), "Import-Module")).ToList();
    Console.WriteLine(pwsh is not null
        ? $"Import-Module LstmPort (ms, median of 3 fresh pwsh): {Median(import.Select(s => double.Parse(s.Output.Trim(), CultureInfo.InvariantCulture))):F0}"
        : $"host start + Import-Module + a command (whole process, median of 3): {Median(import.Select(s => s.Wall)) * 1000:F0} ms");
}
return status;

// Where the forward path's time goes: processes that stop after each step (host start, Import-Module,
// libtorch load, reading the metadata), the whole conversion and cp + sync, alternating; the
// differences of the medians are each step's cost. Then stages.ps1 (read, transform, write in one process).
int Profile()
{
    var target = Out("profile.pth");
    string Step(string body) => pwsh is not null ? body : body.Replace($"Import-Module '{psd1}'; ", "");
    string[] Ps(string body) => pwsh is not null ? [pwsh, "-NoProfile", "-Command", body] : ["dotnet", hostDll, "-Command", body];
    var steps = new List<(string Name, string[] Command, List<Sample> Samples)>
    {
        ("host start", Ps("exit 0"), []),
        ("+ Import-Module", Ps(Step($"Import-Module '{psd1}'; exit 0")), []),
        ("+ libtorch load", Ps(Step($"Import-Module '{psd1}'; [LstmPort.Runtime.TorchRuntime]::EnsureLoaded(); exit 0")), []),
        ("+ metadata (Get-LstmWeights)", Ps(Step($"Import-Module '{psd1}'; [LstmPort.Runtime.TorchRuntime]::EnsureLoaded(); $null = @(Get-LstmWeights '{model}' -WarningAction SilentlyContinue); exit 0")), []),
        ("whole conversion (convert.ps1)", PowerShell("convert.ps1", model, target), []),
        ("cp + sync of the .h5", ["sh", "-c", $"rm -f '{copy}' && cp '{model}' '{copy}' && sync '{copy}'"], []),
    };
    for (int r = 0; r < runs; r++)
    {
        for (int k = 0; k < steps.Count; k++)
        {
            var (name, command, samples) = steps[(k + r) % steps.Count];
            samples.Add(Check(Run(command), name));
        }
        Console.WriteLine($"  run {r + 1}: " + string.Join("   ", steps.Select(x => $"{x.Name} {x.Samples[^1].Wall:F2} s")));
    }
    File.Delete(copy);
    Console.WriteLine();
    Console.WriteLine($"load average after the series: {LoadAverage()}");
    Console.WriteLine($"{"",-34} {"wall median",12} {"wall min-max",16} {"peak RSS median",16} {"minor faults",13} {"major",6} {"user",7} {"sys",7}");
    foreach (var x in steps) Report(x.Name, x.Samples);
    Console.WriteLine();
    Console.WriteLine("| step | process ends after it: wall median | this step's share (difference of medians) | user + sys CPU |");
    Console.WriteLine("|---|---|---|---|");
    double previous = 0;
    foreach (var x in steps.Take(5))
    {
        double w = Median(x.Samples.Select(s => s.Wall));
        Console.WriteLine($"| {x.Name} | {w:F2} s | {w - previous:F2} s | {Median(x.Samples.Select(s => s.User)):F2} + {Median(x.Samples.Select(s => s.Sys)):F2} s |");
        previous = w;
    }
    var cp = Median(steps[^1].Samples.Select(s => s.Wall));
    Console.WriteLine($"| cp + sync of the .h5 | {cp:F2} s | | |");
    Console.WriteLine($"whole conversion / (cp + sync): {Median(steps[4].Samples.Select(s => s.Wall)) / cp:F1}x; host start + Import-Module + libtorch alone: {Median(steps[2].Samples.Select(s => s.Wall)) / cp:F1}x");
    Console.WriteLine();
    Console.WriteLine("stages.ps1 (one process, everything held; ms since the previous line, VmHWM):");
    for (int r = 0; r < Math.Min(runs, 3); r++)
        Console.WriteLine(Check(Run(PowerShell("stages.ps1", model, target)), "stages.ps1").Output.TrimEnd());
    File.Delete(target);
    return 0;
}

// The same command against the older module (pwsh: its psd1; embedded host: LSTMPORT_MODULE is not a thing,
// so the older build is only supported under pwsh, as before).
string[] RewriteForOld(string[] command, string output, string oldOutput)
{
    if (pwsh is null) throw new InvalidOperationException("--old needs pwsh (the embedded host loads the module it was built with)");
    return command.Select(a => a.Replace(psd1, Path.Combine(oldModule!, "LstmPort.psd1")).Replace(output, oldOutput)).ToArray();
}

static void Report(string name, List<Sample> s) =>
    Console.WriteLine($"{name,-22} {Median(s.Select(x => x.Wall)),10:F2} s {s.Min(x => x.Wall),7:F2}-{s.Max(x => x.Wall):F2} s {Median(s.Select(x => (double)x.PeakKb)) / 1024,12:F0} MB" +
        (s.Any(x => x.MinorFaults >= 0) ? $" {Median(s.Select(x => (double)x.MinorFaults)),13:F0} {Median(s.Select(x => (double)x.MajorFaults)),6:F0} {Median(s.Select(x => x.User)),6:F2}s {Median(s.Select(x => x.Sys)),6:F2}s" : ""));

static double Median(IEnumerable<double> values)
{
    var v = values.OrderBy(x => x).ToArray();
    return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
}

Sample Check(Sample s, string what)
{
    if (s.ExitCode != 0) throw new InvalidOperationException($"{what} failed (exit {s.ExitCode}):\n{s.Output}\n{s.Error}");
    return s;
}

// Wall time from start to exit; peak RSS from the kernel's rusage of the finished child
// (/usr/bin/time), else the highest VmHWM read from /proc while it ran.
Sample Run(string[] command)
{
    string? rusage = timeTool is null ? null : Path.GetTempFileName();
    var argv = rusage is null ? command : [timeTool!, "-f", "%M %R %F %U %S", "-o", rusage, .. command];
    var psi = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = repo };
    foreach (var a in argv[1..]) psi.ArgumentList.Add(a);
    var sw = Stopwatch.StartNew();
    using var p = Process.Start(psi)!;
    var stdout = p.StandardOutput.ReadToEndAsync();
    var stderr = p.StandardError.ReadToEndAsync();
    long hwm = 0, minor = -1, major = -1;
    double user = 0, sys = 0;
    while (!p.WaitForExit(5)) hwm = Math.Max(hwm, VmHwm(p.Id));
    sw.Stop();
    if (rusage is not null)
    {
        // "%M %R %F %U %S": peak RSS (KB), minor and major page faults, user and system seconds.
        var text = File.ReadAllLines(rusage).Select(l => l.Trim().Split(' ')).LastOrDefault(f => f.Length == 5 && long.TryParse(f[0], out _));
        if (text is not null)
        {
            hwm = long.Parse(text[0], CultureInfo.InvariantCulture);
            minor = long.Parse(text[1], CultureInfo.InvariantCulture);
            major = long.Parse(text[2], CultureInfo.InvariantCulture);
            user = double.Parse(text[3], CultureInfo.InvariantCulture);
            sys = double.Parse(text[4], CultureInfo.InvariantCulture);
        }
        File.Delete(rusage);
    }
    return new Sample(sw.Elapsed.TotalSeconds, hwm, p.ExitCode, stdout.Result, stderr.Result) { MinorFaults = minor, MajorFaults = major, User = user, Sys = sys };
}

static long VmHwm(int pid)
{
    try
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:"));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
    catch (IOException) { return 0; }
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static string? FindOnPath(string name) =>
    (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

static string? FindRepo()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "LstmPort.psd1")) && Directory.Exists(Path.Combine(d.FullName, "bench"))) return d.FullName;
    return null;
}

static long ParseSize(string s)
{
    s = s.Trim().ToUpperInvariant();
    long unit = s.EndsWith("GB") ? 1L << 30 : s.EndsWith("MB") ? 1L << 20 : s.EndsWith("KB") ? 1L << 10 : 1;
    return (long)(double.Parse(unit == 1 ? s : s[..^2], CultureInfo.InvariantCulture) * unit);
}

/// <summary>One path of the benchmark: the product's command and output, the Python baseline's, the input files cp copies, the output check.</summary>
sealed record PathBench(string Id, string Title, string[] Ours, string OursOut, string[] Python, string PythonOut, string PythonWhat, string[] Copy, string Compare)
{
    public List<(string Name, string[] Command, string? Output, List<Sample> Samples)> Series { get; } = [];
    public Dictionary<string, string> Equal { get; } = [];
}

record Sample(double Wall, long PeakKb, int ExitCode, string Output, string Error)
{
    public long MinorFaults { get; init; } = -1;
    public long MajorFaults { get; init; } = -1;
    public double User { get; init; }
    public double Sys { get; init; }

    public override string ToString() => $"{Wall:F2} s, {PeakKb / 1024} MB";
}
