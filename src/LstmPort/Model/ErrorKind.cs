namespace LstmPort;

/// <summary>
/// How a failure is classified; the PowerShell layer maps it to an ErrorCategory. Each ErrorId has
/// exactly one kind, given by its entry in <see cref="ErrorIds.Catalogue"/>.
/// </summary>
public enum ErrorKind { InvalidData, ObjectNotFound, NotSupported, Security, InvalidArgument, ResourceExists, WriteError, ReadError, InvalidResult, ResourceUnavailable }
