using LstmPort.Fuzz.Mutators;
using LstmPort.Fuzz.Running;
using LstmPort.Fuzz.Seeds;

namespace LstmPort.Fuzz;

/// <summary>
/// The command line of the hostile-file suite. A campaign:
///   dotnet run -c Release --project tools/LstmPort.Fuzz -- --seed 1 --count 100000 [--fixtures DIR] [--out DIR] [--formats hdf5,torch,...]
/// prints progress and a final table, and saves every failing input into --out with its replay command:
///   dotnet run --project tools/LstmPort.Fuzz -- --replay DIR
/// One mutant again: --seed S --index N [--formats ...] [--no-fixtures] [--out DIR].
/// </summary>
public static class Program
{
    const string Usage = """
        LstmPort.Fuzz: reads mutated weight files of every format LstmPort reads and reports what breaks.

          --seed N            campaign seed (default 1); the same seed and index give the same bytes
          --count N           mutants to run (default 1000)       --start N   first index (default 0)
          --index N           run the one mutant N (write it to --out, read it, print the outcome)
          --formats LIST      hdf5, keras-archive, torch, legacy, safetensors, tf, savedmodel, graphdef, onnx
          --mutators LIST     only these mutators (names as in the report, e.g. h5-links,pickle-hostile)
          --fixtures DIR      real files to mutate too (default: LSTMPORT_TEST_FIXTURES or ../shared/fixtures)
          --no-fixtures       generated seeds only (what CI runs)     --no-generated   fixtures only
          --out DIR           save every failing input there, with mutation.txt, outcome.txt and summary.txt
          --timeout S         seconds before a read counts as a hang (default 10)
          --memory-mb N       peak memory bound of a read (default 2048)
          --jobs N            worker processes in parallel (default 1)
          --stop-after N      stop after N failures
          --in-process        read in this process (no protection; debugging)
          --replay PATH       read a saved failure folder (or any path) in a worker and print the outcome in full
          --list-seeds        print the seeds and exit
          --write-seeds DIR   write the generated seeds into DIR and exit
        """;

    public static int Main(string[] args)
    {
        try { return Run(args); }
        catch (ArgumentException e) { Console.Error.WriteLine(e.Message); Console.Error.WriteLine(Usage); return 2; }
    }

