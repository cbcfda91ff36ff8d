using System.Text.Json;
using TorchSharp;

namespace LstmPort.Tests;

/// <summary>Export-LstmWeights through the module: files real PyTorch loads, and the file-safety promises.</summary>
public sealed class ExportLstmWeightsTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static string ErrorId(Host.RunResult r) =>
        (r.Errors.FirstOrDefault()?.FullyQualifiedErrorId ?? (r.Terminating as System.Management.Automation.IContainsErrorRecord)?.ErrorRecord?.FullyQualifiedErrorId ?? "").Split(',')[0];

    static string[] FilesIn(TempDir dir) => Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order().ToArray()!;

    [SkippableTheory]
    [InlineData("lstm", ".pth")] [InlineData("gru", ".pt")] [InlineData("dtypes", ".pth")] [InlineData("strided", ".pth")]
    [InlineData("lstm", ".safetensors")] [InlineData("dtypes", ".safetensors")] [InlineData("strided", ".safetensors")]
    public void Written_files_load_in_torch_with_the_same_keys_dtypes_shapes_and_values(string kind, string extension)
    {
        using var dir = new TempDir();
        var source = dir.File("source.pth");
        var expected = Python.Run("torch_files.py", "save", source, kind);
        var target = dir.File("out" + extension);

        var written = ps.Objects<FileInfo>("Get-LstmWeights $args[0] | Export-LstmWeights $args[1] -PassThru", source, target).Single();
        Assert.Equal(target, written.FullName);
        Assert.Equal(["out" + extension, "source.pth"], FilesIn(dir));

        var loaded = Python.Run("torch_files.py", extension == ".safetensors" ? "loadst" : "load", target);
        Assert.Equal(expected.EnumerateObject().Select(p => p.Name), loaded.GetProperty("keys").EnumerateArray().Select(k => k.GetString()));
        foreach (var e in expected.EnumerateObject())
        {
            var l = loaded.GetProperty("tensors").GetProperty(e.Name);
            Assert.Equal(e.Value.GetProperty("dtype").GetString(), l.GetProperty("dtype").GetString());
            Assert.Equal(e.Value.GetProperty("shape").GetRawText(), l.GetProperty("shape").GetRawText());
            Assert.Equal(e.Value.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()),
                l.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));
        }
        // And LstmPort reads its own file back the same.
        TorchFileTests.AssertSame(expected, ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", target));
    }

    [SkippableTheory]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void A_torch_module_loaded_from_our_file_computes_exactly_what_the_source_does(string kind)
    {
        using var dir = new TempDir();
        var source = dir.File("source.pth");
        Python.Run("torch_files.py", "save", source, kind, "legacy");
        var ours = dir.File("ours.pth");
        ps.Objects<object>("Get-LstmWeights $args[0] | Export-LstmWeights $args[1]", source, ours);
        var result = Python.Run("torch_files.py", "lstm", source, ours, kind);
        Assert.Equal(0.0, result.GetProperty("max_abs_diff").GetDouble());
        Assert.True(result.GetProperty("output_abs_sum").GetDouble() > 0.1);
    }

    [SkippableFact]
    public void Tensors_in_other_layouts_are_written_under_their_names()
    {
        using var dir = new TempDir();
        var target = dir.File("keras.pth");
        ps.Objects<object>("""
            [LstmPort.Runtime.TorchRuntime]::EnsureLoaded()
            $k = [TorchSharp.torch]::arange(6, [TorchSharp.torch+ScalarType]::Float32).reshape(2, 3)
            [LstmPort.LstmTensor]::FromTensor($k, 'lstm/kernel:0', 'lstm', 'LSTM', 'Kernel', 'Keras') | Export-LstmWeights $args[0]
            """, target);
        var loaded = Python.Run("torch_files.py", "load", target);
        Assert.Equal("[0.0,1.0,2.0,3.0,4.0,5.0]", loaded.GetProperty("tensors").GetProperty("lstm/kernel:0").GetProperty("values").GetRawText().Replace(" ", ""));
    }

    [Fact]
    public void WhatIf_writes_nothing_and_returns_nothing()
    {
        using var dir = new TempDir();
        var source = Safetensors.Write(dir.File("a.safetensors"), ("x.weight", [1, 2], [1f, 2f]));
        var r = ps.Run("Get-LstmWeights $args[0] | Export-LstmWeights $args[1] -WhatIf -PassThru", source, dir.File("b.pth"));
        Assert.False(r.Failed, r.ErrorText);
        Assert.Empty(r.Output);
        Assert.Equal(["a.safetensors"], FilesIn(dir));
    }

    [Fact]
    public void Existing_file_is_untouched_without_Force_and_replaced_with_it()
    {
        using var dir = new TempDir();
        var source = Safetensors.Write(dir.File("a.safetensors"), ("x.weight", [1, 2], [1f, 2f]));
        var target = dir.File("b.pth");
        File.WriteAllText(target, "precious");

        var r = ps.Run("Get-LstmWeights $args[0] | Export-LstmWeights $args[1]", source, target);
        Assert.Equal("FileExists", ErrorId(r));
        Assert.Equal("precious", File.ReadAllText(target));
        Assert.Equal(["a.safetensors", "b.pth"], FilesIn(dir));

        Assert.Empty(ps.Objects<object>("Get-LstmWeights $args[0] | Export-LstmWeights $args[1] -Force", source, target));
        var back = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", target).Single();
        Assert.Equal([1.0, 2.0], TorchFileTests.Values(back.Tensor));
    }

    [Fact]
    public void A_failure_mid_write_leaves_no_partial_or_temporary_file()
    {
        using var dir = new TempDir();
        // Listed lazily, then truncated: the second tensor's data fails to load while the file is being written.
        var source = Safetensors.Write(dir.File("a.safetensors"), ("first", [256], new float[256]), ("second", [256], new float[256]));
        var target = dir.File("b.pth");
        var existing = dir.File("c.safetensors");
        File.WriteAllText(existing, "precious");

        var r = ps.Run("""
            $t = Get-LstmWeights $args[0]
            $f = [IO.File]::Open($args[0], 'Open', 'ReadWrite'); $f.SetLength($f.Length - 100); $f.Dispose()
            try { $t | Export-LstmWeights $args[1] } catch { $_.FullyQualifiedErrorId }
            try { $t | Export-LstmWeights $args[2] -Force } catch { $_.FullyQualifiedErrorId }
            """, source, target, existing);
        Assert.Equal(2, r.Output.Count);
        Assert.All(r.Output, o => Assert.StartsWith("TruncatedFile", o.ToString()));
        Assert.Equal(["a.safetensors", "c.safetensors"], FilesIn(dir));
        Assert.Equal("precious", File.ReadAllText(existing));
    }

    [Theory]
    [InlineData("@() | Export-LstmWeights $args[1]", "NoTensors")]
    [InlineData("$t = Get-LstmWeights $args[0]; $t[0], $t[0] | Export-LstmWeights $args[1]", "DuplicateTensorName")]
    [InlineData("Get-LstmWeights $args[0] | Export-LstmWeights ($args[1] + '.h5x')", "UnknownFormat")]
    [InlineData("Get-LstmWeights $args[0] | Export-LstmWeights ($args[1] + '/no/such/dir.pth')", "DirectoryNotFound")]
    public void Bad_requests_are_errors_and_write_nothing(string script, string errorId)
    {
        using var dir = new TempDir();
        var source = Safetensors.Write(dir.File("a.safetensors"), ("x.weight", [1, 2], [1f, 2f]));
        var r = ps.Run(script, source, dir.File("b.pth"));
        Assert.Equal(errorId, ErrorId(r));
        Assert.Equal(["a.safetensors"], FilesIn(dir));
        Assert.Equal(2, ps.Objects<int>("1 + 1").Single());
    }

    [Fact]
    public void Format_overrides_the_extension()
    {
        using var dir = new TempDir();
        var source = Safetensors.Write(dir.File("a.safetensors"), ("x.weight", [1, 2], [1f, 2f]));
        var target = dir.File("weights.bin");
        ps.Objects<object>("Get-LstmWeights $args[0] | Export-LstmWeights -Path $args[1] -Format PyTorch", source, target);
        Assert.Equal("PK"u8.ToArray(), File.ReadAllBytes(target)[..2]);
        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", target).Single();
        Assert.Equal("x.weight", t.Name);
        Assert.Equal([1.0, 2.0], TorchFileTests.Values(t.Tensor));
    }
}
