using System.Text;
using LstmPort.Fuzz.Mutators;
using LstmPort.Fuzz.Seeds;

namespace LstmPort.Fuzz.Running;

public sealed record CampaignOptions
{
    public long Seed { get; init; } = 1;
    public long Start { get; init; }
    public long Count { get; init; } = 1000;
    /// <summary>The seeds; null: the generated ones plus the fixtures (unless <see cref="NoFixtures"/>).</summary>
    public IReadOnlyList<SeedInput>? Seeds { get; init; }
    public string? Fixtures { get; init; }
    public bool NoFixtures { get; init; }
    public bool NoGenerated { get; init; }
    public IReadOnlySet<Family>? Families { get; init; }
    public IReadOnlyList<string>? Mutators { get; init; }
    /// <summary>Where every failing input is saved with its description and replay command (null: not saved).</summary>
    public string? Out { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    public long MemoryBytes { get; init; } = 2L << 30;
    public int Jobs { get; init; } = 1;
    /// <summary>Stop once this many failures were seen (0: never).</summary>
    public int StopAfterFailures { get; init; }
    /// <summary>Stop once this many crashes, hangs and memory failures were seen (each costs a worker restart or the whole timeout; 0: never).</summary>
    public int StopAfterExpensive { get; init; }
    /// <summary>Read in this process (no protection from crashes and hangs; for debugging).</summary>
    public bool InProcess { get; init; }
    public Action<string>? Log { get; init; }
}

/// <summary>A failure as it is reported: the outcome, what the mutant was, where its input was saved.</summary>
public sealed record Failure(long Index, string SeedName, Family Family, string Mutators, string Description, long Bytes, Outcome Outcome, string? SavedAt);

/// <summary>The tallies of a campaign and every failure, grouped by signature.</summary>
public sealed class CampaignResult
{
    public long Files;
    public readonly Dictionary<OutcomeClass, long> Classes = Enum.GetValues<OutcomeClass>().ToDictionary(c => c, _ => 0L);
    public readonly SortedDictionary<string, long> ErrorIds = new(StringComparer.Ordinal);
    public readonly List<Failure> Failures = [];
    public long LayerErrors, Tensors;
    /// <summary>Mutants with a hostile pickle global: how many, and how many were refused with UnsafePickleGlobal.</summary>
    public long Hostile, HostileRefused;
    public TimeSpan Elapsed;
    public int WorkerStarts;
    public long Seed;

    public IEnumerable<IGrouping<string, Failure>> BySignature =>
        Failures.GroupBy(f => f.Outcome.Signature).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal);

    public string Table()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"files      {Files,9}   ({Elapsed.TotalSeconds:F0} s, {Files / Math.Max(1, Elapsed.TotalSeconds):F0}/s, {WorkerStarts} worker starts)");
        sb.AppendLine($"clean      {Classes[OutcomeClass.Clean],9}   ({LayerErrors} per-layer errors inside clean reads, {Tensors} tensors read)");
        sb.AppendLine($"errors     {Classes[OutcomeClass.Error],9}");
        foreach (var (id, n) in ErrorIds.OrderByDescending(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal))
            sb.AppendLine($"  {id,-24}{n,9}");
        sb.AppendLine($"unwrapped  {Classes[OutcomeClass.Unwrapped],9}");
        sb.AppendLine($"hangs      {Classes[OutcomeClass.Hang],9}");
        sb.AppendLine($"crashes    {Classes[OutcomeClass.Crash],9}");
        sb.AppendLine($"memory     {Classes[OutcomeClass.Memory],9}");
        sb.AppendLine($"payloads   {Classes[OutcomeClass.Payload],9}   ({Hostile} hostile pickles read, {HostileRefused} refused with UnsafePickleGlobal, the others with another error or under -SkipUnsafeObjects)");
        return sb.ToString();
    }

    /// <summary>The table, then each distinct failure signature with its count, smallest reproducer and replay command.</summary>
    public string Report(string? replayExtra = null)
    {
        var sb = new StringBuilder(Table());
        var groups = BySignature.ToList();
        sb.AppendLine($"distinct failure signatures: {groups.Count}");
        foreach (var g in groups)
        {
            var smallest = g.MinBy(f => f.Bytes)!;
            sb.AppendLine($"  [{g.Count()}] {g.Key}");
            sb.AppendLine($"      e.g. #{smallest.Index} {smallest.SeedName} ({smallest.Bytes} bytes): {Trim(smallest.Description, 240)}");
            if (smallest.Outcome.Message is { } m) sb.AppendLine($"      message: {Trim(m, 240)}");
            sb.AppendLine(smallest.SavedAt is { } at
                ? $"      replay: dotnet run --project tools/LstmPort.Fuzz -- --replay {at}"
                : $"      replay: dotnet run --project tools/LstmPort.Fuzz -- --seed {Seed} --index {smallest.Index}{replayExtra}");
        }
        return sb.ToString();
    }

    static string Trim(string s, int n) => s.Length <= n ? s.ReplaceLineEndings(" ") : s[..n].ReplaceLineEndings(" ") + "...";
}

