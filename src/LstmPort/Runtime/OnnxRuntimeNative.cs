using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace LstmPort.Runtime;

/// <summary>
/// Loads the ONNX Runtime native library from the folder Microsoft.ML.OnnxRuntime.dll sits in, by
/// full path, before the managed API asks for it by bare name (as <see cref="TorchRuntime"/> does for
/// libtorch): the module folder out/LstmPort holds it beside the managed assembly, and so does a test
/// project's output folder. Deferred until an ONNX layer is run.
/// </summary>
public static class OnnxRuntimeNative
{
    static readonly Lazy<IntPtr> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static void EnsureLoaded() => _ = Loaded.Value;

    static string FileName =>
        OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";

    static IntPtr Load()
    {
        var assembly = typeof(InferenceSession).Assembly;
        var dir = Path.GetDirectoryName(assembly.Location) ?? "";
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path))
            throw new LstmPortException(ErrorIds.OnnxRuntimeLoadFailed, $"ONNX Runtime could not be loaded: {FileName} is missing from {dir}; rebuild the module for this platform.");
        IntPtr handle;
        try { handle = NativeLibrary.Load(path); }
        catch (Exception e) { throw new LstmPortException(ErrorIds.OnnxRuntimeLoadFailed, $"ONNX Runtime could not be loaded from {path}: {e.Message}", null, e); }
        try { NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => name.Contains("onnxruntime", StringComparison.Ordinal) && !name.Contains("providers", StringComparison.Ordinal) ? handle : IntPtr.Zero); }
        catch (InvalidOperationException) { } // a resolver is set already (by the library itself): the handle loaded above still binds the name
        return handle;
    }
}
