using System.Text.RegularExpressions;
using TorchSharp;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>TensorPreview, the engine helper the format file's views call: short text, first values only, no large reads.</summary>
public sealed class TensorPreviewTests
{
    public TensorPreviewTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void Describes_shape_dtype_and_the_first_values()
    {
        using var t = torch.arange(1, 49, dtype: torch.ScalarType.Float32).reshape(16, 3);
        Assert.Equal("Shape [16,3]  DType float32  Values 1, 2, 3, 4, 5, 6, 7, 8, ... (48 values)", TensorPreview.Describe(t));
        Assert.Equal("Shape [16,3]  DType float32  Values 1, 2, 3, ... (48 values)", TensorPreview.Describe(t, width: 60));
        using var small = torch.tensor(new[] { 0.5f, -0.25f, 1e-8f });
        Assert.Equal("Shape [3]  DType float32  Values 0.5, -0.25, 1E-08 (3 values)", TensorPreview.Describe(small));
        using var one = torch.tensor(7L);
        Assert.Equal("Shape []  DType int64  Values 7 (1 value)", TensorPreview.Describe(one));
        using var none = torch.zeros(0, 4);
        Assert.Equal("Shape [0,4]  DType float32  Values (0 values)", TensorPreview.Describe(none));
        using var flags = torch.tensor(new[] { true, false });
        Assert.Equal("Shape [2]  DType bool  Values True, False (2 values)", TensorPreview.Describe(flags));
        using var many = torch.zeros(1000, 1000, dtype: torch.ScalarType.Float64);
        Assert.Equal("0, 0, ... (1,000,000 values)", TensorPreview.Values(many, 30));
        Assert.Equal("0, ... (1,000,000 values)", TensorPreview.Values(many, 5)); // at least one value
    }

    [Fact]
    public void First_values_are_in_row_major_order_of_the_view_also_when_it_is_not_contiguous()
    {
        using var scope = torch.NewDisposeScope();
        var m = torch.arange(12, dtype: torch.ScalarType.Int32).reshape(3, 4);
        Assert.Equal(["0", "4", "8", "1", "5", "9"], TensorPreview.First(m.t(), 6));
        Assert.Equal(["0", "4", "8", "1", "5", "9", "2", "6", "10", "3", "7", "11"], TensorPreview.First(m.t(), 50));
        var cube = torch.arange(24, dtype: torch.ScalarType.Float32).to_type(torch.ScalarType.Float16).reshape(2, 3, 4).permute(2, 0, 1);
        Assert.Equal(["0", "4", "8", "12", "16"], TensorPreview.First(cube, 5));
        Assert.Equal(["5", "9", "6"], TensorPreview.First(m.narrow(1, 1, 2).narrow(0, 1, 2).t(), 3));
    }

    [Fact]
    public void A_preview_never_copies_the_whole_tensor()
    {
        // Expanded views of a few values: a contiguous copy of either would need tens of gigabytes,
        // so these previews only work when just the leading values are taken.
        using var scope = torch.NewDisposeScope();
        var row = torch.arange(5, dtype: torch.ScalarType.Float32);
        var huge = row.expand(1L << 32, 5);
        Assert.Equal("Shape [4294967296,5]  DType float32  Values 0, 1, ... (21,474,836,480 values)", TensorPreview.Describe(huge));
        var column = torch.arange(3, dtype: torch.ScalarType.Float32).reshape(3, 1).expand(3, 1L << 33);
        Assert.Equal(["0", "0", "0", "0"], TensorPreview.First(column, 4));
        Assert.Equal(["0", "1", "2"], TensorPreview.First(column.t(), 3));
    }

    [Fact]
    public void An_LstmTensor_not_read_yet_is_read_only_when_small_and_then_not_kept()
    {
        int reads = 0;
        torch.Tensor Load(long rows) { reads++; return torch.ones(rows, 1024); }
        var large = new LstmTensor("big", "l", LayerType.Dense, TensorRole.Kernel, Layout.Torch, [512, 1024], "float32", () => Load(512), reloadable: true);
        var text = TensorPreview.Describe(large);
        Assert.Equal("Shape [512,1024]  DType float32  not read yet (2 MB): .ToArray() or .Tensor reads it", text);
        Assert.Equal(0, reads);
        Assert.False(large.IsLoaded);

        var small = new LstmTensor("small", "l", LayerType.Dense, TensorRole.Kernel, Layout.Torch, [2, 1024], "float32", () => Load(2), reloadable: true);
        Assert.Equal("Shape [2,1024]  DType float32  Values 1, 1, 1, 1, 1, 1, 1, ... (2,048 values)", TensorPreview.Describe(small));
        Assert.Equal(1, reads);
        Assert.False(small.IsLoaded); // read for the preview only: its loader reads afresh, so nothing is kept

        _ = large.Tensor; // once loaded, a large tensor is previewed from memory
        Assert.StartsWith("Shape [512,1024]  DType float32  Values 1, 1,", TensorPreview.Describe(large));
        Assert.Equal(2, reads);
        Assert.Contains("not read yet (4 MB)", TensorPreview.Describe(new LstmTensor("b", "l", LayerType.Dense, TensorRole.Kernel, Layout.Torch, [1024, 1024], "float32", () => Load(1024)), readLimit: 1L << 20));
    }

