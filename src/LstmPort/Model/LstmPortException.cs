namespace LstmPort;

/// <summary>
/// A failure the user can act on, with a stable PascalCase <see cref="ErrorId"/> that scripts can
/// match (e.g. <c>TruncatedFile</c>, <c>UnsafePickleGlobal</c>) and the file or tensor it concerns.
/// The id is one of <see cref="ErrorIds"/>; its <see cref="Kind"/> comes from the catalogue, so an
/// id always has the same ErrorCategory. An id missing from the catalogue throws ArgumentException.
/// </summary>
public class LstmPortException(string errorId, string message, object? target = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string ErrorId { get; } = errorId;
    public ErrorKind Kind { get; } = ErrorIds.KindOf(errorId);
    public object? Target { get; } = target;
}
