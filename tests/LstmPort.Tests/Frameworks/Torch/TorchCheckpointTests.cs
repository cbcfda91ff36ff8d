using System.Text.Json;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>
/// PyTorch files as people save them, each made by real torch at test time (torch_checkpoints.py):
/// nested checkpoints, wrapper prefixes, views of one storage, half types, checkpoints that pickle
/// foreign objects, damaged records and TorchScript archives. Names and values are compared exactly
/// with what torch.load / torch.jit.load(...).state_dict() give.
/// </summary>
public sealed class TorchCheckpointTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static JsonElement Make(TempDir dir, string kind, bool legacy = false, string? name = null)
    {
        var path = dir.File(name ?? kind + (legacy ? "-legacy" : "") + ".pt");
        var args = legacy ? new[] { "make", path, kind, "legacy" } : ["make", path, kind];
        var made = Python.Run("torch_checkpoints.py", args);
        return made;
    }

    static WeightFile Read(string path, bool skip = false)
    {
        TorchRuntime.EnsureLoaded();
        return WeightReader.Read(path, WeightFormat.Auto, new ReadOptions(SkipUnsafeObjects: skip));
    }

    static string[] Names(JsonElement expected) => expected.EnumerateObject().Select(p => p.Name).ToArray();

    [SkippableTheory]
    [InlineData("checkpoint", false)] [InlineData("checkpoint", true)]
    [InlineData("state_dict", false)] [InlineData("net", false)] [InlineData("net", true)]
    [InlineData("deep", false)] [InlineData("deep", true)]
    [InlineData("several", false)] [InlineData("lightning", false)]
    [InlineData("dataparallel", false)] [InlineData("dataparallel", true)] [InlineData("compiled", false)]
    [InlineData("flat_views", false)] [InlineData("flat_views", true)]
    [InlineData("half", false)] [InlineData("bfloat16", false)] [InlineData("half", true)]
    [InlineData("modules", false)]
    public void Checkpoints_give_the_names_the_rule_gives_and_the_values_torch_load_gives(string kind, bool legacy)
    {
        using var dir = new TempDir();
        var made = Make(dir, kind, legacy);
        var path = dir.File(kind + (legacy ? "-legacy" : "") + ".pt");
        var file = Read(path);
        Assert.Empty(file.Errors);
        Assert.Empty(file.Warnings);
        Assert.Equal(WeightFormat.PyTorch, file.Format);
        Assert.All(file.Tensors, t => Assert.False(t.IsLoaded)); // listed without reading data
        TorchFileTests.AssertSame(made.GetProperty("expected"), file.Tensors);
    }

    [SkippableFact]
    public void What_is_left_out_is_said_once_per_kind_in_the_notes()
    {
        using var dir = new TempDir();
        Make(dir, "checkpoint");
        var notes = Read(dir.File("checkpoint.pt")).Notes;
        Assert.Equal(["left out the optimizer and training state: optimizer (75 tensors)",
                      "left out 4 entries without weights: epoch, step, args, best_acc (a 0-dim tensor)"], notes);

        Make(dir, "deep");
        Assert.Equal(["left out the optimizer and training state: optimizer_state_dict (75 tensors), scheduler, scaler",
                      "left out 1 entry without weights: trainer.model.config"], Read(dir.File("deep.pt")).Notes);

        Make(dir, "dataparallel");
        Assert.Contains(Read(dir.File("dataparallel.pt")).Notes, n => n.StartsWith("removed the wrapper prefix 'module.' from the 29 names", StringComparison.Ordinal));

        Make(dir, "lightning");
        Assert.Equal("left out the optimizer and training state: loops, callbacks (2 tensors), optimizer_states (75 tensors), lr_schedulers",
            Read(dir.File("lightning.pt")).Notes[0]);
    }

    [SkippableFact]
    public void Module_buffers_stay_and_zero_dim_buffers_inside_the_state_dict_stay()
    {
        using var dir = new TempDir();
        var made = Make(dir, "checkpoint");
        var t = Read(dir.File("checkpoint.pt")).Tensors;
        var tracked = t.Single(x => x.Name == "encoder.norm.num_batches_tracked");
        var expected = made.GetProperty("expected").GetProperty("encoder.norm.num_batches_tracked").GetProperty("values")[0].GetDouble();
        Assert.True(expected > 0);
        Assert.Equal(("int64", 0, (long)expected), (tracked.DType, tracked.Shape.Length, tracked.Tensor.item<long>()));
        Assert.Contains(t, x => x.Name == "encoder.norm.running_mean");
        Assert.Equal(0.5f, t.Single(x => x.Name == "scale").Tensor.item<float>());
        Assert.DoesNotContain(t, x => x.Name == "cache"); // a non-persistent buffer is in no state_dict
        var ih = t.Single(x => x.Name == "encoder.rnn.weight_ih_l1_reverse");
        Assert.Equal(("encoder.rnn", LayerType.LSTM, TensorRole.Kernel, Direction.Backward, 1, 4, 8),
            (ih.Layer, ih.LayerType, ih.Role, ih.Direction, ih.StackIndex, ih.Units, ih.InputSize));
    }

    public static TheoryData<string, bool> Unsafe => new()
    {
        { "namespace", false }, { "namespace", true }, { "whole_model", false }, { "whole_model", true },
        { "fairseq", false }, { "opennmt", false }, { "hostile_tensors", false }, { "hostile_tensors", true },
    };

    [SkippableTheory]
    [MemberData(nameof(Unsafe))]
    public void Foreign_objects_refuse_the_file_naming_every_global_and_SkipUnsafeObjects_reads_its_tensors(string kind, bool legacy)
    {
        using var dir = new TempDir();
        var made = Make(dir, kind, legacy);
        var path = dir.File(kind + (legacy ? "-legacy" : "") + ".pt");
        var globals = made.GetProperty("globals").EnumerateArray().Select(g => g.GetString()!).ToArray();
        Assert.NotEmpty(globals);

        var refused = Assert.Throws<LstmPortException>(() => Read(path));
        Assert.Equal(ErrorIds.UnsafePickleGlobal, refused.ErrorId);
        Assert.Equal(ErrorKind.Security, refused.Kind);
        Assert.All(globals, g => Assert.Contains($"'{g}'", refused.Message));
        Assert.Contains("-SkipUnsafeObjects", refused.Message);

        var file = Read(path, skip: true);
        TorchFileTests.AssertSame(made.GetProperty("expected"), file.Tensors);
        var warning = Assert.Single(file.Warnings);
        Assert.EndsWith(": " + string.Join(", ", globals), warning); // every global, in the order the pickle names them
        Assert.Empty(file.Errors);
        Assert.False(File.Exists(path + ".pwned"), "a payload ran");
    }

    [SkippableFact]
    public void A_pickled_whole_model_reads_as_its_state_dict_names_under_SkipUnsafeObjects()
    {
        using var dir = new TempDir();
        var made = Make(dir, "whole_model");
        var file = Read(dir.File("whole_model.pt"), skip: true);
        // model.state_dict(): _parameters, persistent _buffers, then _modules, recursively.
        Assert.Equal(Names(made.GetProperty("expected")), file.Tensors.Select(t => t.Name));
        Assert.Equal(["scale", "embed.weight"], file.Tensors.Take(2).Select(t => t.Name));
    }

    [SkippableFact]
    public void Layer_selects_modules_of_nested_checkpoints()
    {
        using var dir = new TempDir();
        Make(dir, "checkpoint");
        Make(dir, "several");
        var rnn = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer encoder.rnn", dir.File("checkpoint.pt"));
        Assert.Equal(16, rnn.Count);
        Assert.All(rnn, t => Assert.StartsWith("encoder.rnn.", t.Name));
        var model = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer model.*", dir.File("several.pt"));
        Assert.Equal(21, model.Count);
        Assert.Equal(["generator.0.weight", "generator.0.bias"],
            ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer generator*", dir.File("several.pt")).Select(t => t.Name));
    }

    [SkippableFact]
    public void A_tensor_that_cannot_be_read_is_its_own_error_and_every_other_tensor_is_emitted()
    {
        using var dir = new TempDir();
        var made = Make(dir, "checkpoint");
        var damaged = dir.File("damaged.pt");
        var which = Python.Run("torch_checkpoints.py", "damage", dir.File("checkpoint.pt"), damaged);
        var dropped = which.GetProperty("dropped").EnumerateArray().Select(n => n.GetString()!).ToArray();
        var shortened = which.GetProperty("short").EnumerateArray().Select(n => n.GetString()!).ToArray();

        var file = Read(damaged);
        Assert.Equal(dropped.Length + shortened.Length, file.Errors.Count);
        foreach (var n in dropped)
            Assert.Contains(file.Errors, e => e.ErrorId == ErrorIds.CorruptFile && e.Message.Contains($"'{n}'") && e.Message.Contains("has no record"));
        foreach (var n in shortened)
            Assert.Contains(file.Errors, e => e.ErrorId == ErrorIds.TensorOutOfRange && e.Message.Contains($"'{n}'"));
        Assert.All(file.Errors, e => Assert.Equal(damaged, e.Target));

        var expected = made.GetProperty("expected");
        var kept = Names(expected).Except(dropped).Except(shortened).ToArray();
        Assert.Equal(kept, file.Tensors.Select(t => t.Name));
        foreach (var t in file.Tensors)
            Assert.Equal(expected.GetProperty(t.Name).GetProperty("values").EnumerateArray().Select(v => v.GetDouble()), TorchFileTests.Values(t.Tensor));

        // In PowerShell: one error record per tensor, the rest on the pipeline.
        var r = ps.Run("Get-LstmWeights $args[0]", damaged);
        Assert.Equal(kept.Length, r.Output.Count);
        Assert.Equal(dropped.Length + shortened.Length, r.Errors.Count);
        Assert.Null(r.Terminating);
    }

    [SkippableFact]
    public void A_sparse_tensor_is_an_error_of_its_own()
    {
        using var dir = new TempDir();
        var made = Make(dir, "sparse");
        var file = Read(dir.File("sparse.pt"));
        var error = Assert.Single(file.Errors);
        Assert.Equal(ErrorIds.UnsupportedDType, error.ErrorId);
        Assert.Contains("'mask' is a sparse tensor", error.Message);
        TorchFileTests.AssertSame(made.GetProperty("expected"), file.Tensors);
    }

    [SkippableTheory]
    [InlineData("checkpoint")]
    [InlineData("dataparallel")]
    public void A_nested_checkpoint_goes_to_Keras_and_back_and_loads_strictly_into_nn_LSTM(string kind)
    {
        using var dir = new TempDir();
        Make(dir, kind);
        var ckpt = dir.File(kind + ".pt");
        var back = dir.File("back.pth");
        var results = ps.Objects<LstmPort.Verification.EquivalenceResult>("""
            $w = Get-LstmWeights $args[0] -Layer encoder.rnn
            $k = $w | ConvertTo-KerasLayout
            $t = $k | ConvertTo-TorchLayout -StackAs encoder.rnn
            $t | Export-LstmWeights $args[1]
            Test-LstmEquivalence $w $k
            Test-LstmEquivalence $w $t
            """, ckpt, back);
        Assert.Equal(8, results.Count); // 2 depths x 2 directions, twice
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Layer}: {r.MaxAbsError}"));

        var loaded = Python.Run("torch_checkpoints.py", "rnn", ckpt, kind, back, "encoder.rnn.");
        Assert.True(loaded.GetProperty("max_abs_diff").GetDouble() < 1e-6, loaded.ToString());
        Assert.True(loaded.GetProperty("output_abs_sum").GetDouble() > 0.1);
        Assert.Equal(16, loaded.GetProperty("keys").GetArrayLength());
    }

    // ---- TorchScript ----

    [SkippableTheory]
    [InlineData("modules_script")]
    [InlineData("modules_trace")]
    public void TorchScript_containers_projections_and_tied_weights_are_named_as_state_dict_names_them(string kind)
    {
        using var dir = new TempDir();
        var made = Make(dir, kind);
        var file = Read(dir.File(kind + ".pt"));
        Assert.Empty(file.Errors);
        TorchFileTests.AssertSame(made.GetProperty("expected"), file.Tensors); // layers.0.weight_hr_l0, seq.2.weight, heads.b.weight, emb.weight and out.weight
        var hr = file.Tensors.Single(t => t.Name == "layers.0.weight_hr_l0");
        Assert.Equal(("layers.0", LayerType.LSTM, TensorRole.ProjectionKernel), (hr.Layer, hr.LayerType, hr.Role));
    }

    [SkippableTheory]
    [InlineData("script")]
    [InlineData("trace")]
    public void TorchScript_archives_give_what_torch_jit_load_state_dict_gives(string kind)
    {
        using var dir = new TempDir();
        var made = Make(dir, kind);
        var path = dir.File(kind + ".pt");
        Assert.Equal(WeightFormat.TorchScript, WeightReader.DetectFormat(path));
        var file = Read(path);
        Assert.Equal(WeightFormat.TorchScript, file.Format);
        Assert.Empty(file.Errors);
        Assert.Empty(file.Warnings);
        TorchFileTests.AssertSame(made.GetProperty("expected"), file.Tensors);
        if (kind == "trace") Assert.Contains(file.Notes, n => n.Contains("constants.pkl"));

        var gru = file.Tensors.Single(t => t.Name == "decoder.weight_hh_l0");
        Assert.Equal(("decoder", LayerType.GRU, TensorRole.RecurrentKernel, 6), (gru.Layer, gru.LayerType, gru.Role, gru.Units));
        // Named by content whatever the extension; -Format PyTorch reads it the same.
        var copy = dir.File("model.jit");
        File.Copy(path, copy);
        Assert.Equal(WeightFormat.TorchScript, WeightReader.DetectFormat(copy));
        Assert.Equal(file.Tensors.Select(t => t.Name), WeightReader.Read(path, WeightFormat.PyTorch).Tensors.Select(t => t.Name));
    }

    [SkippableFact]
    public void A_damaged_constants_pkl_loses_no_weight_and_warns()
    {
        using var dir = new TempDir();
        var made = Make(dir, "trace");
        var damaged = dir.File("damaged.pt");
        using (var src = System.IO.Compression.ZipFile.OpenRead(dir.File("trace.pt")))
        using (var z = System.IO.Compression.ZipFile.Open(damaged, System.IO.Compression.ZipArchiveMode.Create))
            foreach (var e in src.Entries)
            {
                using var d = z.CreateEntry(e.FullName).Open();
                if (e.FullName.EndsWith("/constants.pkl", StringComparison.Ordinal)) d.Write([0x80, 2, 0xff, (byte)'.']);
                else { using var s = e.Open(); s.CopyTo(d); }
            }
        var file = Read(damaged);
        TorchFileTests.AssertSame(made.GetProperty("expected"), file.Tensors);
        var warning = Assert.Single(file.Warnings);
        Assert.StartsWith("constants.pkl (the scripted code's constants, not weights) could not be read", warning);
        Assert.Contains("unknown pickle opcode 0xff", warning);
        Assert.Empty(file.Errors);
    }

    [SkippableFact]
    public void A_frozen_TorchScript_module_has_no_named_weights_and_says_why()
    {
        using var dir = new TempDir();
        Make(dir, "frozen");
        var e = Assert.Throws<LstmPortException>(() => Read(dir.File("frozen.pt")));
        Assert.Equal(ErrorIds.NoTensors, e.ErrorId);
        Assert.Contains("torch.jit.freeze", e.Message);
    }

    [SkippableFact]
    public void A_scripted_tensor_attribute_that_is_no_parameter_or_buffer_is_listed_too()
    {
        // Documented: the archive's pickles do not say which tensor attributes state_dict() keeps;
        // every tensor attribute of a module is listed, so a plain one (here 'plain') comes out as well.
        using var dir = new TempDir();
        var made = Make(dir, "script_attribute");
        var names = Read(dir.File("script_attribute.pt")).Tensors.Select(t => t.Name).ToList();
        Assert.Equal(Names(made.GetProperty("expected")), names.Where(n => n != "plain"));
        Assert.Contains("plain", names);
    }

    [SkippableFact]
    public void A_TorchScript_archive_that_names_other_globals_is_refused_and_nothing_runs()
    {
        using var dir = new TempDir();
        var marker = dir.File("pwned");
        var made = Python.Run("torch_files.py", "hostile", dir.Path, marker);
        // The hostile pickle as the data.pkl of an archive that looks like torch.jit.save's.
        var script = dir.File("evil.pt");
        using (var src = System.IO.Compression.ZipFile.OpenRead(dir.File("os_system.pth")))
        using (var z = System.IO.Compression.ZipFile.Open(script, System.IO.Compression.ZipArchiveMode.Create))
        {
            foreach (var e in src.Entries)
            {
                using var s = e.Open();
                using var d = z.CreateEntry(e.FullName).Open();
                s.CopyTo(d);
            }
            using (var c = z.CreateEntry("archive/constants.pkl").Open()) c.Write([0x80, 2, (byte)')', (byte)'.']);
            using (var c = z.CreateEntry("archive/code/__torch__.py").Open()) c.Write("import os\nos.system('x')\n"u8);
        }
        Assert.Equal(WeightFormat.TorchScript, WeightReader.DetectFormat(script));
        var e1 = Assert.Throws<LstmPortException>(() => Read(script));
        Assert.Equal(ErrorIds.UnsafePickleGlobal, e1.ErrorId);
        Assert.Contains("'posix.system'", e1.Message);
        var e2 = Assert.Throws<LstmPortException>(() => Read(script, skip: true));
        Assert.Equal(ErrorIds.NoTensors, e2.ErrorId);
        Assert.Contains("posix.system", e2.Message);
        Assert.False(File.Exists(marker), "a payload ran");
        Assert.True(made.GetProperty("live").GetBoolean());
    }
}