    [Fact]
    public void A_read_that_fails_is_shown_not_thrown()
    {
        var broken = new LstmTensor("w", "l", LayerType.Dense, TensorRole.Kernel, Layout.Torch, [2, 2], "float32",
            () => throw new InvalidDataException("the file ends inside a tensor's data"), reloadable: true);
        Assert.Equal("Shape [2,2]  DType float32  could not be read (CorruptFile): the file ends inside a tensor's data", TensorPreview.Describe(broken));
        var disposed = torch.zeros(2);
        disposed.Dispose();
        Assert.Equal("disposed tensor", TensorPreview.Describe(disposed));
        Assert.Equal("", TensorPreview.Describe((torch.Tensor?)null));
    }
}

/// <summary>The views, rendered by Out-Default in the hosted runspace at 80 columns.</summary>
public sealed class FormattingTests : IClassFixture<ModuleSession>
{
    readonly ModuleSession ps;

    public FormattingTests(ModuleSession session)
    {
        ps = session;
        // The host has only the core cmdlets: bring in Format-List and Format-Table for these tests.
        var r = ps.Run("if (-not (Get-Command Format-List -ErrorAction Ignore)) { Import-Module -Assembly $args[0] }",
            typeof(Microsoft.PowerShell.Commands.FormatListCommand).Assembly);
        Assert.False(r.Failed, r.ErrorText + r.Terminating?.Message);
    }

    static string[] Lines(string text) =>
        Regex.Replace(text, "\u001b\\[[0-9;]*m", "").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();

    /// <summary>A Format-List rendering as label to value, continuation lines joined with a space.</summary>
    static Dictionary<string, string> ListEntries(IEnumerable<string> lines)
    {
        var entries = new Dictionary<string, string>();
        string? last = null;
        foreach (var l in lines)
        {
            if (l.StartsWith(' ') && last is not null) { entries[last] += " " + l.Trim(); continue; }
            var at = l.IndexOf(" : ", StringComparison.Ordinal);
            if (at < 0) { last = null; continue; }
            last = l[..at].Trim();
            entries[last] = l[(at + 3)..].Trim();
        }
        return entries;
    }

    /// <summary>Assert.Matches that shows the whole rendering when it fails.</summary>
    static void Matches(string pattern, string line, string[] all) =>
        Assert.True(Regex.IsMatch(line, pattern), $"'{line}' does not match {pattern} in:\n{string.Join("\n", all)}");

    static void FitsIn80(string[] lines) => Assert.All(lines, l => Assert.True(l.Length <= 80, $"wider than 80 columns: '{l}'"));