/// <summary>Runs mutants through workers and tallies what happens.</summary>
public static class Campaign
{
    public static IReadOnlyList<SeedInput> LoadSeeds(CampaignOptions o)
    {
        var seeds = new List<SeedInput>();
        if (!o.NoGenerated) seeds.AddRange(GeneratedSeeds.All);
        if (!o.NoFixtures)
        {
            var dir = Corpus.FindFixtures(o.Fixtures, Corpus.RepoRoot(AppContext.BaseDirectory) ?? Corpus.RepoRoot(Environment.CurrentDirectory));
            if (dir is not null) seeds.AddRange(Corpus.Fixtures(dir));
        }
        return seeds;
    }

    public static IReadOnlyList<SeedInput> Filter(IReadOnlyList<SeedInput> seeds, IReadOnlySet<Family>? families) =>
        families is null ? seeds : seeds.Where(s => families.Contains(s.Family)).ToList();

    /// <summary>A clean read of a hostile pickle (without -SkipUnsafeObjects) breaks the promise as surely as a payload that ran.</summary>
    public static Outcome Judge(Mutant m, Outcome o) =>
        m.Hostile && !m.SkipUnsafeObjects && o.Class == OutcomeClass.Clean
            ? o with { Class = OutcomeClass.Payload, Signature = "Payload hostile global accepted without UnsafePickleGlobal", Detail = m.Description }
            : o;

