using System.Diagnostics;
using LstmPort.Formats;

namespace LstmPort.Fuzz.Running;

/// <summary>
/// Reads one input the way a user does (Get-LstmWeights and then using the data) and classifies what
/// happens: WeightReader.Read, then every tensor's data borrowed and summed, and ToArray on the first
/// few; every exception is judged by the promise in the contract (a catalogued ErrorId or nothing).
/// Runs in the worker process; in-process only for replays and tests that avoid the known crashes.
/// </summary>
public static class Reading
{
    /// <summary>The file a hostile pickle's payload would create in the worker's folder (the pickles the suite plants name it).</summary>
    public const string PayloadMarker = "lstmport-fuzz-payload";

    public static Outcome Read(string path, bool skipUnsafeObjects, int toArrayCount = 3)
    {
        var clock = Stopwatch.StartNew();
        int tensors = 0, layerErrors = 0;
        Exception? failure = null;
        LstmPortException? firstError = null;
        try
        {
            var file = WeightReader.Read(path, WeightFormat.Auto, new ReadOptions(SkipUnsafeObjects: skipUnsafeObjects));
            tensors = file.Tensors.Count;
            layerErrors = file.Errors.Count;
            foreach (var e in file.Errors)
                if (!Catalogued(e.ErrorId)) { failure = new InvalidOperationException($"a layer error has the ErrorId '{e.ErrorId}', which is not catalogued", e); break; }
            for (int i = 0; i < file.Tensors.Count && failure is null; i++)
            {
                var t = file.Tensors[i];
                try
                {
                    using (var lease = t.Borrow()) _ = lease.Tensor.numel();
                    _ = t.Sum();
                    if (i < toArrayCount) _ = t.ToArray();
                }
                // A tensor whose data fails keeps the others readable (Get-LstmWeights goes on): note the first error, read on.
                catch (LstmPortException e) when (Catalogued(e.ErrorId)) { firstError ??= e; }
            }
        }
        catch (Exception e) { failure = e; }
        return Classify(failure ?? firstError, tensors, layerErrors, clock.Elapsed.TotalMilliseconds);
    }

    public static bool Catalogued(string? id) =>
        id is not null && ErrorIds.Catalogue.ContainsKey(id) && id.Length > 0 && char.IsAsciiLetterUpper(id[0]) && id.All(char.IsAsciiLetterOrDigit);

    public static Outcome Classify(Exception? e, int tensors, int layerErrors, double ms)
    {
        if (e is null) return new Outcome { Class = OutcomeClass.Clean, Tensors = tensors, LayerErrors = layerErrors, Milliseconds = ms, Signature = "Clean" };
        // An allocation the heap limit refused is a memory failure wherever it surfaced (wrapped or not).
        for (var x = e; x is not null; x = x.InnerException)
            if (x is OutOfMemoryException oom)
                return Failure(OutcomeClass.Memory, oom, e, tensors, layerErrors, ms);
        if (e is LstmPortException lp && Catalogued(lp.ErrorId))
            return new Outcome
            {
                Class = OutcomeClass.Error, ErrorId = lp.ErrorId, ExceptionType = e.GetType().FullName, Message = e.Message,
                Tensors = tensors, LayerErrors = layerErrors, Milliseconds = ms, Signature = "Error " + lp.ErrorId,
            };
        return Failure(OutcomeClass.Unwrapped, e, e, tensors, layerErrors, ms);
    }

    static Outcome Failure(OutcomeClass cls, Exception at, Exception whole, int tensors, int layerErrors, double ms)
    {
        // The throw site is the innermost exception's top frame when a wrapper (TypeInitializationException, ...) hides it.
        var inner = at;
        while (inner.InnerException is not null && inner is not LstmPortException && cls == OutcomeClass.Unwrapped
               && inner is System.Reflection.TargetInvocationException or TypeInitializationException or AggregateException)
            inner = inner.InnerException;
        var frames = Signatures.Frames(inner.StackTrace);
        if (frames.Count == 0) frames = Signatures.Frames(whole.StackTrace);
        var type = inner == whole ? whole.GetType().FullName! : $"{whole.GetType().FullName}({inner.GetType().FullName})";
        return new Outcome
        {
            Class = cls, ExceptionType = type, Message = inner.Message, Detail = whole.ToString(),
            Tensors = tensors, LayerErrors = layerErrors, Milliseconds = ms,
            Signature = Signatures.Of(cls.ToString(), type, frames),
        };
    }
}
