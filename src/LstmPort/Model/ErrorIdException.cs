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

    /// <summary>The exception for a catalogued <paramref name="errorId"/> (one of <see cref="ErrorIds"/>); any other id throws ArgumentException.</summary>
    public static LstmPortException Create(string errorId, string message, object? target = null, Exception? inner = null)
    {
        // Every catalogued id is a PascalCase identifier, so it can name a type.
        _ = ErrorIds.KindOf(errorId);
        var type = Types.GetOrAdd(errorId, Define);
        return (LstmPortException)Activator.CreateInstance(type, errorId, message, target, inner)!;
    }

    static Type Define(string errorId)
    {
        lock (Module)
        {
            var parameters = new[] { typeof(string), typeof(string), typeof(object), typeof(Exception) };
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
