using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LstmPort.Runtime;

/// <summary>
/// Loads libtorch and LibTorchSharp from the folder TorchSharp.dll sits in, by full path, before
/// TorchSharp asks for them by bare name. A bare-name load can bind to another libtorch on the
/// machine (Debian's python3-torch installs one into the system library path) and crash on the
/// first call. Loading is deferred until a tensor is needed, so importing the module stays fast.
/// </summary>
public static class TorchRuntime
{
    static readonly Lazy<string> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    static readonly Dictionary<string, IntPtr> Handles = new(StringComparer.Ordinal);

    /// <summary>The folder the natives were loaded from.</summary>
    public static string NativeDirectory => Loaded.Value;

    public static void EnsureLoaded() => _ = Loaded.Value;

    static string Load()
    {
        var dir = Path.GetDirectoryName(typeof(torch).Assembly.Location)
                  ?? throw new TorchLoadException("cannot locate TorchSharp.dll");
        string[] order;
        if (OperatingSystem.IsWindows())
            order = ["c10.dll", "torch_cpu.dll", "torch.dll", "LibTorchSharp.dll"];
        else if (OperatingSystem.IsMacOS())
            order = ["libc10.dylib", "libtorch_cpu.dylib", "libtorch.dylib", "libLibTorchSharp.dylib"];
        else
            order = ["libc10.so", "libtorch_cpu.so", "libtorch.so", "libLibTorchSharp.so"];

        foreach (var file in order)
        {
            var path = Path.Combine(dir, file);
            if (!File.Exists(path))
                throw new TorchLoadException($"the native library {file} is missing from {dir}; rebuild the module for this platform");
            try { Handles[file] = NativeLibrary.Load(path); }
            catch (Exception e) { throw new TorchLoadException($"cannot load {path}: {e.Message}", e); }
        }

        // Any later DllImport of these names resolves to the handles above, never to a search.
        NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve);
        torch.InitializeDeviceType(DeviceType.CPU);
        return dir;
    }

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name.Contains("LibTorchSharp", StringComparison.Ordinal)
            ? Handles.First(h => h.Key.Contains("LibTorchSharp", StringComparison.Ordinal)).Value
            : IntPtr.Zero;
}

/// <summary>libtorch could not be loaded (ErrorId <c>TorchLoadFailed</c>).</summary>
public sealed class TorchLoadException(string message, Exception? inner = null)
    : LstmPortException(ErrorIds.TorchLoadFailed, "libtorch could not be loaded: " + message, null, inner);