    [Fact]
    public void A_tensor_at_the_prompt_is_one_line_of_shape_dtype_and_first_values()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("m.safetensors"), ("lstm.weight_ih_l0", [16, 3], Enumerable.Range(1, 48).Select(i => i / 10f).ToArray()));
        var r = ps.Render("(Get-LstmWeights $args[0]).Tensor", path);
        Assert.False(r.Failed, r.ErrorText);
        Assert.Equal(["Shape [16,3]  DType float32  Values 0.1, 0.2, 0.3, 0.4, 0.5, ... (48 values)"], Lines(r.Text));

        // Format-Table and Format-List of a tensor have views too: never TorchSharp's own properties.
        var table = Lines(ps.Render("(Get-LstmWeights $args[0]).Tensor | Format-Table", path).Text);
        Matches(@"^Shape\s+DType\s+Device\s+Values$", table[0], table);
        Matches(@"^\[16,3\]\s+float32\s+cpu\s+0\.1, 0\.2,", table[2], table);
        var list = Lines(ps.Render("(Get-LstmWeights $args[0]).Tensor | Format-List", path).Text);
        Assert.Equal(["Shape", "DType", "Device", "Values"], list.Select(l => l.Split(':')[0].Trim()));
        Assert.DoesNotContain(list.Concat(table), l => Regex.IsMatch(l, @"\b(Handle|mT|mH|is_leaf|NumberOfElements)\b"));
    }

    [Fact]
    public void Format_List_shows_every_LstmTensor_property_with_the_tensor_as_a_preview()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("m.safetensors"), ("lstm.weight_ih_l0", [16, 3], Enumerable.Range(1, 48).Select(i => (float)i).ToArray()));
        var r = ps.Render("Get-LstmWeights $args[0] | Format-List", path);
        Assert.False(r.Failed, r.ErrorText);
        var lines = Lines(r.Text);
        var list = ListEntries(lines);
        var properties = typeof(LstmTensor).GetProperties().Select(p => p.Name).ToArray();
        Assert.Equal(properties.Order(), list.Keys.Order());
        Assert.Equal("Shape [16,3]  DType float32  Values 1, 2, 3, 4, ... (48 values)", list["Tensor"]);
        Assert.Equal("[16,3]", list["Shape"]);
        Assert.Equal("False", list["IsLoaded"]); // read for the preview, not kept
        Assert.Equal(path, list["Source"].Replace(" ", ""));
        Assert.DoesNotContain(lines, l => Regex.IsMatch(l, @"\b(Handle|mT|is_leaf)\b|TorchSharp"));
        FitsIn80(lines);
    }

    [Fact]
    public void Format_List_does_not_read_a_large_tensor_that_is_not_read_yet()
    {
        using var dir = new TempDir();
        var path = Safetensors.Write(dir.File("m.safetensors"),
            ("big.weight", [512, 1024], new float[512 * 1024]), ("small.weight", [2, 2], [1f, 2f, 3f, 4f]));
        var r = ps.Render("$w = Get-LstmWeights $args[0]; $w | Format-List; 'loaded=' + @($w | Where-Object IsLoaded).Count", path);
        Assert.False(r.Failed, r.ErrorText);
        var lines = Lines(r.Text);
        var tensors = string.Join("\n", lines).Split("\nName ").Select(e => ListEntries(e.Split('\n'))["Tensor"]).ToArray();
        Assert.Equal(["Shape [512,1024]  DType float32  not read yet (2 MB): .ToArray() or .Tensor reads it",
            "Shape [2,2]  DType float32  Values 1, 2, 3, 4 (4 values)"], tensors);
        Assert.Equal("loaded=0", lines[^1]); // the small one was read for its preview and not kept
        FitsIn80(lines);
    }

    [Fact]
    public void Tensor_table_shows_long_names_in_full_first_grouped_by_file()
    {
        using var dir = new TempDir();
        var names = new[] { "a_rather_long_encoder_module_name_for_tests.weight_ih_l0", "a_rather_long_encoder_module_name_for_tests.weight_hh_l0" };
        var a = Safetensors.Write(dir.File("a.safetensors"), (names[0], [12, 3], new float[36]), (names[1], [12, 4], new float[48]));
        var b = Safetensors.Write(dir.File("b.safetensors"), ("rnn.weight_ih_l0", [12, 3], new float[36]), ("rnn.weight_hh_l0", [12, 4], new float[48]));
        var r = ps.Render("$w = Get-LstmWeights $args[0], $args[1]; $w; 'loaded=' + @($w | Where-Object IsLoaded).Count", a, b);
        Assert.False(r.Failed, r.ErrorText);
        var lines = Lines(r.Text);
        Assert.Equal($"Source: {a}", lines[0].Trim());
        Matches(@"^Name\s+Role\s+Shape$", lines[1], lines); // 56-character names: DType and Layout do not fit beside them
        Assert.StartsWith(names[0] + " ", lines[3]);
        Assert.StartsWith(names[1] + " ", lines[4]);
        Matches(@"\sKernel\s+\[12,3\]$", lines[3], lines);
        Assert.Equal($"Source: {b}", lines[5].Trim());
        Matches(@"^Name\s+Role\s+Shape\s+DType\s+Layout$", lines[6], lines); // each file's table has its own widths
        Matches(@"^rnn\.weight_ih_l0\s+Kernel\s+\[12,3\]\s+float32\s+Torch$", lines[8], lines);
        Assert.Equal("loaded=0", lines[^1]);
        FitsIn80(lines);
    }

    [SkippableFact]
    public void Tensor_table_of_a_bidirectional_Keras_file_keeps_every_name_whole()
    {
        var path = Repo.Fixture("dl4j-keras-bidirectional-lstm", "bidirectional_lstm_tensorflow_2.h5");
        var r = ps.Render("Get-LstmWeights $args[0]", path);
        Assert.False(r.Failed, r.ErrorText);
        var lines = Lines(r.Text);
        var names = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path).Select(t => t.Name).ToArray();
        Assert.Contains("bidirectional_1/forward_lstm_1/recurrent_kernel:0", names);
        foreach (var n in names) Assert.Contains(lines, l => l.StartsWith(n + " "));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^bidirectional_1/backward_lstm_1/recurrent_kernel:0\s+RecurrentKernel\s+\[10,40\]"));
        Assert.DoesNotContain(lines, l => l.Contains("bidirectional_1/forw…"));
        FitsIn80(lines);
    }

    [SkippableFact]
    public void Layer_table_over_two_files_groups_by_file_and_shows_names_and_reasons_whole()
    {
        var medaka = Repo.Fixture("medaka-keras215-bigru", "medaka_model.hdf5");
        var stack = Directory.GetFiles(Repo.Fixture("dl4j-tf1-rnn-frozen-graphs", "bstack"), "frozen_model.pb", SearchOption.AllDirectories).Single();
        var r = ps.Render("Get-LstmLayer $args[0], $args[1]", medaka, stack);
        Assert.False(r.Failed, r.ErrorText);
        var lines = Lines(r.Text);
        var text = string.Join("\n", lines);
        Assert.Equal(2, lines.Count(l => l.TrimStart().StartsWith("Source: ")));
        Assert.Equal("Source: " + medaka, lines[0].Trim());
        Matches(@"^Layer\s+Type\s+Units\s+Input\s+BiDi\s+Params\s+Torch$", lines[1], lines);
        Matches(@"^bidirectional_1\s+GRU\s+128\s+10\s+yes\s+106752\s+no: hard_sigmoid$", lines[3], lines);
        // The reason is wrapped between words, whole.
        Assert.Equal("no: hard_sigmoid recurrent activation; GRU reset_after=False",
            string.Join(" ", lines.Skip(3).Take(3).Select(l => l[46..].Trim())));
        Matches(@"^classify\s+Dense\s+5\s+256\s+no\s+1285\s+yes$", lines[9], lines);
        foreach (var cell in new[] { "stack_bidirectional_rnn/cell_0", "stack_bidirectional_rnn/cell_1", "stack_bidirectional_rnn/cell_2" })
            // TF1 graphs do not say which activation a cell ran: the verdict holds for the default, and says so.
            Assert.Matches(new Regex("^" + Regex.Escape(cell) + @"\s+SimpleRNN\s+3\s+\d\s+yes\s+\d+\s+yes; inferred:\n\s+activation$", RegexOptions.Multiline), text);
        FitsIn80(lines);
    }

    [Fact]
    public void Layer_table_groups_by_file_without_fixtures()
    {
        using var dir = new TempDir();
        var a = Safetensors.Write(dir.File("a.safetensors"), ("encoder_with_a_long_module_name.weight", [2, 3], new float[6]));
        var b = Safetensors.Write(dir.File("b.safetensors"), ("decoder.weight", [2, 3], new float[6]));
        var lines = Lines(ps.Render("Get-LstmLayer $args[0], $args[1]", a, b).Text);
        Assert.Equal(["Source: " + a, "Source: " + b], lines.Where(l => l.Contains("Source:")).Select(l => l.Trim()));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^encoder_with_a_long_module_name\s+Dense\s+2\s+3\s+no\s+6\s+yes$"));
        FitsIn80(lines);
    }

    [Fact]
    public void Equivalence_table_fits_80_columns_with_long_layer_names()
    {
        var b = new EquivalenceBuild(5);
        const string name = "encoder/bidirectional_lstm_long_name"; // 35 characters
        var keras = b.KerasLayer(name, LayerType.LSTM, 3, 4).Concat(b.KerasLayer(name, LayerType.LSTM, 3, 4, Direction.Backward)).ToList();
        var torch = EquivalenceBuild.ToTorch(keras.Take(3).ToList(), name).Concat(EquivalenceBuild.ToTorch(keras.Skip(3).ToList(), name)).ToArray();
        var r = ps.Render("Test-LstmEquivalence $args[0] $args[1]", keras.ToArray(), torch);
        Assert.False(r.Failed, r.ErrorText);
        var lines = Lines(r.Text);
        Matches(@"^Layer\s+Type\s+Dir\s+AbsError\s+RelError\s+Status\s+Note$", lines[0], lines);
        Matches("^" + name + @"\s+LSTM\s+Fwd\s+\d\.\d\de-\d\d\s+\d\.\d\de-\d\d\s+Passed\s+seq,h,c$", lines[2], lines);
        Matches("^" + name + @"\s+LSTM\s+Bwd\s", lines[3], lines);
        FitsIn80(lines);
    }
}