    public static CampaignResult Run(CampaignOptions o)
    {
        var seeds = Filter(o.Seeds ?? LoadSeeds(o), o.Families);
        if (seeds.Count == 0) throw new InvalidOperationException("no seeds for the formats asked for");
        var planner = new Planner(seeds, MutatorSet.Select(o.Mutators), o.Seed);
        var result = new CampaignResult { Seed = o.Seed };
        var work = Directory.CreateTempSubdirectory("lstmport-fuzz-run-");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long next = o.Start, end = o.Start + o.Count;
        bool stop = false;
        var lastLog = TimeSpan.Zero;
        void Worker(int job)
        {
            using var client = o.InProcess ? null : new WorkerClient(o.Timeout, o.MemoryBytes);
            var dir = Path.Combine(work.FullName, $"job{job}");
            while (!Volatile.Read(ref stop))
            {
                long i = Interlocked.Increment(ref next) - 1;
                if (i >= end) break;
                var mutant = planner.Plan(i);
                var path = mutant.WriteTo(dir);
                var outcome = client is null
                    ? Running.Worker.Handle(new WorkRequest(path, mutant.SkipUnsafeObjects), o.MemoryBytes)
                    : client.Run(new WorkRequest(path, mutant.SkipUnsafeObjects));
                outcome = Judge(mutant, outcome);
                if (outcome.Class is OutcomeClass.Hang or OutcomeClass.Memory && outcome.ExceptionType is null)
                    outcome = outcome with { Signature = $"{outcome.Signature} [{mutant.Seed.Family}: {mutant.Mutators}]" };
                string? saved = null;
                if (outcome.IsFailure && o.Out is not null) saved = Save(o.Out, mutant, outcome);
                lock (result)
                {
                    result.Files++;
                    result.Classes[outcome.Class]++;
                    result.LayerErrors += outcome.LayerErrors;
                    result.Tensors += outcome.Tensors;
                    if (outcome.Class == OutcomeClass.Error) result.ErrorIds[outcome.ErrorId!] = result.ErrorIds.GetValueOrDefault(outcome.ErrorId!) + 1;
                    if (mutant.Hostile)
                    {
                        result.Hostile++;
                        if (outcome.ErrorId == LstmPort.ErrorIds.UnsafePickleGlobal) result.HostileRefused++;
                    }
                    if (outcome.IsFailure)
                    {
                        result.Failures.Add(new Failure(i, mutant.Seed.Name, mutant.Seed.Family, mutant.Mutators, mutant.Description, mutant.TotalBytes, outcome, saved));
                        if (o.StopAfterFailures > 0 && result.Failures.Count >= o.StopAfterFailures) Volatile.Write(ref stop, true);
                        if (o.StopAfterExpensive > 0 && result.Failures.Count(f => f.Outcome.Class is OutcomeClass.Crash or OutcomeClass.Hang or OutcomeClass.Memory) >= o.StopAfterExpensive)
                            Volatile.Write(ref stop, true);
                    }
                    if (o.Log is not null && (clock.Elapsed - lastLog).TotalSeconds >= 5)
                    {
                        lastLog = clock.Elapsed;
                        var c = result.Classes;
                        o.Log($"[{clock.Elapsed.TotalSeconds,5:F0} s] {result.Files}/{o.Count}  clean {c[OutcomeClass.Clean]}  error {c[OutcomeClass.Error]}  unwrapped {c[OutcomeClass.Unwrapped]}  hang {c[OutcomeClass.Hang]}  crash {c[OutcomeClass.Crash]}  memory {c[OutcomeClass.Memory]}  payload {c[OutcomeClass.Payload]}  ({result.Files / clock.Elapsed.TotalSeconds:F0}/s)");
                    }
                }
            }
            if (client is not null) lock (result) result.WorkerStarts += client.Starts;
        }
        var threads = Enumerable.Range(0, Math.Max(1, o.Jobs)).Select(j => new Thread(() => Worker(j), 16 << 20)).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        result.Elapsed = clock.Elapsed;
        try { work.Delete(recursive: true); } catch (IOException) { }
        if (o.Out is not null)
        {
            Directory.CreateDirectory(o.Out);
            File.WriteAllText(Path.Combine(o.Out, "summary.txt"), result.Report());
        }
        return result;
    }

    /// <summary>Saves a failing input with a one-line description, the outcome in full and its replay command.</summary>
    public static string Save(string outDir, Mutant m, Outcome outcome)
    {
        var dir = Path.GetFullPath(Path.Combine(outDir, $"{m.Index:D8}-{outcome.Class.ToString().ToLowerInvariant()}"));
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        var input = Path.Combine(dir, "input");
        m.WriteTo(input);
        File.WriteAllText(Path.Combine(dir, "mutation.txt"), Describe(m, outcome, dir));
        File.WriteAllText(Path.Combine(dir, "outcome.txt"), $"{outcome.Signature}\n{outcome.Message}\n\n{outcome.Detail}\n");
        return dir;
    }

    public static string Describe(Mutant m, Outcome outcome, string dir) => new StringBuilder()
        .AppendLine($"mutation: {m.Description}")
        .AppendLine($"input: {m.Seed.Name} ({m.Seed.Family}, {m.Seed.Origin})")
        .AppendLine($"mutators: {m.Mutators}")
        .AppendLine($"seed: {m.CampaignSeed}")
        .AppendLine($"index: {m.Index}")
        .AppendLine($"read: input/{m.ReadPath}")
        .AppendLine($"skip-unsafe-objects: {(m.SkipUnsafeObjects ? "true" : "false")}")
        .AppendLine($"hostile: {(m.Hostile ? "true" : "false")}")
        .AppendLine($"outcome: {outcome.Signature}")
        .AppendLine($"replay: dotnet run --project tools/LstmPort.Fuzz -- --replay {dir}")
        .ToString();
}
