using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LstmPort.Runtime;

/// <summary>
/// A file being written that nobody sees until it is complete, so a write that fails, is cancelled
/// or is killed (SIGKILL, the OOM killer) leaves nothing behind.
/// On Linux it is an unnamed file (<c>O_TMPFILE</c>) in the target's folder: until
/// <see cref="Commit"/> links it into place it has no name, and the kernel frees it when the
/// process ends. Where the system or file system has no <c>O_TMPFILE</c>, it is a hidden temporary
/// file beside the target, <c>.&lt;name&gt;.&lt;pid&gt;.&lt;random&gt;.tmp</c>, removed on failure;
/// one left by a killed process is removed by the next write of the same target, once no live
/// process has that pid.
/// </summary>
public sealed class PendingFile : IDisposable
{
    readonly string _target;
    readonly string? _tempPath; // null for an unnamed file
    bool _committed;

    PendingFile(string target, SafeFileHandle handle, string? tempPath)
    {
        _target = target;
        Handle = handle;
        _tempPath = tempPath;
    }

    /// <summary>The open file, for reading and writing.</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>True when the file has no name until it is committed (Linux O_TMPFILE).</summary>
    public bool Unnamed => _tempPath is null;

    /// <summary>Opens a new pending file for <paramref name="target"/> (a full path whose folder exists).</summary>
    public static PendingFile Create(string target) => Create(target, unnamedIfPossible: OperatingSystem.IsLinux());

    /// <summary>As <see cref="Create(string)"/>; <paramref name="unnamedIfPossible"/> false takes the named route (tests use it).</summary>
    internal static PendingFile Create(string target, bool unnamedIfPossible)
    {
        var dir = Path.GetDirectoryName(target)!;
        if (unnamedIfPossible && OpenUnnamed(dir) is { } unnamed)
            return new PendingFile(target, unnamed, null);
        RemoveStale(target);
        var temp = Path.Combine(dir, $".{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        return new PendingFile(target, File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None), temp);
    }

    /// <summary>
    /// Gives the complete file the target's name. Without <paramref name="overwrite"/> an existing
    /// target is never replaced: <see cref="IOException"/> (the caller reports it as FileExists).
    /// The data must already be flushed to disk.
    /// </summary>
    public void Commit(bool overwrite)
    {
        if (_tempPath is not null)
        {
            File.Move(_tempPath, _target, overwrite);
            _committed = true;
            return;
        }
        var self = $"/proc/self/fd/{(int)Handle.DangerousGetHandle()}";
        if (!overwrite)
        {
            // linkat refuses an existing name: no window in which another file could be replaced.
            if (linkat(AtFdCwd, self, AtFdCwd, _target, AtSymlinkFollow) != 0)
                throw LinkError(Marshal.GetLastPInvokeError());
            _committed = true;
            return;
        }
        // A file cannot be renamed over the target before it has a name: link it under a temporary
        // one and rename that over the target (a kill between the two leaves that name, as a crash
        // of the named-temp route would).
        var temp = Path.Combine(Path.GetDirectoryName(_target)!, $".{Path.GetFileName(_target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        if (linkat(AtFdCwd, self, AtFdCwd, temp, AtSymlinkFollow) != 0)
            throw LinkError(Marshal.GetLastPInvokeError());
        try { File.Move(temp, _target, overwrite: true); }
        catch
        {
            File.Delete(temp);
            throw;
        }
        _committed = true;
    }

    public void Dispose()
    {
        Handle.Dispose();
        if (_tempPath is not null && !_committed)
            try { File.Delete(_tempPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Removes the temporary files of earlier writes of <paramref name="target"/> whose process is gone.</summary>
    static void RemoveStale(string target)
    {
        var dir = Path.GetDirectoryName(target)!;
        var prefix = $".{Path.GetFileName(target)}.";
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(dir, prefix + "*.tmp").ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var file in candidates)
        {
            var parts = Path.GetFileName(file)[prefix.Length..].Split('.');
            if (parts.Length != 3 || !int.TryParse(parts[0], out var pid) || parts[1].Length != 32 || IsRunning(pid)) continue;
            try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    static IOException LinkError(int errno) => errno == EExist
        ? new IOException("the target exists", errno)
        : new IOException($"linking the written file into place failed (errno {errno})", errno);

    const int AtFdCwd = -100, AtSymlinkFollow = 0x400, EExist = 17;

    /// <summary>An unnamed file in <paramref name="dir"/>, or null where O_TMPFILE is not available.</summary>
    static SafeFileHandle? OpenUnnamed(string dir)
    {
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY, and O_DIRECTORY differs between architectures.
        int tmpFile = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 or Architecture.X86 => 0x400000 | 0x10000,
            Architecture.Arm64 or Architecture.Arm => 0x400000 | 0x4000,
            _ => 0,
        };
        if (tmpFile == 0) return null;
        const int ReadWrite = 2, CloseOnExec = 0x80000;
        int fd = open(dir, tmpFile | ReadWrite | CloseOnExec, 0x1B6 /* 0666, less the umask */);
        // EOPNOTSUPP, EISDIR (kernels before 3.11), EINVAL: no O_TMPFILE here; use a named file.
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    [DllImport("libc", SetLastError = true)]
    static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    static extern int linkat(int olddirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string oldpath, int newdirfd,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string newpath, int flags);
}