/// <summary>-Layer completion through TabExpansion2 when -Path holds wildcards, several paths or a relative path.</summary>
public sealed class LayerCompletionTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    string[] Complete(string line, string? location = null) => ps.Objects<string>(
        "param($line, $at) $loc = $ExecutionContext.SessionState.Path; if ($at) { $loc.PushCurrentLocation(''); $null = $loc.SetLocation([WildcardPattern]::Escape($at)) }; try { (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | ForEach-Object CompletionText } finally { if ($at) { $null = $loc.PopLocation('') } }",
        line, location ?? "").ToArray();

    static (TempDir Dir, string A, string B) Files()
    {
        var dir = new TempDir();
        Directory.CreateDirectory(dir.File("sub"));
        var a = Safetensors.Write(dir.File("a.safetensors"), ("encoder.weight", [1, 1], [1f]), ("decoder.weight", [1, 1], [2f]));
        var b = Safetensors.Write(dir.File(Path.Combine("sub", "b.safetensors")), ("embed.weight", [1, 1], [3f]), ("encoder.weight", [1, 1], [4f]));
        return (dir, a, b);
    }

    [Fact]
    public void A_wildcard_path_offers_the_layers_of_every_matching_file()
    {
        var (dir, _, _) = Files();
        using var _d = dir;
        Assert.Equal(["encoder", "decoder", "embed"], Complete($"Get-LstmWeights '{dir.Path}/*.safetensors', '{dir.Path}/*/*.safetensors' -Layer "));
        Assert.Equal(["embed", "encoder", "decoder"], Complete($"Get-LstmWeights -Path '{dir.Path}/*/*.safetensors', '{dir.Path}/*.safetensors' -Layer "));
        Assert.Equal(["encoder", "embed"], Complete($"Get-LstmLayer -Path '{dir.Path}/*.safetensors','{dir.Path}/s*/*' -Layer e"));
        Assert.Equal(["embed"], Complete($"Get-LstmWeights {dir.Path}/sub/*.safe* -Layer em"));
        Assert.Empty(Complete($"Get-LstmWeights '{dir.Path}/*.nothing' -Layer "));
    }

    [Fact]
    public void A_relative_path_is_relative_to_the_PowerShell_location()
    {
        var (dir, _, _) = Files();
        using var _d = dir;
        Assert.Equal(["decoder"], Complete("Get-LstmWeights ./a.safetensors -Layer d", dir.Path));
        Assert.Equal(["embed", "encoder"], Complete("Get-LstmWeights sub/b.safetensors -Layer ", dir.Path));
        Assert.Equal(["encoder", "decoder"], Complete("Get-LstmLayer *.safetensors -Layer ", dir.Path));
        Assert.Equal(["embed", "encoder"], Complete("Get-LstmWeights ../sub/*.safetensors -Layer ", dir.File("sub")));
        // The same line from another folder finds nothing there.
        Assert.Empty(Complete("Get-LstmWeights ./a.safetensors -Layer d", dir.File("sub")));
    }

    [Fact]
    public void LiteralPath_takes_brackets_as_they_are_and_names_are_escaped_for_Layer()
    {
        using var dir = new TempDir();
        Safetensors.Write(dir.File("m[1].safetensors"), ("enc[0].weight", [1, 1], [1f]), ("my model.weight", [1, 1], [2f]));
        Assert.Equal(["'enc`[0`]'", "'my model'"], Complete("Get-LstmWeights -LiteralPath 'm[1].safetensors' -Layer ", dir.Path));
        Assert.Equal(["'enc`[0`]'"], Complete("Get-LstmWeights -LiteralPath 'm[1].safetensors' -Layer 'en", dir.Path));
        var picked = ps.Objects<LstmTensor>("param($at) $loc = $ExecutionContext.SessionState.Path; $loc.PushCurrentLocation(''); $null = $loc.SetLocation([WildcardPattern]::Escape($at)); try { Get-LstmWeights -LiteralPath 'm[1].safetensors' -Layer 'enc`[0`]' } finally { $null = $loc.PopLocation('') }", dir.Path);
        Assert.Equal(["enc[0].weight"], picked.Select(t => t.Name));
    }
}
