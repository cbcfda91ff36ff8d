using LstmPort.Containers;
using LstmPort.Frameworks.Torch;

namespace LstmPort.Tests;

/// <summary>
/// The naming rule of TorchCheckpoint on hand-built pickle trees: shapes of nesting no torch file
/// in the other tests has, cycles and depths a hostile pickle can build.
/// </summary>
public sealed class TorchCheckpointWalkTests
{
    static readonly StorageRef Storage = new("0", "torch.FloatStorage", TorchSharp.torch.ScalarType.Float32, 100, "cpu", ElementSize: 4);
    static TensorRef T(params long[] shape) => new(Storage, 0, shape, shape.Select(_ => 1L).ToArray());

    static PyDict D(params (object Key, object? Value)[] items)
    {
        var d = new PyDict();
        foreach (var (k, v) in items) d.Set(k, v);
        return d;
    }

    static string[] Names(object? root, bool script = false) => TorchCheckpoint.Walk(root, script).Tensors.Select(e => e.Name).ToArray();

    [Fact]
    public void A_flat_state_dict_keeps_its_keys_and_notes_what_is_no_tensor()
    {
        var w = TorchCheckpoint.Walk(D(("a.weight", T(2, 2)), ("a.num_batches_tracked", T()), ("_extra_state", "x")), false);
        Assert.Equal(["a.weight", "a.num_batches_tracked"], w.Tensors.Select(e => e.Name));
        Assert.Equal(["left out 1 entry without weights: _extra_state"], w.Notes);
    }

    [Fact]
    public void One_wrapper_gives_the_path_inside_it_at_any_depth_several_give_the_path_from_that_level()
    {
        var sd = D(("rnn.weight_ih_l0", T(4, 2)), ("rnn.bias_ih_l0", T(4)));
        Assert.Equal(["rnn.weight_ih_l0", "rnn.bias_ih_l0"], Names(D(("a", D(("b", D(("c", sd), ("meta", 1L))))), ("epoch", 2L))));
        Assert.Equal(["model.rnn.weight_ih_l0", "model.rnn.bias_ih_l0", "ema.rnn.weight_ih_l0", "ema.rnn.bias_ih_l0"],
            Names(D(("model", sd), ("ema", sd))));
        // Below the level where the entries part, paths stay whole.
        Assert.Equal(["m.x.rnn.weight_ih_l0", "m.x.rnn.bias_ih_l0", "g.w"], Names(D(("m", D(("x", sd))), ("g", D(("w", T(3)))))));
        // A list of state_dicts: indices are path segments.
        Assert.Equal(["0.rnn.weight_ih_l0", "0.rnn.bias_ih_l0", "1.rnn.weight_ih_l0", "1.rnn.bias_ih_l0"], Names(D(("models", new List<object?> { sd, sd }))));
        // Integer keys print as Python prints them.
        Assert.Equal(["3.w", "(1, 'a').w"], Names(D((3L, D(("w", T(2)))), (new PyTuple([1L, "a"]), D(("w", T(2)))))));
    }

    [Fact]
    public void Zero_dim_tensors_beside_weights_are_metrics_and_alone_they_are_kept()
    {
        var w = TorchCheckpoint.Walk(D(("model", D(("w", T(2)))), ("best", T()), ("stats", D(("loss", T())))), false);
        Assert.Equal(["w"], w.Tensors.Select(e => e.Name));
        Assert.Equal(["left out 2 entries without weights: best (a 0-dim tensor), stats (0-dim tensors)"], w.Notes);
        Assert.Equal(["scale"], Names(D(("model", D(("scale", T()))), ("epoch", 1L))));
    }

