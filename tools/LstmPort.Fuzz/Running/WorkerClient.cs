using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LstmPort.Fuzz.Running;

/// <summary>
/// The parent side: starts a worker process, sends it one input at a time and turns what happens into
/// an Outcome. No answer within the time bound: the worker is killed (Hang). RSS over the bound while
/// reading: killed (Memory). The worker dies: Crash, with the kind read from its error output (stack
/// overflow, abort, signal). A dead or killed worker is started again for the next input.
/// </summary>
public sealed partial class WorkerClient : IDisposable
{
    readonly TimeSpan _timeout;
    readonly long _memoryLimit;
    readonly string _folder;
    Process? _process;
    BlockingCollection<string>? _lines;
    // What a dying worker prints: the head (the top frames) and a rolling tail (the bottom frames,
    // where the reader that recursed is), so a long stack overflow trace keeps both ends.
    readonly StringBuilder _stderr = new();
    readonly Queue<string> _tail = new();
    int _tailLength;
    const int HeadLimit = 1 << 20, TailLimit = 256 << 10;
    public int Starts { get; private set; }

    public WorkerClient(TimeSpan timeout, long memoryLimitBytes)
    {
        _timeout = timeout;
        _memoryLimit = memoryLimitBytes;
        _folder = Directory.CreateTempSubdirectory("lstmport-fuzz-worker-").FullName;
    }

    /// <summary>How to start a worker: this tool's own executable or dll with --worker.</summary>
    public static ProcessStartInfo StartInfo()
    {
        var dll = typeof(WorkerClient).Assembly.Location;
        var psi = new ProcessStartInfo { FileName = "dotnet" };
        var config = Path.ChangeExtension(dll, ".runtimeconfig.json");
        psi.ArgumentList.Add("exec");
        if (!File.Exists(config))
        {
            // Inside a test host the tool's runtimeconfig may be missing: borrow the host's.
            var host = Environment.GetCommandLineArgs()[0];
            var hostConfig = Path.ChangeExtension(host, ".runtimeconfig.json");
            if (File.Exists(hostConfig)) config = hostConfig;
        }
        if (File.Exists(config)) { psi.ArgumentList.Add("--runtimeconfig"); psi.ArgumentList.Add(config); }
        var deps = Path.ChangeExtension(dll, ".deps.json");
        if (File.Exists(deps)) { psi.ArgumentList.Add("--depsfile"); psi.ArgumentList.Add(deps); }
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--worker");
        return psi;
    }

