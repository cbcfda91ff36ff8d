namespace LstmPort;

/// <summary>
/// Makes an <see cref="LstmPortException"/> whose runtime type is named after its ErrorId
/// (<c>LstmPort.Errors.ChecksumMismatch</c>). PowerShell wraps an exception thrown by a .NET method
/// in a MethodInvocationException and names the error record after the inner exception's type, so
/// this is how <c>$tensor.ToArray()</c> on damaged data reports <c>ChecksumMismatch</c> as its
/// FullyQualifiedErrorId instead of a generic one. The types derive from LstmPortException, so
/// engine code catches them as before.
/// </summary>
public static class ErrorIdException
{
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Type> Types = new(StringComparer.Ordinal);
    static readonly System.Reflection.Emit.ModuleBuilder Module =
        System.Reflection.Emit.AssemblyBuilder.DefineDynamicAssembly(new System.Reflection.AssemblyName("LstmPort.Errors"),
            System.Reflection.Emit.AssemblyBuilderAccess.Run).DefineDynamicModule("LstmPort.Errors");

    public static LstmPortException Create(string errorId, ErrorKind kind, string message, object? target = null, Exception? inner = null)
    {
        // Only identifier-like ids become type names; anything else stays a plain LstmPortException.
        if (!System.Text.RegularExpressions.Regex.IsMatch(errorId, "^[A-Z][A-Za-z0-9]{0,63}$"))
            return new LstmPortException(errorId, kind, message, target, inner);
        var type = Types.GetOrAdd(errorId, Define);
        return (LstmPortException)Activator.CreateInstance(type, errorId, kind, message, target, inner)!;
    }

    static Type Define(string errorId)
    {
        lock (Module)
        {
            var parameters = new[] { typeof(string), typeof(ErrorKind), typeof(string), typeof(object), typeof(Exception) };
            var tb = Module.DefineType("LstmPort.Errors." + errorId,
                System.Reflection.TypeAttributes.Public | System.Reflection.TypeAttributes.Sealed, typeof(LstmPortException));
            var ctor = tb.DefineConstructor(System.Reflection.MethodAttributes.Public, System.Reflection.CallingConventions.Standard, parameters);
            var il = ctor.GetILGenerator();
            il.Emit(System.Reflection.Emit.OpCodes.Ldarg_0);
            for (short i = 1; i <= parameters.Length; i++) il.Emit(System.Reflection.Emit.OpCodes.Ldarg, i);
            il.Emit(System.Reflection.Emit.OpCodes.Call, typeof(LstmPortException).GetConstructor(parameters)!);
            il.Emit(System.Reflection.Emit.OpCodes.Ret);
            return tb.CreateType();
        }
    }
}
