using LstmPort.Formats;
using Xunit.Abstractions;
namespace LstmPort.Tests;
public sealed class TfProbeTests(ITestOutputHelper o)
{
    [Fact]
    public void Probe()
    {
        foreach (var p in new[] { "dl4j-tf1-rnn-frozen-graphs/basiclstmcell/static_b1_nIn5_nOut3_ts4_tanh_noIS_fb1_float/frozen_model.pb",
            "dl4j-tf1-rnn-frozen-graphs/grucell/static_b1_nIn5_nOut3_ts4_tanh_noIS_float/frozen_model.pb",
            "dl4j-tf1-rnn-frozen-graphs/lstmblockcell/dynamic_b1_n5-3_ts4_noPH_noClip_fB1_noIS_noTM/frozen_model.pb",
            "dl4j-tf1-rnn-frozen-graphs/lstmblockfusedcell/batch1_n5-3_tsLength4_noPH_noClip_fBias1_noIS/frozen_model.pb",
            "dl4j-tf1-rnn-frozen-graphs/bstack/sta_b1_n5-3_ts4_tanh_noIS_f32_n3/frozen_model.pb",
            "tfnet-tf2-savedmodel-lstm/lstm_from_sequential" })
        {
            var f = WeightReader.Read(Repo.Fixture(p.Split('/')));
            o.WriteLine($"== {p} {f.Format}");
            foreach (var w in f.Warnings) o.WriteLine("  warn " + w);
            foreach (var t in f.Tensors)
                o.WriteLine($"  {t.Name} | {t.Layer} {t.LayerType} {t.Role} {t.Direction} s{t.StackIndex} {t.GateOrder} u{t.Units} in{t.InputSize} [{string.Join(",", t.Shape)}] {string.Join(";", t.Config.Select(kv => kv.Key + "=" + (kv.Value is string[] a ? string.Join("|", a) : kv.Value)))} sum={t.Tensor.to_type(TorchSharp.torch.ScalarType.Float64).sum().item<double>()}");
        }
    }
}
