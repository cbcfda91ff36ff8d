using System.Diagnostics;
using System.Globalization;

// Usage: dotnet run -c Release --project bench/LstmPort.Bench -- [--size 1GB] [--runs 5] [--out DIR] [--no-baseline] [--reverse] [--old DIR]
long size = 1L << 30;
int runs = 5;
string? outDir = null;
bool baseline = true;
bool reverse = false;
string? oldModule = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--size": size = ParseSize(args[++i]); break;
        case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--out": outDir = args[++i]; break;
        case "--no-baseline": baseline = false; break;
        case "--reverse": reverse = true; break;
        case "--old": oldModule = Path.GetFullPath(args[++i]); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}; usage: [--size 1GB] [--runs 5] [--out DIR] [--no-baseline] [--reverse] [--old DIR]"); return 2;
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
var model = Path.Combine(outDir, $"model-{size}.h5");
if (!File.Exists(model))
{
    Console.WriteLine($"generating {model} ...");
    Check(Run(PowerShell("generate.ps1", model, size.ToString(CultureInfo.InvariantCulture))), "generate.ps1");
}
var lstm512 = Path.Combine(outDir, "bilstm512x2.h5");
if (!File.Exists(lstm512)) Check(Run(PowerShell("generate.ps1", lstm512, "0", "1234", "512", "2")), "generate.ps1 (512)");
Console.WriteLine($"model: {new FileInfo(model).Length:N0} bytes");

bool haveBaseline = baseline && python is not null && Run([python, "-c", "import torch, h5py, numpy"]).ExitCode == 0;
if (baseline && !haveBaseline) Console.WriteLine("Python baseline skipped: /usr/bin/python3 with torch, h5py and numpy not found (Debian: apt-get install python3-torch python3-h5py).");
if (reverse) return Reverse();

var ours = new List<Sample>();
var theirs = new List<Sample>();
var oursOut = Path.Combine(outDir, "lstmport.pth");
var theirsOut = Path.Combine(outDir, "python.pth");
var convert = PowerShell("convert.ps1", model, oursOut);
for (int r = 0; r < runs; r++)
{
    ours.Add(Check(Run(convert), "convert.ps1"));
    if (haveBaseline) theirs.Add(Check(Run([python!, Path.Combine(bench, "baseline.py"), model, theirsOut]), "baseline.py"));
    Console.WriteLine($"  run {r + 1}: LstmPort {ours[^1]}" + (haveBaseline ? $"   Python {theirs[^1]}" : ""));
}

Console.WriteLine();
Console.WriteLine($"{"",-22} {"wall median",12} {"wall min-max",16} {"peak RSS median",16}");
Report("LstmPort (cmdlets)", ours);
if (haveBaseline)
{
    Report("Python (h5py+torch)", theirs);
    var equal = Run([python!, Path.Combine(bench, "compare.py"), oursOut, theirsOut]);
    Console.WriteLine($"outputs: {equal.Output.Trim()}");
    double wall = Median(ours.Select(s => s.Wall)) / Median(theirs.Select(s => s.Wall));
    double rss = Median(ours.Select(s => (double)s.PeakKb)) / Median(theirs.Select(s => (double)s.PeakKb));
    Console.WriteLine($"ratio LstmPort / Python: wall {wall:F2}, peak RSS {rss:F2}   (targets: at most 0.50 and 0.60)");
    if (equal.ExitCode != 0) { Console.Error.WriteLine("the two outputs differ"); return 1; }
}

Console.WriteLine();
var cmdlets = Check(Run(PowerShell("cmdlets.ps1", model, lstm512)), "cmdlets.ps1");
Console.WriteLine("cmdlet timings (ms, in one process):");
foreach (var line in cmdlets.Output.Split('\n').Where(l => l.Contains('\t'))) Console.WriteLine(line.TrimEnd());
var import = Enumerable.Range(0, 3).Select(_ => Check(Run(pwsh is not null
    ? [pwsh, "-NoProfile", "-Command", $"(Measure-Command {{ Import-Module '{psd1}' }}).TotalMilliseconds"]
    : ["dotnet", hostDll, "-Command", "'ready'"]), "Import-Module")).ToList();
