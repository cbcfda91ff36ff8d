using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace LstmPort.Fuzz.Running;

/// <summary>What reading an input came to. Clean and Error keep the promise; the others break it.</summary>
public enum OutcomeClass
{
    /// <summary>Read, every tensor's data touched, no error (per-layer errors of the WeightFile count as clean).</summary>
    Clean,
    /// <summary>An LstmPortException with a catalogued PascalCase ErrorId (thrown or lazily thrown): what a damaged file should give.</summary>
    Error,
    /// <summary>Any other exception type reached the caller.</summary>
    Unwrapped,
    /// <summary>No answer within the time bound.</summary>
    Hang,
    /// <summary>The process died (stack overflow, abort, signal).</summary>
    Crash,
    /// <summary>Peak memory over the bound, or an allocation the heap limit refused (OutOfMemoryException).</summary>
    Memory,
    /// <summary>A hostile pickle's payload ran (its marker file appeared), or a hostile global was accepted without UnsafePickleGlobal.</summary>
    Payload,
}

/// <summary>One input's outcome: its class, the ErrorId or exception, and where it came from.</summary>
public sealed record Outcome
{
    public OutcomeClass Class { get; init; }
    public string? ErrorId { get; init; }
    public string? ExceptionType { get; init; }
    public string? Message { get; init; }
    /// <summary>The full exception (ToString) or the dying process's error output.</summary>
    public string? Detail { get; init; }
    public int Tensors { get; init; }
    public int LayerErrors { get; init; }
    public double Milliseconds { get; init; }
    public long PeakRssBytes { get; init; }

    /// <summary>The worker ends after this answer (it grew too large); the next input starts a new one.</summary>
    public bool WorkerExits { get; init; }

    [JsonIgnore] public bool IsFailure => Class is not (OutcomeClass.Clean or OutcomeClass.Error);

    /// <summary>
    /// What makes two failures the same defect: the class, the exception type and the top frames
    /// (the throw site and the first LstmPort frame), or for a crash its kind and repeating frame.
    /// </summary>
    public string Signature { get; init; } = "";
}

/// <summary>Builds failure signatures from stack traces.</summary>
public static partial class Signatures
{
    [GeneratedRegex(@"^\s*at (?<frame>[^\(\r\n]+)", RegexOptions.Multiline)]
    private static partial Regex Frame();

    [GeneratedRegex(@"\[\[.*\]\]")]
    private static partial Regex GenericArguments();

    [GeneratedRegex(@"(DisplayClass|__\w+\||`|>b__|>d__)\d+(_\d+)?")]
    private static partial Regex CompilerNumbers();

    /// <summary>"at Ns.Type.Method(args) in file:line" lines reduced to Ns.Type.Method; generic arguments and compiler-generated numbers dropped.</summary>
    public static List<string> Frames(string? stack) =>
        stack is null ? [] : Frame().Matches(stack)
            .Select(m => CompilerNumbers().Replace(GenericArguments().Replace(m.Groups["frame"].Value.Trim(), ""), "$1#")).ToList();

    public static bool Ours(string frame) => frame.StartsWith("LstmPort.", StringComparison.Ordinal) && !frame.StartsWith("LstmPort.Fuzz.", StringComparison.Ordinal);

    /// <summary>The throw site and the first frame in LstmPort's engine (the reader the fix belongs in).</summary>
    public static string Of(string cls, string type, IReadOnlyList<string> frames)
    {
        var top = frames.FirstOrDefault() ?? "?";
        var ours = frames.FirstOrDefault(Ours) ?? "?";
        return top == ours ? $"{cls} {type} at {top}" : $"{cls} {type} at {top} <- {ours}";
    }
}