    [Fact]
    public void Optimizer_state_is_left_out_by_name_by_shape_and_by_class()
    {
        var optimizer = D(("state", D((0L, D(("momentum_buffer", T(2)))))), ("param_groups", new List<object?>()));
        var adam = new PyObject(new PyGlobal("torch.optim.adam", "Adam"), new PyTuple([])) ;
        var w = TorchCheckpoint.Walk(D(("model", D(("w", T(2)))), ("G_optimizer", D(("x", T(2)))), ("whatever", optimizer),
            ("opt_object", adam), ("lr_scheduler", D(("last_epoch", 3L)))), false);
        Assert.Equal(["w"], w.Tensors.Select(e => e.Name));
        Assert.Equal("left out the optimizer and training state: G_optimizer (1 tensor), whatever (1 tensor), opt_object, lr_scheduler", w.Notes[0]);
    }

    [Fact]
    public void The_module_prefix_goes_only_when_every_key_has_it()
    {
        var all = TorchCheckpoint.Walk(D(("state_dict", D(("module.module.rnn.w", T(2)), ("module.module.fc.w", T(2)))), ("epoch", 1L)), false);
        Assert.Equal(["rnn.w", "fc.w"], all.Tensors.Select(e => e.Name));
        Assert.Contains(all.Notes, n => n.StartsWith("removed the wrapper prefix 'module.module.' from the 2 names", StringComparison.Ordinal));
        Assert.Equal(["module.w", "fc.w"], Names(D(("module.w", T(2)), ("fc.w", T(2)))));
        // TorchScript names are state_dict()'s own, untouched.
        Assert.Equal(["module.w"], Names(D(("module.w", T(2))), script: true));
    }

    [Fact]
    public void Cycles_and_absurd_depths_end_and_say_so()
    {
        var loop = new PyDict();
        loop.Set("self", loop);
        loop.Set("w", T(2));
        Assert.Equal(["w"], Names(D(("a", loop), ("n", 1L))));

        // 100000 nested lists (a pickle builds that in a few hundred kilobytes) must not overflow the stack.
        var deep = new List<object?> { T(2) };
        for (int i = 0; i < 100_000; i++) deep = [deep];
        var w = TorchCheckpoint.Walk(D(("model", D(("w", T(2)))), ("deep", deep)), false);
        Assert.Equal(["w"], w.Tensors.Select(e => e.Name));
        Assert.Contains(w.Notes, n => n.Contains("deeper than"));
    }

    [Fact]
    public void A_pickled_module_gives_its_state_dict_names_and_skips_non_persistent_buffers()
    {
        static PyObject Module(string cls, PyDict parameters, PyDict buffers, PyDict modules, params string[] transient)
        {
            var m = new PyObject(new PyGlobal("my.models", cls), new PyTuple([]));
            var state = D(("training", true), ("_parameters", parameters), ("_buffers", buffers), ("_modules", modules),
                ("_non_persistent_buffers_set", new PySet([.. transient])));
            m.State = state;
            return m;
        }
        var lstm = Module("LSTM", D(("weight_ih_l0", T(8, 2)), ("bias", null)), D(), D());
        var net = Module("Net", D(("w", T(2))), D(("running", T(2)), ("cache", T(2))), D(("rnn", lstm), ("none", null)), "cache");
        Assert.Equal(["w", "running", "rnn.weight_ih_l0"], Names(D(("model", net), ("epoch", 1L))));
    }

    [Fact]
    public void Tuple_keys_are_named_without_recursion_and_cut_at_1_KB()
    {
        Assert.Equal("('a', 1, (2,))", TorchCheckpoint.KeyText(new PyTuple(["a", 1L, new PyTuple([2L])])));
        // As deep as a pickle may nest them (issue 16, D6): no recursion per level.
        var deep = new PyTuple([]);
        for (int i = 1; i < PyTuple.MaxDepth; i++) deep = new PyTuple([deep]);
        var text = TorchCheckpoint.KeyText(deep);
        Assert.StartsWith("((((", text);
        Assert.EndsWith("...", text);
        Assert.Equal(1027, text.Length);
        // One tuple shared at every level through the memo: 2^200 leaves as a tree, cut short all the same.
        var shared = new PyTuple(["x"]);
        for (int i = 0; i < 200; i++) shared = new PyTuple([shared, shared]);
        Assert.Equal(1027, TorchCheckpoint.KeyText(shared).Length);
    }
}