    void Start()
    {
        var psi = StartInfo();
        psi.ArgumentList.Add("--memory-mb");
        psi.ArgumentList.Add((_memoryLimit >> 20).ToString());
        psi.RedirectStandardInput = psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.WorkingDirectory = _folder;
        // A managed allocation past the bound throws (and is reported with its stack) instead of growing.
        psi.Environment["DOTNET_GCHeapHardLimit"] = "0x" + _memoryLimit.ToString("x");
        psi.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        psi.Environment["DOTNET_gcServer"] = "0";
        psi.Environment["DOTNET_TieredPGO"] = "0";
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the fuzz worker");
        var lines = new BlockingCollection<string>();
        var stdout = new Thread(() =>
        {
            try { string? l; while ((l = p.StandardOutput.ReadLine()) is not null) lines.Add(l); }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { }
            finally { lines.CompleteAdding(); }
        }) { IsBackground = true };
        var stderr = new Thread(() =>
        {
            try
            {
                var buffer = new char[4096];
                int n;
                while ((n = p.StandardError.Read(buffer, 0, buffer.Length)) > 0)
                    lock (_stderr)
                    {
                        if (_stderr.Length < HeadLimit) { _stderr.Append(buffer, 0, n); continue; }
                        var chunk = new string(buffer, 0, n);
                        _tail.Enqueue(chunk);
                        _tailLength += chunk.Length;
                        while (_tailLength > TailLimit) _tailLength -= _tail.Dequeue().Length;
                    }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { }
        }) { IsBackground = true };
        stdout.Start();
        stderr.Start();
        _process = p;
        _lines = lines;
        Starts++;
        if (!lines.TryTake(out var ready, TimeSpan.FromSeconds(120)) || ready != Worker.Ready)
        {
            Kill();
            throw new InvalidOperationException($"the fuzz worker did not start: {ready} {StderrText()}");
        }
    }

    string StderrHead()
    {
        lock (_stderr) return _stderr.Length > 4096 ? _stderr.ToString(0, 4096) : _stderr.ToString();
    }

    string StderrText()
    {
        lock (_stderr) return _tail.Count == 0 ? _stderr.ToString() : _stderr + "\n...\n" + string.Concat(_tail);
    }

    public Outcome Run(WorkRequest request)
    {
        if (_process is null || _process.HasExited) Start();
        lock (_stderr) { _stderr.Clear(); _tail.Clear(); _tailLength = 0; }
        var clock = Stopwatch.StartNew();
        _process!.StandardInput.WriteLine(JsonSerializer.Serialize(request, Worker.Json));
        _process.StandardInput.Flush();
        long peak = 0;
        while (true)
        {
            if (_lines!.TryTake(out var line, 25))
            {
                if (!line.StartsWith(Worker.Prefix, StringComparison.Ordinal)) continue;
                var outcome = JsonSerializer.Deserialize<Outcome>(line[Worker.Prefix.Length..], Worker.Json)!;
                if (outcome.WorkerExits) { _process.WaitForExit(10000); Kill(); }
                return outcome;
            }
            if (_lines.IsCompleted || _process.HasExited)
            {
                _process.WaitForExit(2000);
                Thread.Sleep(50); // let the stderr reader drain
                int code = _process.HasExited ? _process.ExitCode : -1;
                var text = StderrText();
                Kill();
                return Crash(code, text, clock.Elapsed.TotalMilliseconds);
            }
            long rss = Memory.CurrentRss(_process.Id);
            peak = Math.Max(peak, rss);
            if (rss > _memoryLimit)
            {
                Kill();
                return new Outcome
                {
                    Class = OutcomeClass.Memory, Milliseconds = clock.Elapsed.TotalMilliseconds, PeakRssBytes = rss,
                    Signature = $"Memory RSS over {_memoryLimit >> 20} MB (killed)", Detail = $"RSS reached {rss >> 20} MB after {clock.Elapsed.TotalSeconds:F1} s",
                };
            }
            if (clock.Elapsed > _timeout)
            {
                // A worker that is printing a stack overflow is dying, not hanging: on a loaded machine
                // printing a deep trace outlasts the bound. Let it finish, then report the crash.
                if (StderrHead().Contains("Stack overflow.", StringComparison.Ordinal) && _process.WaitForExit(TimeSpan.FromSeconds(120)))
                {
                    Thread.Sleep(50);
                    var text = StderrText();
                    int code = _process.ExitCode;
                    Kill();
                    return Crash(code, text, clock.Elapsed.TotalMilliseconds);
                }
                Kill();
                return new Outcome
                {
                    Class = OutcomeClass.Hang, Milliseconds = clock.Elapsed.TotalMilliseconds, PeakRssBytes = peak,
                    Signature = $"Hang over {_timeout.TotalSeconds:F0} s", Detail = $"no answer after {_timeout.TotalSeconds:F0} s (peak RSS {peak >> 20} MB)",
                };
            }
        }
    }

    [GeneratedRegex(@"Repeat(?:ed)? (\d+) times:")]
    private static partial Regex Repeat();

    /// <summary>The crash's kind and frames from what the runtime printed as the process died.</summary>
    public static Outcome Crash(int exitCode, string stderr, double ms)
    {
        string kind;
        if (stderr.Contains("Stack overflow.", StringComparison.Ordinal)) kind = "StackOverflow";
        else if (stderr.Contains("Fatal error.", StringComparison.Ordinal)) kind = "FatalError";
        else if (exitCode > 128) kind = $"Signal{exitCode - 128}";
        else kind = $"Exit{exitCode}";
        var frames = Signatures.Frames(stderr);
        string top;
        if (kind == "StackOverflow")
        {
            // The recursion is named by its most frequent frame outside System (where the runtime starts a
            // printed cycle varies), plus the first LstmPort frame in it or below it: where the fix belongs.
            var rep = Repeat().Match(stderr);
            var cycle = rep.Success ? Signatures.Frames(stderr[rep.Index..].Split("--------------------------------").Skip(1).FirstOrDefault()) : frames;
            var loop = cycle.Where(f => !f.StartsWith("System.", StringComparison.Ordinal)).GroupBy(f => f)
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).FirstOrDefault() ?? cycle.FirstOrDefault() ?? "?";
            var ours = cycle.FirstOrDefault(Signatures.Ours) ?? frames.FirstOrDefault(Signatures.Ours) ?? "?";
            top = loop == ours ? $"recursion in {loop}" : $"recursion in {loop} <- {ours}";
        }
        else top = Signatures.Of("", "", frames).Trim();
        var detail = stderr.Length > 20000 ? stderr[..10000] + "\n...\n" + stderr[^10000..] : stderr;
        return new Outcome
        {
            Class = OutcomeClass.Crash, Milliseconds = ms, Signature = $"Crash {kind} {top}".TrimEnd(),
            Detail = $"exit code {exitCode}\n{detail}",
        };
    }

    void Kill()
    {
        if (_process is null) return;
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        try { _process.WaitForExit(5000); } catch (InvalidOperationException) { }
        _process.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            try { _process.StandardInput.Close(); _process.WaitForExit(3000); } catch (Exception e) when (e is IOException or InvalidOperationException) { }
        }
        Kill();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