Console.WriteLine(pwsh is not null
    ? $"Import-Module LstmPort (ms, median of 3 fresh pwsh): {Median(import.Select(s => double.Parse(s.Output.Trim(), CultureInfo.InvariantCulture))):F0}"
    : $"host start + Import-Module + a command (whole process, median of 3): {Median(import.Select(s => s.Wall)) * 1000:F0} ms");
return 0;

// The reverse path (.pth -> Keras .h5): the product (and an older build of it, --old) against
// torch.load + numpy + h5py and against cp + sync of the same .pth, alternating in one series.
int Reverse()
{
    if (!haveBaseline) { Console.Error.WriteLine("--reverse needs the Python baseline (it makes the .pth with torch.save)"); return 2; }
    var pth = Path.Combine(outDir, $"model-{size}.pth");
    if (!File.Exists(pth)) Check(Run([python!, Path.Combine(bench, "baseline.py"), model, pth]), "baseline.py (making the .pth)");
    Console.WriteLine($"source: {new FileInfo(pth).Length:N0} bytes (torch.save)");
    var series = new List<(string Name, string[] Command, string? Output, List<Sample> Samples)>
    {
        ("LstmPort", PowerShell("reverse.ps1", pth, Path.Combine(outDir, "lstmport.h5")), Path.Combine(outDir, "lstmport.h5"), []),
    };
    if (oldModule is not null)
        series.Add(("LstmPort (old)", PowerShellWith(Path.Combine(oldModule, "LstmPort.psd1"), "reverse.ps1", pth, Path.Combine(outDir, "lstmport-old.h5")), Path.Combine(outDir, "lstmport-old.h5"), []));
    series.Add(("Python (torch+h5py)", new[] { python!, Path.Combine(bench, "baseline_reverse.py"), pth, Path.Combine(outDir, "python.h5") }, Path.Combine(outDir, "python.h5"), []));
    var copy = Path.Combine(outDir, "copy.pth");
    series.Add(("cp + sync", new[] { "sh", "-c", $"rm -f '{copy}' && cp '{pth}' '{copy}' && sync '{copy}'" }, null, []));
    for (int r = 0; r < runs; r++)
    {
        // Rotate who goes first, so page cache and neighbours' load do not favour one.
        for (int k = 0; k < series.Count; k++)
        {
            var (name, command, _, samples) = series[(k + r) % series.Count];
            samples.Add(Check(Run(command), name));
        }
        Console.WriteLine($"  run {r + 1}: " + string.Join("   ", series.Select(x => $"{x.Name} {x.Samples[^1]}")));
    }
    Console.WriteLine();
    Console.WriteLine($"{"",-22} {"wall median",12} {"wall min-max",16} {"peak RSS median",16} {"minor faults",13} {"major",6} {"user",7} {"sys",7}");
    foreach (var x in series) Report(x.Name, x.Samples);
    var py = series.First(x => x.Name.StartsWith("Python"));
    var cp = series.First(x => x.Name == "cp + sync");
    int status = 0;
    foreach (var x in series.Where(x => x.Name.StartsWith("LstmPort")))
    {
        var equal = Run([python!, Path.Combine(bench, "compare_h5.py"), x.Output!, py.Output!]);
        Console.WriteLine($"{x.Name} vs Python output: {equal.Output.Trim()}");
        if (equal.ExitCode != 0) status = 1;
        Console.WriteLine($"ratio {x.Name} / Python: wall {Median(x.Samples.Select(s => s.Wall)) / Median(py.Samples.Select(s => s.Wall)):F2}, " +
            $"peak RSS {Median(x.Samples.Select(s => (double)s.PeakKb)) / Median(py.Samples.Select(s => (double)s.PeakKb)):F2}; " +
            $"wall / (cp + sync) {Median(x.Samples.Select(s => s.Wall)) / Median(cp.Samples.Select(s => s.Wall)):F1}   (targets: at most 0.50 and 0.50 of Python)");
    }
    return status;
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

record Sample(double Wall, long PeakKb, int ExitCode, string Output, string Error)
{
    public long MinorFaults { get; init; } = -1;
    public long MajorFaults { get; init; } = -1;
    public double User { get; init; }
    public double Sys { get; init; }

    public override string ToString() => $"{Wall:F2} s, {PeakKb / 1024} MB";
}
