using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using TorchSharp;
using LstmPort.Formats;
using LstmPort.Conversion;
using LstmPort.Runtime;

namespace LstmPort.Bench.Micro;

/// <summary>
/// The three stages of Keras file to .pth, each measured alone on the same deterministic file:
/// one Bidirectional LSTM(h), input h/2, plus Dense(1), h chosen so the file has about
/// LSTMPORT_BENCH_MB megabytes (default 64: h = 1184, input 592).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcess))]
public class StageBenchmarks
{
    /// <summary>
    /// A short job (1 launch, 1 warmup, 5 iterations), run in this process: the project BenchmarkDotNet
    /// generates for a separate process is built without the runtime identifier, so the libtorch
    /// natives are missing beside it and TorchSharp cannot load.
    /// </summary>
    sealed class ShortInProcess : ManualConfig
    {
        public ShortInProcess() =>
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5)
                .WithToolchain(InProcessEmitToolchain.Instance).WithId("ShortInProcess"));
    }

    string _dir = "";
    string _kerasPath = "";
    string _torchPath = "";
    List<LstmTensor> _loaded = [];      // Keras tensors with their data in memory (Transform's input)
    List<LstmTensor> _converted = [];   // Torch tensors already computed (Write's input)

    public static long TargetBytes =>
        (long.TryParse(Environment.GetEnvironmentVariable("LSTMPORT_BENCH_MB"), out var mb) && mb > 0 ? mb : 64) * 1024 * 1024;

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.EnsureLoaded();
        _dir = Directory.CreateTempSubdirectory("lstmport-bench-micro-").FullName;
        _kerasPath = Path.Combine(_dir, "model.weights.h5");
        _torchPath = Path.Combine(_dir, "model.pth");

        // A bidirectional layer holds 2 * (in + h) * 4h float32 values; with in = h/2 that is 12h^2 (48h^2 bytes).
        int h = Math.Max(8, (int)Math.Round(Math.Sqrt(TargetBytes / 48.0) / 8) * 8);
        int input = h / 2;
        torch.manual_seed(1234);
        var tensors = new List<LstmTensor>();
        foreach (var dir in new[] { Direction.Forward, Direction.Backward })
        {
            var cell = $"bidirectional/{(dir == Direction.Forward ? "forward_lstm" : "backward_lstm")}/lstm_cell";
            tensors.Add(Lstm(Rand(input, 4 * h), $"{cell}/kernel:0", TensorRole.Kernel, dir, h, input));
            tensors.Add(Lstm(Rand(h, 4 * h), $"{cell}/recurrent_kernel:0", TensorRole.RecurrentKernel, dir, h, input));
            tensors.Add(Lstm(Rand(4 * h), $"{cell}/bias:0", TensorRole.Bias, dir, h, input));
        }
        tensors.Add(LstmTensor.FromTensor(Rand(2 * h, 1), "dense/dense/kernel:0", "dense", LayerType.Dense, TensorRole.Kernel, Layout.Keras));
        tensors.Add(LstmTensor.FromTensor(Rand(1), "dense/dense/bias:0", "dense", LayerType.Dense, TensorRole.Bias, Layout.Keras));
        WeightWriter.Write(_kerasPath, tensors, WeightFormat.KerasHdf5, overwrite: true);
        foreach (var t in tensors) t.Tensor.Dispose();

        _loaded = [.. WeightReader.Read(_kerasPath).Tensors];
        foreach (var t in _loaded) _ = t.Tensor;
        var result = LayoutConverter.Convert(_loaded, Layout.Torch, new ConversionOptions());
        if (result.Refused.Count > 0)
            throw new InvalidOperationException(string.Join("; ", result.Refused.Select(r => r.Reason)));
        _converted = result.Tensors;
        foreach (var t in _converted) _ = t.Tensor;
        Console.WriteLine($"// Keras file: {new FileInfo(_kerasPath).Length / 1048576.0:F1} MiB, units={h} input={input}, {_loaded.Count} tensors in, {_converted.Count} out");
    }

    static torch.Tensor Rand(params long[] shape) => torch.randn(shape).mul_(0.05);

    static LstmTensor Lstm(torch.Tensor t, string name, TensorRole role, Direction dir, int h, int input) =>
        LstmTensor.FromTensor(t, name, "bidirectional", LayerType.LSTM, role, Layout.Keras, dir,
            gateOrder: GateOrder.IFCO, units: h, inputSize: input);

    /// <summary>Open the Keras file and read every tensor's data (each freed after its read).</summary>
    [Benchmark]
    public long Read()
    {
        long n = 0;
        foreach (var t in WeightReader.Read(_kerasPath).Tensors)
        {
            using var l = t.Borrow();
            n += l.Tensor.numel();
        }
        return n;
    }

    /// <summary>Keras layout to PyTorch layout on tensors already in memory, each output computed and freed.</summary>
    [Benchmark]
    public long Transform()
    {
        long n = 0;
        foreach (var t in LayoutConverter.Convert(_loaded, Layout.Torch, new ConversionOptions()).Tensors)
        {
            using var l = t.Borrow();
            n += l.Tensor.numel();
        }
        return n;
    }

    /// <summary>Write the already computed PyTorch tensors as a .pth file.</summary>
    [Benchmark]
    public long Write() => WeightWriter.Write(_torchPath, _converted, WeightFormat.PyTorch, overwrite: true).Length;

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in _converted) if (t.IsLoaded) t.Tensor.Dispose();
        foreach (var t in _loaded) if (t.IsLoaded) t.Tensor.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
