namespace LstmPort;

/// <summary>
/// A failure the user can act on, with a stable PascalCase <see cref="ErrorId"/> that scripts can
/// match (e.g. <c>TruncatedFile</c>, <c>UnsafePickleGlobal</c>) and the file or tensor it concerns.
/// </summary>
public class LstmPortException(string errorId, ErrorKind kind, string message, object? target = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string ErrorId { get; } = errorId;
    public ErrorKind Kind { get; } = kind;
    public object? Target { get; } = target;
}
