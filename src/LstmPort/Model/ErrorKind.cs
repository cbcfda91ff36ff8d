namespace LstmPort;

/// <summary>How a failure is classified; the PowerShell layer maps it to an ErrorCategory.</summary>
public enum ErrorKind { InvalidData, ObjectNotFound, NotSupported, Security, InvalidArgument, ResourceExists, WriteError, ReadError }
