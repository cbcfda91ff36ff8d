using System.Buffers.Binary;
using System.Management.Automation;
using LstmPort.Formats;

namespace LstmPort.Tests;

/// <summary>
/// Damaged data is found while Get-LstmWeights reads (zip CRC-32, TensorFlow CRC-32C): the tensor
/// is reported and left out, every other tensor comes out with readable data, never $null.
/// </summary>
public sealed class ChecksumTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static readonly float[] Marker = [0.123f, -4.5f, 6.75f, 0.001f];

    /// <summary>Flips one bit of the first occurrence of <paramref name="values"/> in the file.</summary>
    internal static void Damage(string path, float[] values, int byteInto = 1)
    {
        var needle = values.SelectMany(BitConverter.GetBytes).ToArray();
        var bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, "the values to damage are not in the file");
        bytes[at + byteInto] ^= 0x10;
        File.WriteAllBytes(path, bytes);
    }

    string TorchFile(TempDir dir)
    {
        var st = Safetensors.Write(dir.File("src.safetensors"),
            ("lstm.weight_ih_l0", [4, 1], Marker), ("lstm.weight_hh_l0", [4, 1], [1f, 2f, 3f, 4f]),
            ("lstm.bias_ih_l0", [4], [0.5f, 0.25f, 0.125f, 1f]), ("lstm.bias_hh_l0", [4], [0f, 0f, 0f, 2f]));
        var pth = dir.File("model.pth");
        ps.Objects<object>("Get-LstmWeights $args[0] | Export-LstmWeights $args[1]", st, pth);
        return pth;
    }

    [Fact]
    public void A_damaged_pth_tensor_is_a_ChecksumMismatch_error_and_the_others_are_read()
    {
        using var dir = new TempDir();
        var pth = TorchFile(dir);
        Assert.Empty(WeightReader.Read(pth).Errors);
        Damage(pth, Marker);

        var r = ps.Run("Get-LstmWeights $args[0]", pth);
        var e = Assert.Single(r.Errors);
        Assert.Equal("ChecksumMismatch,LstmPort.PowerShell.Commands.GetLstmWeightsCommand", e.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category);
        Assert.Contains("lstm.weight_ih_l0", e.Exception.Message);
        var tensors = r.Output.Select(o => (LstmTensor)o.BaseObject).ToList();
        Assert.Equal(["lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0"], tensors.Select(t => t.Name));
        Assert.All(tensors, t => Assert.NotNull(t.Tensor));
        Assert.Equal(10.0, tensors[0].Sum());
    }

    [Fact]
    public void A_damaged_pth_pickle_refuses_the_file()
    {
        using var dir = new TempDir();
        var pth = TorchFile(dir);
        var bytes = File.ReadAllBytes(pth);
        int at = bytes.AsSpan().IndexOf("lstm.bias_hh_l0"u8); // a key inside data.pkl
        bytes[at] = (byte)'L';
        File.WriteAllBytes(pth, bytes);
        var e = Assert.IsAssignableFrom<LstmPortException>(Record.Exception(() => WeightReader.Read(pth)));
        Assert.Equal("ChecksumMismatch", e.ErrorId);
        Assert.Contains("data.pkl", e.Message);
    }

    [Fact]
    public void A_damaged_TensorFlow_checkpoint_tensor_is_left_out_with_ChecksumMismatch()
    {
        using var dir = new TempDir();
        var prefix = dir.File("model.ckpt");
        new TfCheckpointWriter().Write(prefix, [
            new("dense/kernel", [2, 2], Marker),
            new("dense/bias", [2], [1f, 2f]),
            new("other/w", [3], [7f, 8f, 9f]),
        ]);
        Damage(prefix + ".data-00000-of-00001", Marker, byteInto: 9);

        var r = ps.Run("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", prefix);
        var e = Assert.Single(r.Errors);
        Assert.StartsWith("ChecksumMismatch,", e.FullyQualifiedErrorId);
        Assert.Contains("dense/kernel", e.Exception.Message);
        var tensors = r.Output.Select(o => (LstmTensor)o.BaseObject).ToList();
        Assert.DoesNotContain(tensors, t => t.Name == "dense/kernel");
        Assert.Contains(tensors, t => t.Name == "other/w");
        Assert.All(tensors, t => Assert.NotNull(t.Tensor));
        Assert.Equal(24.0, tensors.Single(t => t.Name == "other/w").Sum());
    }

    [SkippableFact]
    public void A_damaged_keras_archive_is_refused_with_ChecksumMismatch()
    {
        var source = Repo.Fixture("keras3-martinpiz097-lstm-gru", "lstm_model.keras");
        using var dir = new TempDir();
        var path = dir.File("lstm_model.keras");
        File.Copy(source, path);
        // Flip a byte in the middle of model.weights.h5's stored bytes, found from its local header.
        var bytes = File.ReadAllBytes(path);
        int header = 0;
        while (!bytes.AsSpan(header + 30).StartsWith("model.weights.h5"u8))
            header += 1 + bytes.AsSpan(header + 1).IndexOf("PK\x03\x04"u8);
        long size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(header + 18));
        int data = header + 30 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(header + 26)) + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(header + 28));
        bytes[data + size / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        var r = ps.Run("Get-LstmWeights $args[0]", path);
        Assert.Empty(r.Output);
        Assert.StartsWith("ChecksumMismatch,", Assert.Single(r.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void A_failing_member_call_names_the_ErrorId_and_a_later_call_reads_again()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("w.safetensors"), ("head.weight", [1, 4], Marker), ("head.bias", [1], [0.5f]));
        var good = File.ReadAllBytes(path);
        var r = ps.Run("""
            $t = Get-LstmWeights $args[0]
            $f = [IO.File]::Open($args[0], 'Open', 'ReadWrite'); $f.SetLength($f.Length - 2); $f.Dispose()
            try { $null = $t[1].ToArray(); 'no error' } catch { $_.FullyQualifiedErrorId; $_.Exception.InnerException.ErrorId }
            [IO.File]::WriteAllBytes($args[0], $args[1])
            $t[1].Sum()
            """, path, good);
        Assert.Empty(r.Errors);
        Assert.Equal(["TruncatedFile", "TruncatedFile", "0.5"], r.Output.Select(o => Convert.ToString(o.BaseObject, System.Globalization.CultureInfo.InvariantCulture)));
    }
}
