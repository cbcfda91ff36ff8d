using System.Text.Json;

namespace LstmPort.Fuzz.Running;

/// <summary>A request to the worker: read this path.</summary>
public sealed record WorkRequest(string Path, bool SkipUnsafeObjects, int ToArrayCount = 3);

/// <summary>
/// The child side (LstmPort.Fuzz --worker): reads one request per line on stdin, answers one
/// "@@FUZZ {json}" line per request on stdout. Anything else the process prints goes to stderr.
/// Runs in its own folder, so a hostile pickle's payload marker would appear there; measures its
/// peak RSS per request (VmHWM, reset through /proc/self/clear_refs).
/// </summary>
public static class Worker
{
    public const string Ready = "@@READY", Prefix = "@@FUZZ ";
    public static readonly JsonSerializerOptions Json = new() { IncludeFields = false };

    public static int Run(long memoryLimitBytes)
    {
        var protocol = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        Console.SetOut(Console.Error);
        protocol.WriteLine(Ready);
        string? line;
        while ((line = Console.In.ReadLine()) is not null)
        {
            var request = JsonSerializer.Deserialize<WorkRequest>(line, Json)!;
            var outcome = Handle(request, memoryLimitBytes);
            // A worker that grew (pools, leaks of earlier reads) is replaced, so the next input starts clean.
            bool exits = Memory.CurrentRss() > memoryLimitBytes / 2;
            protocol.WriteLine(Prefix + JsonSerializer.Serialize(outcome with { WorkerExits = exits }, Json));
            if (exits) return 0;
        }
        return 0;
    }

    public static Outcome Handle(WorkRequest request, long memoryLimitBytes)
    {
        var markers = Markers(request.Path);
        foreach (var m in markers) TryDelete(m);
        Memory.ResetPeak();
        var outcome = Reading.Read(request.Path, request.SkipUnsafeObjects, request.ToArrayCount);
        long peak = Memory.PeakRss();
        outcome = outcome with { PeakRssBytes = peak };
        var ran = markers.FirstOrDefault(File.Exists);
        if (ran is not null)
        {
            TryDelete(ran);
            return outcome with { Class = OutcomeClass.Payload, Signature = "Payload marker file created", Detail = $"{ran} appeared while reading; outcome was {outcome.Signature}" };
        }
        if (peak > memoryLimitBytes && outcome.Class is OutcomeClass.Clean or OutcomeClass.Error)
            return outcome with { Class = OutcomeClass.Memory, Signature = $"Memory peak RSS over {memoryLimitBytes >> 20} MB ({outcome.Signature})", Detail = $"peak RSS {peak >> 20} MB; outcome {outcome.Signature}" };
        return outcome;
    }

    /// <summary>Where a payload would leave the marker: the worker's folder and the input's folder.</summary>
    static string[] Markers(string path)
    {
        var dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return [Path.GetFullPath(Reading.PayloadMarker), Path.Combine(dir, Reading.PayloadMarker)];
    }

    static void TryDelete(string p) { try { if (File.Exists(p)) File.Delete(p); } catch (IOException) { } }
}

/// <summary>Resident memory of this or another process, from /proc (0 where there is no /proc).</summary>
public static class Memory
{
    public static long CurrentRss(int? pid = null) => Field(pid, "VmRSS:");
    public static long PeakRss() => Field(null, "VmHWM:");

    /// <summary>Resets VmHWM so the next peak is this request's own.</summary>
    public static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    static long Field(int? pid, string name)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{(pid is int p ? p.ToString() : "self")}/status"))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return long.Parse(line[name.Length..].Trim().Split(' ')[0]) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return 0;
    }
}
