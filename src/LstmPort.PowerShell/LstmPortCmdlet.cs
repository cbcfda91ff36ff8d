using System.Management.Automation;
using LstmPort.Formats;

namespace LstmPort.PowerShell;

/// <summary>What every LstmPort cmdlet shares: path resolution and turning engine failures into ErrorRecords.</summary>
public abstract class LstmPortCmdlet : PSCmdlet
{
    protected const string PathSet = "Path";
    protected const string LiteralPathSet = "LiteralPath";

    /// <summary>The record for an engine failure: its ErrorId, the id's category and its target.</summary>
    internal static ErrorRecord ToErrorRecord(LstmPortException e) => ToErrorRecord(e, e.ErrorId, e.Target);

    /// <summary>A record of the cmdlet's own, with a message and target, under a catalogued id.</summary>
    internal static ErrorRecord ToErrorRecord(string errorId, string message, object? target) =>
        ToErrorRecord(new LstmPortException(errorId, message, target));

    /// <summary>
    /// The one place an ErrorRecord is made. <paramref name="e"/> may be an exception from outside
    /// the engine (a provider's, an IOException); the category is always the catalogued one of
    /// <paramref name="errorId"/> (<see cref="ErrorIds.Catalogue"/>), so an id has one category.
    /// </summary>
    internal static ErrorRecord ToErrorRecord(Exception e, string errorId, object? target) =>
        new(e, errorId, Category(ErrorIds.KindOf(errorId)), target);

    static ErrorCategory Category(ErrorKind kind) => Enum.Parse<ErrorCategory>(ErrorIds.CategoryOf(kind));

    /// <summary>
    /// Resolves -Path (wildcards) or -LiteralPath through the FileSystem provider. A path that
    /// matches nothing is reported and skipped, so the other paths in the call are still read.
    /// </summary>
    protected IEnumerable<string> ResolveFiles(IEnumerable<string> paths, bool literal)
    {
        foreach (var p in paths)
        {
            IReadOnlyList<string> resolved;
            try { resolved = ResolveFileSystemPath(SessionState, p, literal); }
            catch (LstmPortException e) { WriteError(ToErrorRecord(e)); continue; }
            catch (ItemNotFoundException e) { WriteError(ToErrorRecord(e, ErrorIds.FileNotFound, p)); continue; }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException)
            { WriteError(ToErrorRecord(e, ErrorIds.InvalidPath, p)); continue; }

            foreach (var r in resolved) yield return r;
        }
    }

    /// <summary>
    /// -Config, resolved and checked once before any file is read: a path that names no Keras model
    /// config ends the command (FileNotFound, PathIsDirectory, NotKerasConfig), since every file
    /// would be read against it.
    /// </summary>
    protected string? ResolveConfig(string? config)
    {
        if (config is null) return null;
        string resolved;
        try { resolved = ResolveFileSystemPath(SessionState, config, literal: true).Single(); }
        catch (LstmPortException e) { ThrowTerminatingError(ToErrorRecord(e)); return null; }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException)
        { ThrowTerminatingError(ToErrorRecord(e, ErrorIds.InvalidPath, config)); return null; }
        try { LstmPort.Frameworks.Keras.KerasModelConfig.Load(resolved).Dispose(); }
        catch (LstmPortException e) { ThrowTerminatingError(ToErrorRecord(e)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { ThrowTerminatingError(ToErrorRecord(e, ErrorIds.FileReadError, resolved)); }
        return resolved;
    }

    /// <summary>
    /// Reads each file the paths resolve to. A file that cannot be read becomes an error record and
    /// the next one is still read; a reader's notes become warnings.
    /// </summary>
    protected IEnumerable<WeightFile> ReadFiles(IEnumerable<string> paths, bool literal, WeightFormat format, ReadOptions? options = null)
    {
        foreach (var file in ResolveFiles(paths, literal))
        {
            WeightFile weights;
            try { weights = WeightReader.Read(file, format, options); }
            catch (LstmPortException e) { WriteError(ToErrorRecord(e)); continue; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            { WriteError(ToErrorRecord(e, ErrorIds.FileReadError, file)); continue; }

            foreach (var n in weights.Notes) WriteVerbose($"{file}: {n}");
            foreach (var w in weights.Warnings) WriteWarning($"{file}: {w}");
            foreach (var e in weights.Errors) WriteError(ToErrorRecord(e));
            yield return weights;
        }
    }

    /// <summary>
    /// The file system paths one -Path (wildcards expand to the items that exist) or -LiteralPath
    /// names, resolved in <paramref name="state"/> (its location, drives and providers). A path
    /// without wildcards is not resolved against existing items: the reader reports a missing file
    /// by name. Throws the provider's exception when the path cannot be resolved, and
    /// NotAFileSystemPath when it is on another provider.
    /// </summary>
    internal static IReadOnlyList<string> ResolveFileSystemPath(SessionState state, string path, bool literal)
    {
        ProviderInfo provider;
        var resolved = !literal && WildcardPattern.ContainsWildcardCharacters(path)
            ? state.Path.GetResolvedProviderPathFromPSPath(path, out provider).ToList()
            : [state.Path.GetUnresolvedProviderPathFromPSPath(literal ? path : WildcardPattern.Unescape(path), out provider, out _)];
        if (provider.Name != "FileSystem")
            throw new LstmPortException(ErrorIds.NotAFileSystemPath,
                $"'{path}' is on the {provider.Name} provider; expected a file system path.", path);
        return resolved;
    }
}
