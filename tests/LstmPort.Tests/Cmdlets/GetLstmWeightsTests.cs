using System.Text;
using System.Text.Json;
using LstmPort.Host;

namespace LstmPort.Tests;

/// <summary>Get-LstmWeights through the module: safetensors files written by real PyTorch, and bad input.</summary>
public sealed class GetLstmWeightsTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    [SkippableFact]
    public void Reads_a_torch_lstm_state_dict_with_roles_and_exact_values()
    {
        using var dir = new TempDir();
        var path = dir.File("lstm.safetensors");
        var expected = Python.Run("make_safetensors.py", path, "lstm");
        var tensors = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path);

        Assert.Equal(expected.EnumerateObject().Select(p => p.Name).Order(), tensors.Select(t => t.Name).Order());
        foreach (var t in tensors)
        {
            var e = expected.GetProperty(t.Name);
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()), t.Shape);
            Assert.Equal(e.GetProperty("dtype").GetString(), t.DType);
            Assert.Equal(Layout.Torch, t.Layout);
            Assert.Equal(path, t.Source);
            Assert.Equal(e.GetProperty("values").EnumerateArray().Select(v => v.GetSingle()), t.Tensor.flatten().data<float>().ToArray());
        }

        var ih1r = tensors.Single(t => t.Name == "lstm.weight_ih_l1_reverse");
        Assert.Equal(("lstm", LayerType.LSTM, TensorRole.Kernel, Direction.Backward, 1, GateOrder.IFGO, 4, 8),
            (ih1r.Layer, ih1r.LayerType, ih1r.Role, ih1r.Direction, ih1r.StackIndex, ih1r.GateOrder, ih1r.Units, ih1r.InputSize));
        var bhh0 = tensors.Single(t => t.Name == "lstm.bias_hh_l0");
        Assert.Equal((TensorRole.RecurrentBias, Direction.Forward, 0, 4, 5), (bhh0.Role, bhh0.Direction, bhh0.StackIndex, bhh0.Units, bhh0.InputSize));
        var head = tensors.Single(t => t.Name == "head.weight");
        Assert.Equal((LayerType.Dense, TensorRole.Weight, 3, 8), (head.LayerType, head.Role, head.Units, head.InputSize));
    }

    [SkippableFact]
    public void Reads_every_dtype_exactly()
    {
        using var dir = new TempDir();
        var path = dir.File("dtypes.safetensors");
        var expected = Python.Run("make_safetensors.py", path, "dtypes");
        var tensors = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path);
        Assert.Equal(10, tensors.Count);
        foreach (var t in tensors)
        {
            Assert.Equal(t.Name, t.DType); // the script names each tensor after its dtype
            var values = t.Tensor.to_type(TorchSharp.torch.ScalarType.Float32).flatten().data<float>().ToArray();
            Assert.Equal(expected.GetProperty(t.Name).GetProperty("values").EnumerateArray().Select(v => v.GetSingle()), values);
        }
    }

    [Fact]
    public void Data_is_read_when_first_used()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("a.safetensors"), ("w", [2, 2], [1f, 2f, 3f, 4f]));
        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path).Single();
        Assert.False(t.IsLoaded);
        Assert.Equal(10f, t.Tensor.sum().item<float>());
        Assert.True(t.IsLoaded);
    }

    [Fact]
    public void Rendering_the_table_view_reads_no_tensor_data()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("a.safetensors"), ("w", [2, 2], [1f, 2f, 3f, 4f]), ("b", [2], [1f, 2f]));
        var r = ps.Render("$w = @(Get-LstmWeights $args[0]); $w | Out-Default; 'loaded=' + @($w | Where-Object IsLoaded).Count", path);
        Assert.False(r.Failed, r.ErrorText);
        Assert.Contains("float32", r.Text);
        Assert.Contains("loaded=0", r.Text);
    }

    [Fact]
    public void Table_view_shows_name_role_shape_dtype_layout_grouped_by_file_in_80_columns()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("m.safetensors"),
            ("rnn.weight_ih_l0", [12, 3], new float[36]), ("rnn.weight_hh_l0", [12, 4], new float[48]));
        var r = ps.Render("Get-LstmWeights $args[0]", path);
        Assert.False(r.Failed, r.ErrorText);
        var lines = r.Text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        Assert.Equal("Source: " + path, lines[0].Trim());
        Assert.Matches(@"^Name\s+Role\s+Shape\s+DType\s+Layout$", lines[1].TrimEnd());
        Assert.Matches(@"^rnn\.weight_ih_l0\s+Kernel\s+\[12,3\]\s+float32\s+Torch$", lines[3].TrimEnd());
        Assert.Matches(@"^rnn\.weight_hh_l0\s+RecurrentKernel\s+\[12,4\]\s+float32\s+Torch$", lines[4].TrimEnd());
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"wider than 80 columns: '{l}'"));
        Assert.Equal("rnn.weight_ih_l0 [12,3] float32", ps.Objects<string>("(Get-LstmWeights $args[0])[0].ToString()", path).Single());
    }

    [Fact]
    public void Layer_wildcards_literal_paths_and_file_objects()
    {
        using var dir = new TempDir();
        var a = Safetensors.Write(dir.File("a[1].safetensors"), ("enc.weight", [1, 1], [1f]), ("dec.weight", [1, 1], [2f]));
        var b = Safetensors.Write(dir.File("b.safetensors"), ("enc2.weight", [1, 1], [3f]));

        Assert.Equal(["enc.weight"], ps.Objects<LstmTensor>("Get-LstmWeights -LiteralPath $args[0] -Layer e*", a).Select(t => t.Name));
        Assert.Equal(["enc.weight", "dec.weight", "enc2.weight"],
            ps.Objects<LstmTensor>("[IO.FileInfo]::new($args[0]), [IO.FileInfo]::new($args[1]) | Get-LstmWeights", a, b).Select(t => t.Name));
        Assert.Equal(["enc2.weight"], ps.Objects<LstmTensor>("Get-LstmWeights \"$($args[0])/b*.safetensors\"", dir.Path).Select(t => t.Name));
        Assert.Equal(["enc.weight", "enc2.weight"], ps.Objects<LstmTensor>("$args[0], $args[1] | Get-LstmWeights -Layer ENC*", a.Replace("[", "`[").Replace("]", "`]"), b).Select(t => t.Name));
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "missing", "FileNotFound" },
        { "directory", "PathIsDirectory" },
        { "empty", "EmptyFile" },
        { "random", "UnknownFormat" },
        { "truncated-header", "TruncatedFile" },
        { "truncated-data", "TensorOutOfRange" },
        { "overlap", "OverlappingTensorData" },
        { "size-mismatch", "TensorSizeMismatch" },
        { "absurd-shape", "TensorTooLarge" },
        { "bad-json", "CorruptFile" },
        { "bad-dtype", "UnsupportedDType" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_input_gives_an_error_record_and_the_next_path_is_still_read(string kind, string errorId)
    {
        using var dir = new TempDir();
        var bad = dir.File("bad.safetensors");
        switch (kind)
        {
            case "missing": break;
            case "directory": Directory.CreateDirectory(bad); break;
            case "empty": File.WriteAllBytes(bad, []); break;
            case "random": File.WriteAllBytes(bad, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray()); break;
            case "truncated-header": File.WriteAllBytes(bad, [.. BitConverter.GetBytes(500L), .. "{\"a\":"u8.ToArray()]); break;
            case "truncated-data":
                Safetensors.Write(bad, ("w", [4, 4], new float[16]));
                File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..^8]);
                break;
            case "overlap": Safetensors.WriteRaw(bad, """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12); break;
            case "size-mismatch": Safetensors.WriteRaw(bad, """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8); break;
            case "absurd-shape": Safetensors.WriteRaw(bad, """{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}""", 8); break;
            case "bad-json": Safetensors.WriteRaw(bad, """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""", 8); break;
            case "bad-dtype": Safetensors.WriteRaw(bad, """{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", 2); break;
        }
        var good = Safetensors.Write(dir.File("good.safetensors"), ("x.weight", [1, 2], [1f, 2f]));

        var r = ps.Run("Get-LstmWeights -LiteralPath $args[0], $args[1]", bad, good);
        var error = Assert.Single(r.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(bad, error.TargetObject);
        Assert.Contains("bad.safetensors", error.Exception.Message);
        Assert.Equal("x.weight", Assert.Single(r.Output).BaseObject is LstmTensor t ? t.Name : null);
        Assert.Null(r.Terminating);
        // PowerShell keeps running.
        Assert.Equal(2, ps.Objects<int>("1 + 1").Single());
    }
}

/// <summary>Writes small safetensors files for tests (valid or deliberately broken).</summary>
static class Safetensors
{
    public static string Write(string path, params (string Name, int[] Shape, float[] Values)[] tensors)
    {
        var header = new Dictionary<string, object>();
        var data = new List<byte>();
        foreach (var (name, shape, values) in tensors)
        {
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { data.Count, data.Count + values.Length * 4 } };
            foreach (var v in values) data.AddRange(BitConverter.GetBytes(v));
        }
        return WriteRaw(path, JsonSerializer.Serialize(header), data.Count, data.ToArray());
    }

    public static string WriteRaw(string path, string json, int dataBytes, byte[]? data = null)
    {
        var h = Encoding.UTF8.GetBytes(json);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes((long)h.Length));
        f.Write(h);
        f.Write(data ?? new byte[dataBytes]);
        return path;
    }
}

/// <summary>Tab completion as PowerShell's TabExpansion2 computes it.</summary>
public sealed class CompletionTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    [Fact]
    public void Layer_completes_from_the_file_and_Format_from_the_enum()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("m.safetensors"), ("encoder.weight", [1, 1], [1f]), ("decoder.weight", [1, 1], [2f]), ("embed.weight", [1, 1], [3f]));
        string[] Complete(string line) => ps.Objects<string>(
            "(TabExpansion2 -inputScript $args[0] -cursorColumn $args[0].Length).CompletionMatches | ForEach-Object CompletionText", line).ToArray();

        Assert.Equal(["encoder", "embed"], Complete($"Get-LstmWeights -Path '{path}' -Layer e"));
        Assert.Equal(["decoder"], Complete($"Get-LstmWeights '{path}' -Layer d"));
        Assert.Empty(Complete("Get-LstmWeights -Path ./no-such-file -Layer e"));
        Assert.Contains("SafeTensors", Complete("Get-LstmWeights x -Format S"));
        Assert.Equal(["decoder"], Complete($"Get-LstmLayer '{path}' -Layer d"));
    }
}
