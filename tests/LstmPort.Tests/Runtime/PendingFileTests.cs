using System.Diagnostics;
using System.Text.Json;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>A file being written is invisible until complete, and a killed write leaves nothing that stays.</summary>
public sealed class PendingFileTests
{
    static string[] FilesIn(TempDir dir) => Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    static void Write(PendingFile f, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        RandomAccess.Write(f.Handle, bytes, 0);
        RandomAccess.FlushToDisk(f.Handle);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Nothing_is_visible_until_commit_and_an_existing_file_is_replaced_only_when_asked(bool unnamed)
    {
        using var dir = new TempDir();
        var target = dir.File("m.pth");
        using (var f = PendingFile.Create(target, unnamed))
        {
            Assert.Equal(unnamed && OperatingSystem.IsLinux(), f.Unnamed);
            Write(f, "first");
            if (f.Unnamed) Assert.Empty(FilesIn(dir));
            f.Commit(overwrite: false);
        }
        Assert.Equal(["m.pth"], FilesIn(dir));
        Assert.Equal("first", File.ReadAllText(target));

        using (var f = PendingFile.Create(target, unnamed))
        {
            Write(f, "second");
            Assert.Throws<IOException>(() => f.Commit(overwrite: false));
        }
        Assert.Equal("first", File.ReadAllText(target));
        Assert.Equal(["m.pth"], FilesIn(dir)); // the refused file is gone too

        using (var f = PendingFile.Create(target, unnamed))
        {
            Write(f, "third");
            f.Commit(overwrite: true);
        }
        Assert.Equal("third", File.ReadAllText(target));

        using (var f = PendingFile.Create(target, unnamed)) Write(f, "never committed");
        Assert.Equal(["m.pth"], FilesIn(dir));
        Assert.Equal("third", File.ReadAllText(target));
    }

    [Fact]
    public void A_temporary_file_of_a_process_that_is_gone_is_removed_by_the_next_write_of_the_target()
    {
        using var dir = new TempDir();
        var target = dir.File("m.pth");
        // A pid that is not running: a short-lived child's, after it ended.
        int deadPid;
        using (var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            p.WaitForExit();
            deadPid = p.Id;
        }
        string stale = dir.File($".m.pth.{deadPid}.{Guid.NewGuid():N}.tmp"), live = dir.File($".m.pth.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        string other = dir.File($".other.pth.{deadPid}.{Guid.NewGuid():N}.tmp");
        foreach (var f in new[] { stale, live, other }) File.WriteAllText(f, "x");
        using (var f = PendingFile.Create(target, unnamedIfPossible: false))
        {
            Write(f, "new");
            f.Commit(overwrite: false);
        }
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));   // a running process may still be writing it
        Assert.True(File.Exists(other));  // another target's
        Assert.Equal("new", File.ReadAllText(target));
    }

    /// <summary>
    /// A real export in a fresh process, killed with SIGKILL while it writes (seen in
    /// /proc/PID/fd: the file it writes is open there), leaves the folder as it was.
    /// </summary>
    [SkippableFact]
    public void An_export_killed_mid_write_leaves_no_file()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the kill is observed through /proc");
        using var dir = new TempDir();
        var source = dir.File("big.safetensors");
        // 48 tensors of 4 MiB: long enough a write to be caught in the middle.
        var header = Enumerable.Range(0, 48).ToDictionary(i => $"w{i}", i => (object)new { dtype = "F32", shape = new[] { 1024, 1024 }, data_offsets = new long[] { i * 4L << 20, (i + 1) * 4L << 20 } });
        Safetensors.WriteRaw(source, JsonSerializer.Serialize(header), 48 * (4 << 20));
        var target = dir.File("out.pth");

        var psi = FreshProcessTests.HostStart("-Command", $"Get-LstmWeights -LiteralPath '{source}' | Export-LstmWeights '{target}'");
        using var p = Process.Start(psi)!;
        bool caught = false;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!p.HasExited && DateTime.UtcNow < deadline)
        {
            if (OpenFilesIn(p.Id, dir.Path).Any(f => !f.EndsWith("big.safetensors")))
            {
                p.Kill();
                caught = true;
                break;
            }
            Thread.Sleep(2);
        }
        p.WaitForExit();
        Assert.True(caught, $"the export finished (exit {p.ExitCode}) before it was seen writing; stderr: {p.StandardError.ReadToEnd()}");
        Assert.Equal(["big.safetensors"], FilesIn(dir));
    }

    /// <summary>What the process has open in <paramref name="dir"/> (an unnamed O_TMPFILE file shows as "dir/#inode (deleted)").</summary>
    static IEnumerable<string> OpenFilesIn(int pid, string dir)
    {
        string[] fds;
        try { fds = Directory.GetFileSystemEntries($"/proc/{pid}/fd"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { yield break; }
        foreach (var fd in fds)
        {
            string? target = null;
            try { target = new FileInfo(fd).LinkTarget; } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            if (target is not null && target.StartsWith(dir + "/", StringComparison.Ordinal)) yield return target;
        }
    }
}