    static int Run(string[] args)
    {
        var a = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument '{args[i]}'");
            bool flag = i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal);
            a[args[i][2..]] = flag ? null : args[++i];
        }
        long Num(string k, long d) => a.TryGetValue(k, out var v) && v is not null ? long.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : d;
        long memory = Num("memory-mb", 2048) << 20;

        if (a.ContainsKey("help")) { Console.WriteLine(Usage); return 0; }
        if (a.ContainsKey("worker")) return Worker.Run(memory);

        var families = a.TryGetValue("formats", out var f) && f is not null ? f.Split(',').Select(Corpus.ParseFamily).ToHashSet() : null;
        var options = new CampaignOptions
        {
            Seed = Num("seed", 1), Start = Num("start", 0), Count = Num("count", 1000),
            Fixtures = a.GetValueOrDefault("fixtures"), NoFixtures = a.ContainsKey("no-fixtures"), NoGenerated = a.ContainsKey("no-generated"),
            Families = families, Mutators = a.TryGetValue("mutators", out var m) && m is not null ? m.Split(',') : null,
            Out = a.GetValueOrDefault("out"), Timeout = TimeSpan.FromSeconds(Num("timeout", 10)), MemoryBytes = memory,
            Jobs = (int)Num("jobs", 1), StopAfterFailures = (int)Num("stop-after", 0), InProcess = a.ContainsKey("in-process"),
            Log = Console.WriteLine,
        };

        if (a.TryGetValue("replay", out var replay))
            return Replay(replay ?? throw new ArgumentException("--replay needs a path"), options);
        if (a.TryGetValue("write-seeds", out var ws))
        {
            foreach (var s in GeneratedSeeds.All)
            {
                var dir = Path.Combine(ws ?? "seeds", s.Name.Replace("gen:", "").Replace('/', '_'));
                new Mutant(s, 0, 0, "none", "unchanged", s.Files, false, false).WriteTo(dir);
            }
            Console.WriteLine($"{GeneratedSeeds.All.Count} seeds written to {ws}");
            return 0;
        }
        var seeds = Campaign.Filter(Campaign.LoadSeeds(options), families);
        if (a.ContainsKey("list-seeds"))
        {
            foreach (var s in seeds) Console.WriteLine($"{s.Family,-13} {s.TotalBytes,9}  {s.Name}");
            return 0;
        }
        if (a.ContainsKey("index"))
            return One(seeds, options, Num("index", 0));

        Console.WriteLine($"LstmPort.Fuzz: seed {options.Seed}, mutants {options.Start}..{options.Start + options.Count - 1}, " +
                          $"{seeds.Count} seeds ({seeds.Count(s => s.Origin == "fixture")} fixtures), {MutatorSet.Select(options.Mutators).Count} mutators, " +
                          $"timeout {options.Timeout.TotalSeconds:F0} s, memory {memory >> 20} MB{(options.Out is null ? "" : ", failures saved in " + Path.GetFullPath(options.Out))}");
        var result = Campaign.Run(options with { Seeds = seeds });
        var extra = (families is null ? "" : " --formats " + a["formats"]) + (options.NoFixtures ? " --no-fixtures" : "");
        Console.WriteLine();
        Console.WriteLine(result.Report(extra));
        foreach (var (name, (count, first)) in Planner.MutatorErrors.OrderBy(e => e.Key, StringComparer.Ordinal))
            Console.Error.WriteLine($"mutator bug: {name} threw {count} times; first: {first.Split('\n')[0]}");
        return result.Failures.Count == 0 ? 0 : 1;
    }

    /// <summary>One mutant by seed and index: written out, read in a worker, described.</summary>
    static int One(IReadOnlyList<SeedInput> seeds, CampaignOptions o, long index)
    {
        var mutant = new Planner(seeds, MutatorSet.Select(o.Mutators), o.Seed).Plan(index);
        var dir = Path.GetFullPath(o.Out ?? Path.Combine(Path.GetTempPath(), $"lstmport-fuzz-{o.Seed}-{index}"));
        var outcome = Read(mutant.WriteTo(Path.Combine(dir, "input")), mutant.SkipUnsafeObjects, o);
        outcome = Campaign.Judge(mutant, outcome);
        File.WriteAllText(Path.Combine(dir, "mutation.txt"), Campaign.Describe(mutant, outcome, dir));
        File.WriteAllText(Path.Combine(dir, "outcome.txt"), $"{outcome.Signature}\n{outcome.Message}\n\n{outcome.Detail}\n");
        Console.WriteLine(File.ReadAllText(Path.Combine(dir, "mutation.txt")));
        Print(outcome);
        return outcome.IsFailure ? 1 : 0;
    }

    static int Replay(string path, CampaignOptions o)
    {
        string read = path;
        bool skip = false;
        var description = Path.Combine(path, "mutation.txt");
        if (Directory.Exists(path) && File.Exists(description))
        {
            foreach (var line in File.ReadAllLines(description))
            {
                if (line.StartsWith("read: ", StringComparison.Ordinal)) read = Path.Combine(path, line["read: ".Length..]);
                if (line.StartsWith("skip-unsafe-objects: true", StringComparison.Ordinal)) skip = true;
            }
            Console.WriteLine(File.ReadAllText(description));
        }
        var outcome = Read(read, skip, o);
        if (File.Exists(description) && File.ReadAllText(description).Contains("hostile: true") && !skip && outcome.Class == OutcomeClass.Clean)
            outcome = outcome with { Class = OutcomeClass.Payload, Signature = "Payload hostile global accepted without UnsafePickleGlobal" };
        Print(outcome);
        return outcome.IsFailure ? 1 : 0;
    }

    static Outcome Read(string path, bool skip, CampaignOptions o)
    {
        if (o.InProcess) return Worker.Handle(new WorkRequest(path, skip), o.MemoryBytes);
        using var client = new WorkerClient(o.Timeout, o.MemoryBytes);
        return client.Run(new WorkRequest(path, skip));
    }

    static void Print(Outcome outcome)
    {
        Console.WriteLine($"outcome: {outcome.Class}  {outcome.Signature}");
        if (outcome.ErrorId is not null) Console.WriteLine($"ErrorId: {outcome.ErrorId}");
        if (outcome.Message is not null) Console.WriteLine($"message: {outcome.Message}");
        Console.WriteLine($"tensors: {outcome.Tensors}, layer errors: {outcome.LayerErrors}, {outcome.Milliseconds:F0} ms, peak RSS {outcome.PeakRssBytes >> 20} MB");
        if (outcome.Detail is not null) Console.WriteLine(outcome.Detail);
    }
}
