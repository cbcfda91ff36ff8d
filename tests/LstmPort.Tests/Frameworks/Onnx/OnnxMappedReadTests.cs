using LstmPort.Conversion;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>
/// ONNX files from 16 MB up are mapped, not read whole (issue 18: listing a 1 GB model's layers read
/// the gigabyte): the tensors must come out the same as from a file read into memory, and the
/// mapping must not keep the file from being replaced.
/// </summary>
public sealed class OnnxMappedReadTests
{
    [Fact]
    public void A_model_above_the_mapping_threshold_reads_the_same_values_and_the_file_can_be_replaced_after()
    {
        using var dir = new TempDir();
        // R is [1, 4h, h] float32: h = 1100 makes 19 MB, above MappedFile.MapThreshold.
        var keras = new EquivalenceBuild(11).KerasLayer("lstm", LayerType.LSTM, 8, 1100);
        var onnx = LayoutConverter.Convert(keras, Layout.Onnx, ConversionOptions.Default);
        Assert.Empty(onnx.Refused);
        var path = dir.File("big.onnx");
        WeightWriter.Write(path, onnx.Tensors);
        Assert.True(new FileInfo(path).Length >= MappedFile.MapThreshold);

        var file = WeightReader.Read(path);
        Assert.Empty(file.Errors);
        Assert.Equal(onnx.Tensors.Select(t => (t.Name, string.Join(",", t.Shape))), file.Tensors.Select(t => (t.Name, string.Join(",", t.Shape))));
        foreach (var (written, read) in onnx.Tensors.Zip(file.Tensors))
            Assert.True(written.Tensor.equal(read.Tensor).all().item<bool>(), $"{read.Name} differs from what was written");

        // Replacing the file while its tensors are still referenced: the mapping does not lock it (Export-LstmWeights -Force renames over it).
        WeightWriter.Write(path, onnx.Tensors, overwrite: true);
        Assert.True(file.Tensors[0].Tensor.equal(onnx.Tensors[0].Tensor).all().item<bool>());
    }

    [Fact]
    public void A_file_cut_short_after_it_was_listed_reads_as_TruncatedFile_not_a_fault_on_the_mapping()
    {
        using var dir = new TempDir();
        var keras = new EquivalenceBuild(12).KerasLayer("lstm", LayerType.LSTM, 8, 1100);
        var onnx = LayoutConverter.Convert(keras, Layout.Onnx, ConversionOptions.Default);
        var path = dir.File("cut.onnx");
        WeightWriter.Write(path, onnx.Tensors);
        var file = WeightReader.Read(path);
        Assert.Empty(file.Errors);

        // The data is read from the file, not the map: touching a mapped page past the end of a
        // file cut short raises SIGBUS, which ends the process (PowerShell with it).
        var r = file.Tensors.Single(t => t.Name.EndsWith(".R", StringComparison.Ordinal));
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) f.SetLength(f.Length / 2);
        var e = Assert.ThrowsAny<LstmPortException>(() => r.Tensor);
        Assert.Equal(ErrorIds.TruncatedFile, e.ErrorId);
    }
}
