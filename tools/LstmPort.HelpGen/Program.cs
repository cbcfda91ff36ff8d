namespace LstmPort.HelpGen;

/// <summary>
/// LstmPort.HelpGen &lt;output.xml&gt; &lt;cmdlet.md&gt;...: one MAML file from PlatyPS 1.0 markdown files.
/// Problems are printed in MSBuild's error format (file(line): error HELPGEN: message), so the build
/// lists them with file and line; then the exit code is 1 and nothing is written.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length < 2)
        {
            stderr.WriteLine("usage: LstmPort.HelpGen <output.xml> <cmdlet.md>...");
            return 2;
        }
        var commands = new List<CommandHelp>();
        var errors = new List<HelpFormatException>();
        foreach (var file in args[1..])
        {
            try { commands.Add(MarkdownHelp.Read(file, File.ReadAllText(file))); }
            catch (HelpFormatException e) { errors.Add(e); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { errors.Add(new HelpFormatException(file, 0, e.Message)); }
        }
        string maml = "";
        if (errors.Count == 0)
        {
            try { maml = MamlWriter.Write(commands); }
            catch (HelpFormatException e) { errors.Add(e); }
        }
        foreach (var e in errors) stderr.WriteLine(e.Canonical);
        if (errors.Count > 0) return 1;

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(args[0]))!);
        File.WriteAllText(args[0], maml);   // UTF-8 without BOM
        stdout.WriteLine($"MAML help for {commands.Count} cmdlet(s) -> {args[0]}");
        return 0;
    }
}
