using LstmPort.Verification;

namespace LstmPort.Tests;

/// <summary>Test-LstmEquivalence through the module: results, $? and error records, -Strict, the table view.</summary>
public sealed class TestLstmEquivalenceTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static (LstmTensor[] Keras, LstmTensor[] Good, LstmTensor[] Swapped) Bidirectional()
    {
        var b = new EquivalenceBuild(9);
        var fwd = b.KerasLayer("bidirectional", LayerType.LSTM, 5, 8);
        var bwd = b.KerasLayer("bidirectional", LayerType.LSTM, 5, 8, Direction.Backward);
        var good = EquivalenceBuild.ToTorch(fwd, "bidirectional").Concat(EquivalenceBuild.ToTorch(bwd, "bidirectional"));
        var swapped = EquivalenceBuild.ToTorch(fwd, "bidirectional", swapDirection: true).Concat(EquivalenceBuild.ToTorch(bwd, "bidirectional", swapDirection: true));
        return ([.. fwd, .. bwd], good.ToArray(), swapped.ToArray());
    }

    [Fact]
    public void Emits_one_passing_result_per_direction_and_takes_the_difference_from_the_pipeline()
    {
        var (keras, good, _) = Bidirectional();
        var r = ps.Run("$args[1] | Test-LstmEquivalence $args[0] -SequenceLength 50 -BatchSize 2 -Seed 4; $?", keras, good);
        Assert.False(r.Failed, r.ErrorText);
        var results = r.Output.Take(2).Select(o => Assert.IsType<EquivalenceResult>(o.BaseObject)).ToList();
        Assert.Equal(true, r.Output[2].BaseObject);
        Assert.All(results, x => Assert.True(x.Passed));
        Assert.All(results, x => Assert.InRange(x.MaxAbsError!.Value, 0, 1e-5));
        Assert.Equal([Direction.Forward, Direction.Backward], results.Select(x => x.Direction));
        Assert.All(results, x => Assert.Equal((50, 2, 1e-5), (x.SequenceLength, x.BatchSize, x.Tolerance)));
        Assert.Equal(["Output[50,2,8]", "FinalH[2,8]", "FinalC[2,8]"], results[0].Compared);
    }

    [Fact]
    public void A_failing_layer_writes_an_error_per_layer_and_sets_dollar_question_false()
    {
        var (keras, _, swapped) = Bidirectional();
        var r = ps.Run("$out = Test-LstmEquivalence -ReferenceObject $args[0] -DifferenceObject $args[1] -ErrorAction SilentlyContinue -ErrorVariable err; $ok = $?; $out; $ok; $err.Count; $err[0].FullyQualifiedErrorId; $err[0].CategoryInfo.Category.ToString(); $err[0].TargetObject.Status.ToString()", keras, swapped);
        var results = r.Output.Take(2).Select(o => Assert.IsType<EquivalenceResult>(o.BaseObject)).ToList();
        Assert.All(results, x => Assert.Equal(EquivalenceStatus.Failed, x.Status));
        Assert.Equal(false, r.Output[2].BaseObject);
        Assert.Equal(2, r.Output[3].BaseObject);
        Assert.StartsWith("LayerNotEquivalent,", (string)r.Output[4].BaseObject);
        Assert.Equal("InvalidResult", r.Output[5].BaseObject);
        Assert.Equal("Failed", r.Output[6].BaseObject);
    }

    [Fact]
    public void Strict_writes_every_result_then_stops_with_NotEquivalent()
    {
        var (keras, _, swapped) = Bidirectional();
        var r = ps.Run("try { Test-LstmEquivalence $args[0] $args[1] -Strict | ForEach-Object { 'result ' + $_.Status }; 'not reached' } catch { $_.FullyQualifiedErrorId; $_.Exception.Message }", keras, swapped);
        var lines = r.Output.Select(o => o.BaseObject.ToString()!).ToList();
        Assert.Equal(["result Failed", "result Failed"], lines.Take(2));
        Assert.StartsWith("NotEquivalent,", lines[2]);
        Assert.Contains("2 of 2 layer(s) are not equivalent", lines[3]);
        Assert.DoesNotContain("not reached", lines);
        // -Strict with equivalent weights: no error.
        var (k2, good, _) = Bidirectional();
        Assert.Equal(2, ps.Objects<EquivalenceResult>("Test-LstmEquivalence $args[0] $args[1] -Strict", k2, good).Count);
    }

    [Fact]
    public void Unmatched_layer_and_missing_tensor_are_error_records_with_stable_ids()
    {
        var b = new EquivalenceBuild(2);
        var keras = b.KerasLayer("lstm", LayerType.LSTM, 4, 6);
        var extra = b.KerasLayer("gru", LayerType.GRU, 4, 6);
        var torch = EquivalenceBuild.ToTorch(keras, "lstm").Where(t => t.Role != TensorRole.RecurrentKernel).ToArray();
        var r = ps.Run("Test-LstmEquivalence $args[0] $args[1] -ErrorAction SilentlyContinue -ErrorVariable err | ForEach-Object { $_.Status.ToString() }; $err | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] }",
            keras.Concat(extra).ToArray(), torch);
        Assert.Equal(["Error", "Unmatched", "MissingTensor", "LayerUnmatched"], r.Output.Select(o => o.BaseObject.ToString()));
    }

    [Fact]
    public void Table_view_fits_80_columns()
    {
        var (keras, good, _) = Bidirectional();
        var r = ps.Render("Test-LstmEquivalence $args[0] $args[1]", keras, good);
        Assert.False(r.Failed, r.ErrorText);
        // Strip colour escapes in case the session renders with ANSI.
        var text = System.Text.RegularExpressions.Regex.Replace(r.Text, "\u001b\\[[0-9;]*m", "");
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        Assert.True(lines.Length >= 4, r.Text);
        Assert.Matches(@"^Layer\s+Type\s+Dir\s+AbsError\s+RelError\s+Status\s+Note$", lines[0].TrimEnd());
        Assert.Matches(@"^bidirectional\s+LSTM\s+Fwd\s+\d\.\d\de-\d\d\s+\d\.\d\de-\d\d\s+Passed\s+seq,h,c$", lines[2].TrimEnd());
        Assert.Matches(@"^bidirectional\s+LSTM\s+Bwd\s", lines[3]);
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"wider than 80 columns: '{l}'"));
    }
}
