using LstmPort.Conversion;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>
/// Every writer frees each tensor's memory when it has written it, not when the garbage collector
/// gets round to a forgotten handle: the ONNX writer left one per tensor, and a 1 GB conversion
/// held 1.3 GB by its end (issue 18). Run alone, as the pool is shared.
/// </summary>
[Collection(nameof(TensorPoolTests))]
public sealed class WriterMemoryTests
{
    [Theory]
    [InlineData("model.pth", Layout.Torch)]
    [InlineData("model.safetensors", Layout.Torch)]
    [InlineData("model.onnx", Layout.Onnx)]
    [InlineData("model.weights.h5", Layout.Keras)]
    public void A_writer_leaves_no_tensor_memory_held_after_it(string file, Layout layout)
    {
        // R is [4h, h] float32: h = 1100 makes 19 MB, so every converted tensor comes from the pool.
        var keras = new EquivalenceBuild(13).KerasLayer("lstm", LayerType.LSTM, 8, 1100);
        var torch = LayoutConverter.Convert(keras, Layout.Torch, ConversionOptions.Default).Tensors;
        var tensors = layout == Layout.Torch ? torch : LayoutConverter.Convert(torch, layout, ConversionOptions.Default).Tensors;
        Assert.All(tensors, t => Assert.Equal(layout, t.Layout));
        using var dir = new TempDir();

        TensorPoolTests.EmptyPool();
        long before = TensorPool.InUseBytes;
        WeightWriter.Write(dir.File(file), tensors);
        Assert.Equal(before, TensorPool.InUseBytes);

        var back = WeightReader.Read(dir.File(file)).Tensors;
        var r = back.Single(t => t.Role == TensorRole.RecurrentKernel);
        Assert.Equal(tensors.Single(t => t.Role == TensorRole.RecurrentKernel).Shape, r.Shape);
    }
}
