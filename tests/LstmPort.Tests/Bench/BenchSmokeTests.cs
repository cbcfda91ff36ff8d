namespace LstmPort.Tests;

/// <summary>The benchmark's scripts on a small model: the generated file converts, and the Python baseline gives the same state_dict.</summary>
public sealed class BenchSmokeTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    [SkippableFact]
    public void Bench_scripts_convert_a_small_model_as_the_python_baseline_does()
    {
        Python.Require();
        using var dir = new TempDir();
        string Bench(string file) => Path.Combine(Repo.Root, "bench", file);
        var model = dir.File("model.h5");
        var ours = dir.File("lstmport.pth");
        var theirs = dir.File("python.pth");

        var generated = ps.Run("& $args[0] $args[1] $args[2]", Bench("generate.ps1"), model, 2L << 20);
        Assert.False(generated.Failed, generated.ErrorText);
        var converted = ps.Run("& $args[0] $args[1] $args[2]", Bench("convert.ps1"), model, ours);
        Assert.False(converted.Failed, converted.ErrorText);

        var baseline = Python.Exec(Bench("baseline.py"), model, theirs);
        Assert.True(baseline.Code == 0, baseline.Err);
        var compared = Python.Exec(Bench("compare.py"), ours, theirs);
        Assert.True(compared.Code == 0, compared.Out + compared.Err);
        Assert.Equal("equal 26 tensors", compared.Out.Trim());
    }
}
