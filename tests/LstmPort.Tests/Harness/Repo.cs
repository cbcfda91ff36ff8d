namespace LstmPort.Tests;

/// <summary>Where things are: the repository root, the built module, the shared fixtures.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string ModuleDir => Path.Combine(Root, "out", "LstmPort");
    public static string Manifest => Path.Combine(ModuleDir, "LstmPort.psd1");

    /// <summary>../shared/fixtures beside the repository; absent for people who clone only the project.</summary>
    public static string Fixtures => Path.GetFullPath(Path.Combine(Root, "..", "shared", "fixtures"));

    public static string Fixture(params string[] parts)
    {
        Skip.IfNot(Directory.Exists(Fixtures), $"../shared/fixtures is not present next to the repository (it ships only with the project's shared folder); skipping {string.Join('/', parts)}.");
        var path = Path.Combine([Fixtures, .. parts]);
        Assert.True(File.Exists(path) || Directory.Exists(path), $"fixture {path} is missing");
        return path;
    }

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LstmPort.PowerShell.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (LstmPort.PowerShell.sln) above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder that removes itself.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("lstmport-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
