using static TorchSharp.torch;
using LstmPort.Formats;
using LstmPort.Frameworks.Onnx;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>Export-LstmWeights to .onnx follows the rules of the other formats: Onnx layout only, -WhatIf, -Force, atomic.</summary>
public sealed class OnnxExportTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static string[] FilesIn(TempDir dir) => Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order().ToArray()!;

    static List<LstmTensor> KerasLstm() => new EquivalenceBuild(6).KerasLayer("lstm", LayerType.LSTM, 3, 4);

    [Fact]
    public void Tensors_in_another_layout_are_refused_with_NotOnnxLayout_and_nothing_is_written()
    {
        using var dir = new TempDir();
        var r = ps.Run("try { $args[0] | Export-LstmWeights $args[1] } catch { $_.FullyQualifiedErrorId; $_.Exception.Message }", KerasLstm(), dir.File("m.onnx"));
        var lines = r.Output.Select(o => o.ToString()).ToList();
        Assert.StartsWith(ErrorIds.NotOnnxLayout, lines[0]);
        Assert.Contains("run ConvertTo-OnnxLayout first", lines[1]);
        Assert.Empty(FilesIn(dir));
    }

    [Fact]
    public void WhatIf_writes_nothing_and_an_existing_file_is_replaced_only_with_Force()
    {
        using var dir = new TempDir();
        var target = dir.File("m.onnx");
        var r = ps.Run("$args[0] | ConvertTo-OnnxLayout | Export-LstmWeights $args[1] -WhatIf -PassThru", KerasLstm(), target);
        Assert.False(r.Failed, r.ErrorText);
        Assert.Empty(r.Output);
        Assert.Empty(FilesIn(dir));

        File.WriteAllText(target, "precious");
        r = ps.Run("try { $args[0] | ConvertTo-OnnxLayout | Export-LstmWeights $args[1] } catch { $_.FullyQualifiedErrorId }", KerasLstm(), target);
        Assert.StartsWith(ErrorIds.FileExists, r.Output.Single().ToString());
        Assert.Equal("precious", File.ReadAllText(target));

        r = ps.Run("$args[0] | ConvertTo-OnnxLayout | Export-LstmWeights $args[1] -Force", KerasLstm(), target);
        Assert.False(r.Failed, r.ErrorText);
        Assert.Equal("LSTM", OnnxProto.ParseModel(File.ReadAllBytes(target)).Graph!.Nodes.Single().OpType);
        Assert.Equal(["m.onnx"], FilesIn(dir));
    }

    [Fact]
    public void A_tensor_that_fails_to_load_mid_write_leaves_the_old_file_whole_and_no_temporary_file()
    {
        using var dir = new TempDir();
        var target = dir.File("m.onnx");
        File.WriteAllText(target, "precious");
        var w = LstmTensor.FromTensor(zeros(1, 16, 3), "lstm.W", "lstm", LayerType.LSTM, TensorRole.Kernel, Layout.Onnx, gateOrder: GateOrder.IOFC, units: 4, inputSize: 3);
        // R's data cannot be read (as a source file truncated after listing): the write fails after W is written.
        var r = new LstmTensor("lstm.R", "lstm", LayerType.LSTM, TensorRole.RecurrentKernel, Layout.Onnx, [1, 16, 4], "float32",
            () => throw new LstmPortException(ErrorIds.TruncatedFile, "R: the source ends early"), gateOrder: GateOrder.IOFC, units: 4, inputSize: 3);
        var run = ps.Run("try { $args[0] | Export-LstmWeights $args[1] -Force } catch { $_.FullyQualifiedErrorId }", new[] { w, r }, target);
        Assert.StartsWith(ErrorIds.TruncatedFile, run.Output.Single().ToString());
        Assert.Equal("precious", File.ReadAllText(target));
        Assert.Equal(["m.onnx"], FilesIn(dir));
    }

    [Fact]
    public void A_100_MB_model_is_written_front_to_back_without_a_managed_copy_of_its_data()
    {
        TorchRuntime.EnsureLoaded();
        // Four LSTM layers (W 16 MB, R 4 MB each), each tensor computed when the writer borrows it and freed after.
        const int h = 512, input = 2048;
        var tensors = new List<LstmTensor>();
        for (int i = 0; i < 4; i++)
        {
            float v = i;
            tensors.Add(new LstmTensor($"lstm{i}.W", $"lstm{i}", LayerType.LSTM, TensorRole.Kernel, Layout.Onnx, [1, 4 * h, input], "float32",
                () => full(1, 4 * h, input, v), reloadable: true, gateOrder: GateOrder.IOFC, units: h, inputSize: input));
            tensors.Add(new LstmTensor($"lstm{i}.R", $"lstm{i}", LayerType.LSTM, TensorRole.RecurrentKernel, Layout.Onnx, [1, 4 * h, h], "float32",
                () => full(1, 4 * h, h, v + 0.5f), reloadable: true, gateOrder: GateOrder.IOFC, units: h, inputSize: input));
        }
        using var dir = new TempDir();
        var path = dir.File("big.onnx");
        WeightWriter.Write(path, tensors.Take(2).ToList(), overwrite: true); // first use: JIT and pools

        long before = GC.GetAllocatedBytesForCurrentThread();
        WeightWriter.Write(path, tensors, overwrite: true);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Building the model in memory held every initializer several times over (issue 18); headers are a few KB.
        Assert.True(allocated < 8 << 20, $"writing 80 MB allocated {allocated:N0} managed bytes");

        var back = WeightReader.Read(path).Tensors;
        Assert.Equal(8, back.Count);
        Assert.Equal([0f, 0.5f, 1f, 1.5f, 2f, 2.5f, 3f, 3.5f], back.Select(t => t.Tensor.flatten()[-1].item<float>()).Order());
    }
}
