// MSBuild inline task (compiled for netstandard2.0 by RoslynCodeTaskFactory): marks chosen symbol-version requirements of an ELF shared library as weak.
//
// Why: libLibTorchSharp.so from the TorchSharp 0.107.0 package was linked against GCC 13's
// libstdc++ and requires GLIBCXX_3.4.32, which Debian 12 (GCC 12, GLIBCXX_3.4.30) lacks, so the
// loader refuses it. Only _ZSt21ios_base_library_initv carries that version and no relocation
// uses it; setting VER_FLG_WEAK on that Vernaux entry in .gnu.version_r turns the hard failure
// into nothing at all (the dynamic loader skips weak version needs it cannot satisfy).
// The task patches only the build-output copy (never the NuGet cache: it writes a new file and
// moves it over the copy, so a hard link into the cache is never written through), and only the
// versions the machine's libstdc++ does not define: where they exist it changes nothing.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenElfVersionNeed : Task
{
    [Required] public string File { get; set; } = "";
    [Required] public string Versions { get; set; } = "";
    /// <summary>Files that define versions; a version found in any of them is left alone.</summary>
    public string ProviderSearch { get; set; } = "";

    const ushort VER_FLG_WEAK = 0x2;
    const uint SHT_GNU_verneed = 0x6ffffffe;

    public override bool Execute()
    {
        var wanted = new HashSet<string>(Versions.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
        var provided = ProvidedVersions();
        wanted.ExceptWith(provided);
        if (wanted.Count == 0)
        {
            Log.LogMessage(MessageImportance.Low, $"{File}: the system libstdc++ provides every needed version; nothing to patch.");
            return true;
        }
        var bytes = System.IO.File.ReadAllBytes(File);
        var changed = Patch(bytes, wanted);
        if (changed.Count == 0) return true;
        var tmp = File + ".patching";
        System.IO.File.WriteAllBytes(tmp, bytes);
        System.IO.File.Delete(File);
        System.IO.File.Move(tmp, File);
        Log.LogMessage(MessageImportance.High, $"Marked {string.Join(", ", changed)} weak in {Path.GetFileName(File)} (libstdc++ here lacks it).");
        return true;
    }

    HashSet<string> ProvidedVersions()
    {
        var found = new HashSet<string>();
        foreach (var candidate in ProviderSearch.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
        {
            if (!System.IO.File.Exists(candidate)) continue;
            var text = Encoding.ASCII.GetString(System.IO.File.ReadAllBytes(candidate));
            foreach (var v in Versions.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
                if (text.Contains(v + "\0")) found.Add(v);
        }
        return found;
    }

    // ELF64 little-endian only (every libtorch build TorchSharp ships for Linux).
    static List<string> Patch(byte[] b, HashSet<string> wanted)
    {
        var changed = new List<string>();
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != SHT_GNU_verneed) continue;
            long offset = BitConverter.ToInt64(b, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(b, (int)sh + 0x28);
            long strOff = BitConverter.ToInt64(b, (int)(shoff + (long)link * shentsize) + 0x18);
            long need = offset;
            while (true)
            {
                ushort count = BitConverter.ToUInt16(b, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(b, (int)need + 8);
                for (int k = 0; k < count; k++)
                {
                    ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                    string name = CString(b, strOff + BitConverter.ToUInt32(b, (int)aux + 8));
                    if (wanted.Contains(name) && (flags & VER_FLG_WEAK) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VER_FLG_WEAK)).CopyTo(b, (int)aux + 4);
                        changed.Add(name);
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                uint next = BitConverter.ToUInt32(b, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return changed;
    }

    static string CString(byte[] b, long at)
    {
        int end = (int)at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
    }
}
