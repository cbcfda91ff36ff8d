// MSBuild inline task (compiled for netstandard2.0 by RoslynCodeTaskFactory): converts PlatyPS 1.0
// markdown command help (one .md per cmdlet) into the one MAML file Get-Help reads for a binary module.
//
// Why: Microsoft.PowerShell.PlatyPS (Export-MamlCommandHelp) and pwsh cannot be installed on the build
// machines, so the build does the conversion itself. The markdown is read as PlatyPS 1.0 writes it
// ("PlatyPS schema version: 2024-05-01"); the MAML follows PlatyPS 1.0's src/MamlWriter with a few
// deliberate differences, all for Get-Help's display:
//   * examples put the powershell code blocks in dev:code and the prose and output blocks in
//     dev:remarks (PlatyPS 1.0.3 puts the raw markdown, fences and all, into maml:introduction);
//   * each markdown paragraph is one maml:para with its hard line wraps undone, so the console wraps
//     it (PlatyPS keeps the markdown's line breaks, which show up ragged in a narrow console);
//   * parameters carry dev:defaultValue from DefaultValue (PlatyPS 1.0 drops it; Get-Help -Full
//     shows "Default value" from it);
//   * DontShow parameters are left out, as PowerShell's own syntax leaves them out;
//   * a related link whose target is not an absolute http(s) URI keeps its text but gets an empty
//     uri (as PlatyPS 0.14 did), so Get-Help -Online never tries to open a relative markdown path.
// Output is deterministic: commands sorted by name, parameters by name, no timestamps, UTF-8 without
// BOM, "\n" line ends.
// A malformed file fails the build with the file and line of the problem.
#nullable enable
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MarkdownHelpToMaml : Task
{
    /// <summary>The PlatyPS 1.0 markdown files, one per cmdlet.</summary>
    [Required] public ITaskItem[] Markdown { get; set; } = new ITaskItem[0];

    /// <summary>The MAML file to write, e.g. en-US/MyModule.dll-Help.xml.</summary>
    [Required] public string OutputFile { get; set; } = "";

    static readonly XNamespace Msh = "http://msh";
    static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    static readonly XNamespace Cmd = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    const string SchemaVersion = "2024-05-01";

    public override bool Execute()
    {
        var commands = new List<CommandDoc>();
        foreach (var item in Markdown)
        {
            var path = item.GetMetadata("FullPath");
            if (string.IsNullOrEmpty(path)) path = item.ItemSpec;
            var doc = new Reader(this, path).Read();
            if (doc != null) commands.Add(doc);
        }

        // Two files for one cmdlet would silently shadow each other in Get-Help.
        foreach (var dup in commands.GroupBy(c => c.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            foreach (var c in dup.Skip(1))
                Error(c.File, c.NameLine, $"cmdlet {c.Name} is documented twice (also in {dup.First().File}).");

        if (Log.HasLoggedErrors) return false;

        commands.Sort((a, b) =>
        {
            int r = string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase);
            return r != 0 ? r : string.CompareOrdinal(a.Name, b.Name);
        });

        var root = new XElement(Msh + "helpItems",
            new XAttribute("schema", "maml"),
            new XAttribute(XNamespace.Xmlns + "maml", Maml.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "command", Cmd.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "dev", Dev.NamespaceName),
            commands.Select(CommandElement));

        var settings = new XmlWriterSettings
        {
            Encoding = new UTF8Encoding(false),
            Indent = true,
            IndentChars = "  ",
            NewLineChars = "\n",
            NewLineHandling = NewLineHandling.Replace,
        };
        var buffer = new MemoryStream();
        using (var writer = XmlWriter.Create(buffer, settings))
            new XDocument(new XDeclaration("1.0", "utf-8", null), root).Save(writer);
        buffer.WriteByte((byte)'\n');

        var dir = Path.GetDirectoryName(Path.GetFullPath(OutputFile));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllBytes(OutputFile, buffer.ToArray());
        Log.LogMessage(MessageImportance.High, $"MAML help for {commands.Count} cmdlet(s) -> {OutputFile}");
        return true;
    }

    internal void Error(string file, int line, string message) =>
        Log.LogError(null, "MDHELP", null, file, line, 0, 0, 0, message);

    internal void Warning(string file, int line, string message) =>
        Log.LogWarning(null, "MDHELP", null, file, line, 0, 0, 0, message);

    // ---------------------------------------------------------------- model

    class CommandDoc
    {
        public string File = "", Name = "", HelpUri = "";
        public int NameLine;
        public List<string> Synopsis = new List<string>(), Description = new List<string>(), Notes = new List<string>();
        public List<SyntaxSet> Syntax = new List<SyntaxSet>();
        public List<ExampleDoc> Examples = new List<ExampleDoc>();
        public List<ParamDoc> Parameters = new List<ParamDoc>();
        public List<TypeDoc> Inputs = new List<TypeDoc>(), Outputs = new List<TypeDoc>();
        public List<LinkDoc> Links = new List<LinkDoc>();
    }

    class SyntaxSet
    {
        public string Name = "";
        public int Line;
        public List<SyntaxRef> Parameters = new List<SyntaxRef>();
    }

    /// <summary>One parameter as written in a SYNTAX code block.</summary>
    class SyntaxRef
    {
        public string Name = "", ValueType = "";
        public bool Optional, Positional;
    }

    class ParamDoc
    {
        public string Name = "", Type = "", DefaultValue = "";
        public int Line;
        public List<string> Description = new List<string>();
        public bool SupportsWildcards, DontShow;
        public List<string> Aliases = new List<string>(), AcceptedValues = new List<string>();
        public List<SetDoc> Sets = new List<SetDoc>();

        public bool IsSwitch =>
            Type.Equals("SwitchParameter", StringComparison.OrdinalIgnoreCase) ||
            Type.Equals("System.Management.Automation.SwitchParameter", StringComparison.OrdinalIgnoreCase);

        /// <summary>The entry for a parameter set: its own, else "(All)".</summary>
        public SetDoc? For(string set) =>
            Sets.FirstOrDefault(s => s.Name.Equals(set, StringComparison.OrdinalIgnoreCase)) ??
            Sets.FirstOrDefault(s => s.IsAll);
    }

    class SetDoc
    {
        public string Name = "", Position = "Named";
        public bool IsRequired, ValueFromPipeline, ValueFromPipelineByPropertyName, ValueFromRemainingArguments;
        public bool IsAll => Name == "(All)" || Name.Equals("__AllParameterSets", StringComparison.OrdinalIgnoreCase);
        public bool IsNamed => Position.Equals("Named", StringComparison.OrdinalIgnoreCase);
    }

    class ExampleDoc
    {
        public string Title = "";
        public List<string> Code = new List<string>(), Remarks = new List<string>();
    }

    class TypeDoc
    {
        public string Name = "";
        public List<string> Description = new List<string>();
    }

    class LinkDoc
    {
        public string Text = "", Uri = "";
    }

    // ---------------------------------------------------------------- markdown reading

    enum Kind { Heading, Fence, Text }

    /// <summary>A markdown block: a heading, a fenced code block or a paragraph (lines up to a blank line).</summary>
    class Block
    {
        public Kind Kind;
        public int Line;            // 1-based line of its first line
        public int Level;           // heading level
        public string Text = "";    // heading text
        public string Info = "";    // fence info string, lowercased
        public List<string> Lines = new List<string>();
    }

    class Section
    {
        public Block Heading = new Block();
        public List<Block> Blocks = new List<Block>();
    }

    static readonly string[] KnownSections =
        { "SYNOPSIS", "SYNTAX", "ALIASES", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS" };
    static readonly string[] RequiredSections = { "SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS" };

    static readonly Regex HeadingRx = new Regex(@"^(#{1,6})\s+(.*?)\s*$");
    static readonly Regex FenceRx = new Regex(@"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)");
    static readonly Regex ListItemRx = new Regex(@"^\s*([-*+]|\d+[.)])\s+");
    static readonly Regex LinkRx = new Regex(@"\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+""[^""]*"")?\s*\)");

    /// <summary>Reads one markdown file; logs every problem found and returns null if there was any.</summary>
    class Reader
    {
        readonly MarkdownHelpToMaml task;
        readonly string file;
        bool failed;

        public Reader(MarkdownHelpToMaml task, string file)
        {
            this.task = task;
            this.file = file;
        }

        void Error(int line, string message)
        {
            failed = true;
            task.Error(file, line, message);
        }

        void Warning(int line, string message) => task.Warning(file, line, message);

        public CommandDoc? Read()
        {
            string[] lines;
            try
            {
                lines = File.ReadAllText(file).Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
            }
            catch (Exception e)
            {
                Error(0, $"cannot read the file: {e.Message}");
                return null;
            }

            var doc = new CommandDoc { File = file };
            int bodyStart = ReadFrontMatter(lines, out var meta);
            var blocks = ToBlocks(lines, bodyStart);

            // "# Name": the first level-1 heading, before any section.
            var h1 = blocks.FirstOrDefault(b => b.Kind == Kind.Heading && b.Level == 1);
            if (h1 == null)
            {
                Error(bodyStart + 1, "no '# <cmdlet name>' heading.");
                return null;
            }
            doc.Name = h1.Text.Trim();
            doc.NameLine = h1.Line;
            if (meta.TryGetValue("title", out var title) && title.Length > 0 && !title.Equals(doc.Name, StringComparison.Ordinal))
                Error(h1.Line, $"the heading '# {doc.Name}' does not match 'title: {title}' in the front matter.");

            var sections = ToSections(blocks);
            foreach (var name in RequiredSections)
                if (!sections.ContainsKey(name))
                    Error(h1.Line, $"no '## {name}' section.");
            if (failed) return null;

            doc.Synopsis = Paragraphs(sections["SYNOPSIS"].Blocks);
            if (doc.Synopsis.Count == 0) Error(sections["SYNOPSIS"].Heading.Line, "## SYNOPSIS is empty.");
            doc.Description = Paragraphs(sections["DESCRIPTION"].Blocks);
            if (doc.Description.Count == 0) Error(sections["DESCRIPTION"].Heading.Line, "## DESCRIPTION is empty.");

            doc.Syntax = ReadSyntax(sections["SYNTAX"], doc.Name);
            doc.Examples = ReadExamples(sections["EXAMPLES"]);
            doc.Parameters = ReadParameters(sections["PARAMETERS"]);
            if (sections.TryGetValue("INPUTS", out var inputs)) doc.Inputs = ReadTypes(inputs);
            if (sections.TryGetValue("OUTPUTS", out var outputs)) doc.Outputs = ReadTypes(outputs);
            if (sections.TryGetValue("NOTES", out var notes)) doc.Notes = Paragraphs(notes.Blocks);
            if (sections.TryGetValue("RELATED LINKS", out var links)) doc.Links = ReadLinks(links);
            if (meta.TryGetValue("HelpUri", out var helpUri)) doc.HelpUri = helpUri;

            if (!failed) CheckSyntaxAgainstParameters(doc);
            return failed ? null : doc;
        }

        /// <summary>Reads the "---" YAML front matter (flat "key: value" lines). Returns the index of the first body line.</summary>
        int ReadFrontMatter(string[] lines, out Dictionary<string, string> meta)
        {
            meta = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var lineOf = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            if (lines.Length == 0 || lines[0].Trim() != "---")
            {
                Error(1, "no YAML front matter: the file must start with a '---' line (PlatyPS 1.0 metadata).");
                return 0;
            }
            int end = Array.FindIndex(lines, 1, l => l.Trim() == "---");
            if (end < 0)
            {
                Error(1, "the YAML front matter has no closing '---' line.");
                return lines.Length;
            }
            for (int i = 1; i < end; i++)
            {
                if (lines[i].Trim().Length == 0 || lines[i].TrimStart().StartsWith("#")) continue;
                int colon = lines[i].IndexOf(':');
                if (colon <= 0)
                {
                    Error(i + 1, $"front matter line is not 'key: value': {lines[i].Trim()}");
                    continue;
                }
                string key = lines[i].Substring(0, colon).Trim();
                meta[key] = Yaml.Unquote(lines[i].Substring(colon + 1).Trim());
                lineOf[key] = i + 1;
            }

            if (meta.TryGetValue("document type", out var type) && !type.Equals("cmdlet", StringComparison.OrdinalIgnoreCase))
                Error(lineOf["document type"], $"'document type: {type}' is not a cmdlet help file.");
            if (!meta.TryGetValue("PlatyPS schema version", out var version))
                Warning(1, $"no 'PlatyPS schema version' in the front matter; reading it as {SchemaVersion}.");
            else if (version != SchemaVersion)
                Warning(lineOf["PlatyPS schema version"], $"'PlatyPS schema version: {version}' is not {SchemaVersion}; reading it as {SchemaVersion}.");
            return end + 1;
        }

        /// <summary>Splits the body into headings, fenced code blocks and paragraphs. Headings inside fences are code.</summary>
        List<Block> ToBlocks(string[] lines, int start)
        {
            var blocks = new List<Block>();
            Block? text = null;
            for (int i = start; i < lines.Length; i++)
            {
                string line = lines[i];
                var fence = FenceRx.Match(line);
                if (fence.Success)
                {
                    text = null;
                    string marker = fence.Groups[1].Value;
                    var block = new Block { Kind = Kind.Fence, Line = i + 1, Info = fence.Groups[2].Value.ToLowerInvariant() };
                    int j = i + 1;
                    while (j < lines.Length && !IsClosingFence(lines[j], marker))
                    {
                        // A section heading inside code almost always means a missing closing fence.
                        var h = HeadingRx.Match(lines[j]);
                        if (h.Success && h.Groups[1].Length == 2 && KnownSections.Contains(h.Groups[2].Value.Trim().ToUpperInvariant()))
                            Error(j + 1, $"'{lines[j].Trim()}' is inside the code block opened at line {i + 1}; is its closing {marker} missing?");
                        block.Lines.Add(lines[j++]);
                    }
                    if (j == lines.Length) Error(i + 1, "code block is never closed.");
                    blocks.Add(block);
                    i = j;
                    continue;
                }
                var heading = HeadingRx.Match(line);
                if (heading.Success)
                {
                    text = null;
                    blocks.Add(new Block { Kind = Kind.Heading, Line = i + 1, Level = heading.Groups[1].Length, Text = heading.Groups[2].Value });
                    continue;
                }
                if (line.Trim().Length == 0)
                {
                    text = null;
                    continue;
                }
                if (text == null)
                {
                    text = new Block { Kind = Kind.Text, Line = i + 1 };
                    blocks.Add(text);
                }
                text.Lines.Add(line);
            }
            return blocks;
        }

        static bool IsClosingFence(string line, string marker)
        {
            string t = line.Trim();
            return t.Length >= marker.Length && t.Trim(marker[0]).Length == 0 && line.Length - line.TrimStart().Length <= 3;
        }

        /// <summary>Groups the blocks after each "## NAME" heading.</summary>
        Dictionary<string, Section> ToSections(List<Block> blocks)
        {
            var sections = new Dictionary<string, Section>(StringComparer.OrdinalIgnoreCase);
            Section? current = null;
            foreach (var b in blocks)
            {
                if (b.Kind == Kind.Heading && b.Level == 1) continue;
                if (b.Kind == Kind.Heading && b.Level == 2)
                {
                    string name = b.Text.Trim().ToUpperInvariant();
                    current = new Section { Heading = b };
                    if (!KnownSections.Contains(name))
                        Error(b.Line, $"unknown section '## {b.Text.Trim()}' (expected one of: {string.Join(", ", KnownSections)}).");
                    else if (sections.ContainsKey(name))
                        Error(b.Line, $"section '## {name}' appears twice.");
                    else
                        sections[name] = current;
                    continue;
                }
                if (current == null)
                {
                    Error(b.Line, "content before the first '## SYNOPSIS' section.");
                    continue;
                }
                current.Blocks.Add(b);
            }
            return sections;
        }

        /// <summary>Splits a section's blocks at its "###" headings; blocks before the first one are returned as 'preamble'.</summary>
        static List<KeyValuePair<Block, List<Block>>> SubSections(Section section, out List<Block> preamble)
        {
            var result = new List<KeyValuePair<Block, List<Block>>>();
            preamble = new List<Block>();
            List<Block> current = preamble;
            foreach (var b in section.Blocks)
            {
                if (b.Kind == Kind.Heading && b.Level == 3)
                {
                    current = new List<Block>();
                    result.Add(new KeyValuePair<Block, List<Block>>(b, current));
                }
                else current.Add(b);
            }
            return result;
        }

        void WarnIgnored(List<Block> preamble, Section section)
        {
            if (preamble.Count > 0)
                Warning(preamble[0].Line, $"text before the first '###' heading of ## {section.Heading.Text.Trim()} is ignored.");
        }

        List<SyntaxSet> ReadSyntax(Section section, string commandName)
        {
            var sets = new List<SyntaxSet>();
            var subs = SubSections(section, out var preamble);
            // PlatyPS accepts a lone code block without a "### set" heading: the cmdlet's only (default) set.
            if (subs.Count == 0 && preamble.Any(b => b.Kind == Kind.Fence))
                subs.Add(new KeyValuePair<Block, List<Block>>(new Block { Text = "__AllParameterSets", Line = section.Heading.Line }, preamble));
            if (subs.Count == 0)
                Error(section.Heading.Line, "## SYNTAX has no '### <ParameterSetName>' with a code block.");

            foreach (var sub in subs)
            {
                string name = sub.Key.Text.Trim();
                if (name.EndsWith("(Default)", StringComparison.OrdinalIgnoreCase))
                    name = name.Substring(0, name.Length - "(Default)".Length).Trim();
                var code = sub.Value.FirstOrDefault(b => b.Kind == Kind.Fence);
                if (code == null)
                {
                    Error(sub.Key.Line, $"syntax '### {sub.Key.Text}' has no code block.");
                    continue;
                }
                if (sets.Any(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                    Error(sub.Key.Line, $"parameter set '{name}' appears twice in ## SYNTAX.");
                var set = new SyntaxSet { Name = name, Line = code.Line };
                ParseSyntaxLine(string.Join(" ", code.Lines), commandName, set);
                sets.Add(set);
            }
            return sets;
        }

        // One parameter in a syntax line: [[-Name] <type>] | [-Name] <type> | [-Name <type>] | -Name <type> | [-Switch] | -Switch
        static readonly Regex SyntaxParamRx = new Regex(
            @"(?<=^|\s)(?<open>\[{0,2})-(?<name>[A-Za-z_][\w]*)(?<close1>\]?)(?:\s+<(?<type>[^<>]+)>(?<close2>\]?))?(?=\s|$)");

        void ParseSyntaxLine(string text, string commandName, SyntaxSet set)
        {
            text = Regex.Replace(text, @"\s+", " ").Trim();
            int space = text.IndexOf(' ');
            string first = space < 0 ? text : text.Substring(0, space);
            if (!first.Equals(commandName, StringComparison.OrdinalIgnoreCase))
                Error(set.Line, $"the syntax of set '{set.Name}' starts with '{first}', not the cmdlet name '{commandName}'.");
            string rest = space < 0 ? "" : text.Substring(space + 1);

            foreach (Match m in SyntaxParamRx.Matches(rest))
            {
                string open = m.Groups["open"].Value, close1 = m.Groups["close1"].Value, close2 = m.Groups["close2"].Value;
                bool hasType = m.Groups["type"].Success;
                var p = new SyntaxRef { Name = m.Groups["name"].Value, ValueType = hasType ? m.Groups["type"].Value.Trim() : "" };
                if (open == "[[") { p.Optional = true; p.Positional = true; }                 // [[-Name] <type>]
                else if (open == "[" && close1 == "]" && hasType) { p.Positional = true; }   // [-Name] <type>
                else if (open == "[") { p.Optional = true; }                                  // [-Name <type>] or [-Switch]
                if (open.Length != close1.Length + close2.Length)
                    Error(set.Line, $"unbalanced brackets around -{p.Name} in the syntax of set '{set.Name}'.");
                if (set.Parameters.Any(x => x.Name.Equals(p.Name, StringComparison.OrdinalIgnoreCase)))
                    Error(set.Line, $"-{p.Name} appears twice in the syntax of set '{set.Name}'.");
                set.Parameters.Add(p);
            }

            string leftover = SyntaxParamRx.Replace(rest, "").Replace("[<CommonParameters>]", "").Trim();
            if (leftover.Length > 0)
                Error(set.Line, $"cannot read '{leftover}' in the syntax of set '{set.Name}'.");
        }

        List<ExampleDoc> ReadExamples(Section section)
        {
            var examples = new List<ExampleDoc>();
            var subs = SubSections(section, out var preamble);
            WarnIgnored(preamble, section);
            foreach (var sub in subs)
            {
                var ex = new ExampleDoc { Title = sub.Key.Text.Trim() };
                var remarks = new List<Block>();
                foreach (var b in sub.Value)
                {
                    // PowerShell code goes to dev:code; prose and "Output" blocks are the remarks, in order.
                    if (b.Kind == Kind.Fence && IsPowerShell(b.Info))
                        ex.Code.Add(string.Join("\n", b.Lines).Trim('\n'));
                    else
                        remarks.Add(b);
                }
                ex.Remarks = Paragraphs(remarks);
                if (ex.Code.Count == 0)
                    Error(sub.Key.Line, $"example '{ex.Title}' has no ```powershell code block.");
                examples.Add(ex);
            }
            if (examples.Count < 2)
                Error(section.Heading.Line, $"## EXAMPLES has {examples.Count} example(s); at least 2 '### Example N: title' are required.");
            return examples;
        }

        static bool IsPowerShell(string info) =>
            info == "" || info == "powershell" || info == "pwsh" || info == "ps" || info == "ps1";

        List<ParamDoc> ReadParameters(Section section)
        {
            var parameters = new List<ParamDoc>();
            var subs = SubSections(section, out var preamble);
            WarnIgnored(preamble, section);
            foreach (var sub in subs)
            {
                string heading = sub.Key.Text.Trim();
                // Boilerplate sections: PowerShell's help adds the common parameters itself.
                if (heading.Equals("CommonParameters", StringComparison.OrdinalIgnoreCase) ||
                    heading.Equals("WorkflowCommonParameters", StringComparison.OrdinalIgnoreCase))
                    continue;
                if (!heading.StartsWith("-") || heading.Length < 2 || heading.Contains(" "))
                {
                    Error(sub.Key.Line, $"'### {heading}' in ## PARAMETERS is not '### -ParameterName' or '### CommonParameters'.");
                    continue;
                }

                var p = new ParamDoc { Name = heading.Substring(1), Line = sub.Key.Line };
                int yamlIndex = sub.Value.FindIndex(b => b.Kind == Kind.Fence && b.Info == "yaml");
                var description = yamlIndex < 0 ? sub.Value : sub.Value.Take(yamlIndex).ToList();
                p.Description = Paragraphs(description);
                if (p.Description.Count == 0)
                    Error(sub.Key.Line, $"parameter -{p.Name} has no description (text between '### -{p.Name}' and its ```yaml block).");
                if (yamlIndex < 0)
                    Error(sub.Key.Line, $"parameter -{p.Name} has no ```yaml metadata block.");
                else
                {
                    var yaml = sub.Value[yamlIndex];
                    ReadParameterYaml(yaml, p);
                    if (sub.Value.Count > yamlIndex + 1)
                        Warning(sub.Value[yamlIndex + 1].Line, $"text after the yaml block of -{p.Name} is ignored.");
                }

                if (parameters.Any(x => x.Name.Equals(p.Name, StringComparison.OrdinalIgnoreCase)))
                    Error(sub.Key.Line, $"parameter -{p.Name} is documented twice.");
                parameters.Add(p);
            }
            return parameters;
        }

        static readonly string[] V2Keys =
            { "Type", "DefaultValue", "SupportsWildcards", "Aliases", "ParameterSets", "DontShow", "AcceptedValues", "HelpMessage", "ParameterValue", "VariableLength" };
        static readonly string[] SetKeys =
            { "Name", "Position", "IsRequired", "ValueFromPipeline", "ValueFromPipelineByPropertyName", "ValueFromRemainingArguments" };

        void ReadParameterYaml(Block yaml, ParamDoc p)
        {
            Dictionary<string, Yaml.Node> map;
            try
            {
                map = Yaml.ParseMapping(yaml.Lines);
            }
            catch (FormatException e)
            {
                Error(yaml.Line + 1 + Yaml.ErrorLine(e), $"parameter -{p.Name}: {e.Message}");
                return;
            }
            int at = yaml.Line;

            if (map.ContainsKey("Parameter Sets") || map.ContainsKey("Accept pipeline input") || map.ContainsKey("Required"))
            {
                Error(at, $"parameter -{p.Name} uses the PlatyPS 0.14 metadata keys (Parameter Sets, Required, ...); write it in the {SchemaVersion} schema (Type, DefaultValue, SupportsWildcards, Aliases, ParameterSets, ...).");
                return;
            }
            foreach (var key in map.Keys.Where(k => !V2Keys.Contains(k)))
                Warning(at, $"parameter -{p.Name}: unknown metadata key '{key}' is ignored.");

            p.Type = Scalar(map, "Type", p.Name, at) ?? "";
            if (p.Type.Length == 0) Error(at, $"parameter -{p.Name} has no Type.");
            p.DefaultValue = Scalar(map, "DefaultValue", p.Name, at) ?? "";
            p.SupportsWildcards = Bool(map, "SupportsWildcards", p.Name, at);
            p.DontShow = Bool(map, "DontShow", p.Name, at);
            p.Aliases = List(map, "Aliases", p.Name, at);
            p.AcceptedValues = List(map, "AcceptedValues", p.Name, at);

            if (!map.TryGetValue("ParameterSets", out var sets) || sets.Items == null || sets.Items.Count == 0)
            {
                Error(at, $"parameter -{p.Name} has no ParameterSets list (use '- Name: (All)' for every set).");
                return;
            }
            foreach (var item in sets.Items)
            {
                if (item.Map == null)
                {
                    Error(at, $"parameter -{p.Name}: each ParameterSets entry must be a mapping with Name, Position, IsRequired, ...");
                    continue;
                }
                foreach (var key in item.Map.Keys.Where(k => !SetKeys.Contains(k)))
                    Warning(at, $"parameter -{p.Name}: unknown ParameterSets key '{key}' is ignored.");
                var set = new SetDoc
                {
                    Name = Scalar(item.Map, "Name", p.Name, at) ?? "",
                    Position = Scalar(item.Map, "Position", p.Name, at) ?? "Named",
                    IsRequired = Bool(item.Map, "IsRequired", p.Name, at),
                    ValueFromPipeline = Bool(item.Map, "ValueFromPipeline", p.Name, at),
                    ValueFromPipelineByPropertyName = Bool(item.Map, "ValueFromPipelineByPropertyName", p.Name, at),
                    ValueFromRemainingArguments = Bool(item.Map, "ValueFromRemainingArguments", p.Name, at),
                };
                if (set.Name.Length == 0) Error(at, $"parameter -{p.Name}: a ParameterSets entry has no Name.");
                if (set.Position.Length == 0) set.Position = "Named";
                if (!set.IsNamed && !int.TryParse(set.Position, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    Error(at, $"parameter -{p.Name}: Position '{set.Position}' is neither 'Named' nor a number.");
                p.Sets.Add(set);
            }
        }

        string? Scalar(Dictionary<string, Yaml.Node> map, string key, string param, int line)
        {
            if (!map.TryGetValue(key, out var node)) return null;
            if (node.Scalar == null)
            {
                Error(line, $"parameter -{param}: {key} must be a single value.");
                return null;
            }
            return node.Scalar;
        }

        bool Bool(Dictionary<string, Yaml.Node> map, string key, string param, int line)
        {
            string? s = Scalar(map, key, param, line);
            if (s == null || s.Length == 0) return false;
            if (s.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
            if (s.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
            Error(line, $"parameter -{param}: {key} is '{s}', not true or false.");
            return false;
        }

        List<string> List(Dictionary<string, Yaml.Node> map, string key, string param, int line)
        {
            if (!map.TryGetValue(key, out var node)) return new List<string>();
            // PlatyPS also reads "Aliases: a, b" written as one string.
            if (node.Scalar != null)
                return node.Scalar.Split(',').Select(s => s.Trim()).Where(s => s.Length > 0).ToList();
            if (node.Items!.Any(i => i.Scalar == null))
            {
                Error(line, $"parameter -{param}: {key} must be a list of plain values.");
                return new List<string>();
            }
            return node.Items!.Select(i => i.Scalar!).Where(s => s.Length > 0).ToList();
        }

        List<TypeDoc> ReadTypes(Section section)
        {
            var types = new List<TypeDoc>();
            var subs = SubSections(section, out var preamble);
            // Text with no "### <type>" heading (e.g. "None.") documents no type.
            if (subs.Count > 0) WarnIgnored(preamble, section);
            foreach (var sub in subs)
                types.Add(new TypeDoc { Name = sub.Key.Text.Trim(), Description = Paragraphs(sub.Value) });
            return types;
        }

        List<LinkDoc> ReadLinks(Section section)
        {
            var links = new List<LinkDoc>();
            foreach (var b in section.Blocks.Where(b => b.Kind == Kind.Text))
                foreach (var line in b.Lines)
                {
                    var matches = LinkRx.Matches(line);
                    if (matches.Count == 0)
                    {
                        Warning(b.Line, $"related link line without a [text](uri) link is ignored: {line.Trim()}");
                        continue;
                    }
                    foreach (Match m in matches)
                    {
                        string uri = m.Groups[2].Value;
                        bool web = Uri.TryCreate(uri, UriKind.Absolute, out var u) && (u.Scheme == "http" || u.Scheme == "https");
                        links.Add(new LinkDoc { Text = m.Groups[1].Value.Trim(), Uri = web ? uri : "" });
                    }
                }
            return links;
        }

        /// <summary>Each parameter named in a syntax line must be documented for that set, and the other way round.</summary>
        void CheckSyntaxAgainstParameters(CommandDoc doc)
        {
            var byName = doc.Parameters.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
            var setNames = new HashSet<string>(doc.Syntax.Select(s => s.Name), StringComparer.OrdinalIgnoreCase);

            foreach (var p in doc.Parameters)
                foreach (var s in p.Sets.Where(s => !s.IsAll && !setNames.Contains(s.Name)))
                    Error(p.Line, $"parameter -{p.Name} names parameter set '{s.Name}', which has no '### {s.Name}' in ## SYNTAX.");

            foreach (var set in doc.Syntax)
            {
                foreach (var r in set.Parameters)
                {
                    if (!byName.TryGetValue(r.Name, out var p))
                    {
                        Error(set.Line, $"the syntax of set '{set.Name}' names -{r.Name}, which has no '### -{r.Name}' in ## PARAMETERS.");
                        continue;
                    }
                    var entry = p.For(set.Name);
                    if (entry == null)
                    {
                        Error(p.Line, $"the syntax of set '{set.Name}' names -{p.Name}, but its ParameterSets has neither '{set.Name}' nor '(All)'.");
                        continue;
                    }
                    // The yaml decides what Get-Help shows; a syntax line that says otherwise is stale.
                    if (r.Optional == entry.IsRequired)
                        Warning(set.Line, $"set '{set.Name}': the syntax shows -{p.Name} as {(r.Optional ? "optional" : "required")}, its yaml says IsRequired: {entry.IsRequired.ToString().ToLowerInvariant()}.");
                    if (r.Positional == entry.IsNamed)
                        Warning(set.Line, $"set '{set.Name}': the syntax shows -{p.Name} as {(r.Positional ? "positional" : "named")}, its yaml says Position: {entry.Position}.");
                }
                foreach (var p in doc.Parameters.Where(p => !p.DontShow && p.For(set.Name) != null))
                    if (!set.Parameters.Any(r => r.Name.Equals(p.Name, StringComparison.OrdinalIgnoreCase)))
                        Error(p.Line, $"parameter -{p.Name} belongs to set '{set.Name}' by its ParameterSets, but the syntax of that set does not show it.");
            }
        }
    }

    /// <summary>
    /// Markdown blocks to maml:para texts: one per paragraph, list or code block. A paragraph's wrapped
    /// lines are joined with spaces; list items, table rows and hard breaks keep their own lines.
    /// </summary>
    static List<string> Paragraphs(List<Block> blocks)
    {
        var paras = new List<string>();
        foreach (var b in blocks)
        {
            if (b.Kind == Kind.Heading) paras.Add(b.Text.Trim());
            else if (b.Kind == Kind.Fence) paras.Add(string.Join("\n", b.Lines).Trim('\n'));
            else
            {
                var output = new List<string>();
                bool keepBreak = true;
                foreach (var raw in b.Lines)
                {
                    string line = raw.TrimEnd();
                    bool newLine = keepBreak || ListItemRx.IsMatch(line) || line.TrimStart().StartsWith("|");
                    keepBreak = raw.EndsWith("  ") || line.EndsWith("\\") || line.TrimStart().StartsWith("|");
                    if (line.EndsWith("\\")) line = line.Substring(0, line.Length - 1).TrimEnd();
                    if (newLine) output.Add(output.Count == 0 ? line.TrimStart() : line);
                    else output[output.Count - 1] += " " + line.Trim();
                }
                paras.Add(string.Join("\n", output));
            }
        }
        return paras.Where(p => p.Trim().Length > 0).ToList();
    }

    // ---------------------------------------------------------------- YAML subset

    /// <summary>
    /// Just enough YAML for PlatyPS parameter metadata: "key: scalar", "key: []", "key: [a, b]", and
    /// "key:" followed by "- scalar" items or "- key: value" mappings (continued on indented lines).
    /// </summary>
    static class Yaml
    {
        public class Node
        {
            public string? Scalar;
            public List<Node>? Items;
            public Dictionary<string, Node>? Map;
        }

        const string LineTag = "yaml-line:";

        static FormatException Fail(int line, string message)
        {
            var e = new FormatException(message);
            e.Data[LineTag] = line;
            return e;
        }

        public static int ErrorLine(FormatException e) => e.Data[LineTag] is int i ? i : 0;

        static int Indent(string line) => line.Length - line.TrimStart(' ').Length;

        public static Dictionary<string, Node> ParseMapping(List<string> lines)
        {
            var map = new Dictionary<string, Node>(StringComparer.Ordinal);
            int i = 0;
            while (i < lines.Count)
            {
                string line = lines[i];
                if (IsBlankOrComment(line)) { i++; continue; }
                if (line.StartsWith("\t")) throw Fail(i, "tabs are not allowed for indentation.");
                if (Indent(line) != 0) throw Fail(i, $"unexpected indentation: '{line.Trim()}'.");
                SplitKey(line, i, out string key, out string rest);
                if (map.ContainsKey(key)) throw Fail(i, $"key '{key}' appears twice.");
                i++;
                if (rest.Length > 0)
                {
                    map[key] = Value(rest, i - 1);
                    continue;
                }
                // A block list: "- item" lines, at the key's indentation or deeper.
                var items = new List<Node>();
                while (i < lines.Count && (IsBlankOrComment(lines[i]) || lines[i].TrimStart(' ').StartsWith("-") || Indent(lines[i]) > 0))
                {
                    if (IsBlankOrComment(lines[i])) { i++; continue; }
                    string itemLine = lines[i];
                    string trimmed = itemLine.TrimStart(' ');
                    if (!trimmed.StartsWith("-")) throw Fail(i, $"expected a '- ' list item: '{trimmed}'.");
                    int contentIndent = Indent(itemLine) + 2;
                    string content = trimmed.Substring(1).Trim();
                    i++;
                    if (IsKeyValue(content))
                    {
                        // "- Name: x" followed by "  Key: v" lines: one mapping.
                        var itemMap = new Dictionary<string, Node>(StringComparer.Ordinal);
                        SplitKey(content, i - 1, out string k0, out string v0);
                        itemMap[k0] = Value(v0, i - 1);
                        while (i < lines.Count && !IsBlankOrComment(lines[i]) && Indent(lines[i]) >= contentIndent && !lines[i].TrimStart(' ').StartsWith("- "))
                        {
                            SplitKey(lines[i].Trim(), i, out string k, out string v);
                            if (itemMap.ContainsKey(k)) throw Fail(i, $"key '{k}' appears twice.");
                            itemMap[k] = Value(v, i);
                            i++;
                        }
                        items.Add(new Node { Map = itemMap });
                    }
                    else items.Add(new Node { Scalar = Unquote(content) });
                }
                map[key] = new Node { Items = items };
            }
            return map;
        }

        static bool IsBlankOrComment(string line) => line.Trim().Length == 0 || line.TrimStart().StartsWith("#");

        static bool IsKeyValue(string s)
        {
            if (s.StartsWith("'") || s.StartsWith("\"")) return false;
            int colon = s.IndexOf(": ", StringComparison.Ordinal);
            return colon > 0 || (s.EndsWith(":") && s.Length > 1);
        }

        static void SplitKey(string line, int index, out string key, out string rest)
        {
            string s = line.Trim();
            int colon = s.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0 && s.EndsWith(":")) colon = s.Length - 1;
            if (colon <= 0) throw Fail(index, $"expected 'key: value': '{s}'.");
            key = s.Substring(0, colon).Trim();
            rest = s.Substring(colon + 1).Trim();
        }

        static Node Value(string text, int index)
        {
            if (text.StartsWith("["))
            {
                if (!text.EndsWith("]")) throw Fail(index, $"unclosed flow list: '{text}'.");
                string inner = text.Substring(1, text.Length - 2).Trim();
                var items = inner.Length == 0
                    ? new List<Node>()
                    : inner.Split(',').Select(s => new Node { Scalar = Unquote(s.Trim()) }).ToList();
                return new Node { Items = items };
            }
            if (text.StartsWith("{")) throw Fail(index, $"flow mappings are not supported: '{text}'.");
            return new Node { Scalar = Unquote(text) };
        }

        /// <summary>Removes YAML quotes: 'it''s' and "a \"b\"".</summary>
        public static string Unquote(string s)
        {
            if (s.Length >= 2 && s[0] == '\'' && s[s.Length - 1] == '\'')
                return s.Substring(1, s.Length - 2).Replace("''", "'");
            if (s.Length >= 2 && s[0] == '"' && s[s.Length - 1] == '"')
                return s.Substring(1, s.Length - 2).Replace("\\\"", "\"").Replace("\\\\", "\\");
            return s;
        }
    }

    // ---------------------------------------------------------------- MAML writing

    static IEnumerable<XElement> Paras(IEnumerable<string> paras) => paras.Select(p => new XElement(Maml + "para", p));

    XElement CommandElement(CommandDoc c)
    {
        int dash = c.Name.IndexOf('-');
        string verb = dash < 0 ? c.Name : c.Name.Substring(0, dash);
        string noun = dash < 0 ? "" : c.Name.Substring(dash + 1);
        var visible = c.Parameters.Where(p => !p.DontShow)
            .OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase).ThenBy(p => p.Name, StringComparer.Ordinal).ToList();

        var links = new List<LinkDoc>();
        if (c.HelpUri.Length > 0) links.Add(new LinkDoc { Text = "Online Version", Uri = c.HelpUri });
        links.AddRange(c.Links);

        return new XElement(Cmd + "command",
            new XElement(Cmd + "details",
                new XElement(Cmd + "name", c.Name),
                new XElement(Maml + "description", Paras(c.Synopsis)),
                new XElement(Cmd + "verb", verb),
                new XElement(Cmd + "noun", noun)),
            new XElement(Maml + "description", Paras(c.Description)),
            new XElement(Cmd + "syntax", c.Syntax.Select(s => SyntaxItemElement(c, s))),
            new XElement(Cmd + "parameters", visible.Select(ParameterElement)),
            new XElement(Cmd + "inputTypes", c.Inputs.Select(t => TypeElement("inputType", t))),
            new XElement(Cmd + "returnValues", c.Outputs.Select(t => TypeElement("returnValue", t))),
            // No alertSet at all when there are no notes: Get-Help then prints no empty NOTES heading.
            c.Notes.Count == 0 ? null : new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paras(c.Notes))),
            new XElement(Cmd + "examples", c.Examples.Select(ExampleElement)),
            new XElement(Cmd + "relatedLinks", links.Select(l =>
                new XElement(Maml + "navigationLink",
                    new XElement(Maml + "linkText", l.Text),
                    new XElement(Maml + "uri", l.Uri)))));
    }

    static string PipelineInput(IEnumerable<SetDoc> sets)
    {
        bool byValue = sets.Any(s => s.ValueFromPipeline);
        bool byName = sets.Any(s => s.ValueFromPipelineByPropertyName);
        if (byValue && byName) return "true (ByValue, ByPropertyName)";
        if (byValue) return "true (ByValue)";
        if (byName) return "true (ByPropertyName)";
        return "false";
    }

    static string Aliases(ParamDoc p) => p.Aliases.Count > 0 ? string.Join(", ", p.Aliases) : "none";

    static XElement? ValueGroup(ParamDoc p) =>
        p.AcceptedValues.Count == 0 ? null :
        new XElement(Cmd + "parameterValueGroup", p.AcceptedValues.Select(v =>
            new XElement(Cmd + "parameterValue", new XAttribute("required", "false"), new XAttribute("variableLength", "false"), v)));

    static XElement TypeOf(string name) => new XElement(Dev + "type", new XElement(Maml + "name", name));

    /// <summary>A command:parameters entry: what Get-Help -Full and -Parameter show.</summary>
    static XElement ParameterElement(ParamDoc p)
    {
        // Like PlatyPS: the first parameter set's position; required if required in any set.
        string position = p.Sets.Count == 0 ? "named" : p.Sets[0].IsNamed ? "named" : p.Sets[0].Position;
        return new XElement(Cmd + "parameter",
            new XAttribute("required", p.Sets.Any(s => s.IsRequired) ? "true" : "false"),
            new XAttribute("variableLength", "false"),
            new XAttribute("globbing", p.SupportsWildcards ? "true" : "false"),
            new XAttribute("pipelineInput", PipelineInput(p.Sets)),
            new XAttribute("position", position),
            new XAttribute("aliases", Aliases(p)),
            new XElement(Maml + "name", p.Name),
            new XElement(Maml + "description", Paras(p.Description)),
            ValueGroup(p),
            p.IsSwitch ? null : new XElement(Cmd + "parameterValue",
                new XAttribute("required", "true"), new XAttribute("variableLength", "true"), p.Type),
            TypeOf(p.Type),
            new XElement(Dev + "defaultValue", p.DefaultValue.Length > 0 ? p.DefaultValue : p.IsSwitch ? "False" : "None"));
    }

    /// <summary>One parameter set: the parameters in the order the syntax line shows them, with that set's position and requiredness.</summary>
    static XElement SyntaxItemElement(CommandDoc c, SyntaxSet set)
    {
        var byName = c.Parameters.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        return new XElement(Cmd + "syntaxItem",
            new XElement(Maml + "name", c.Name),
            set.Parameters.Where(r => !byName[r.Name].DontShow).Select(r =>
            {
                var p = byName[r.Name];
                var entry = p.For(set.Name)!;
                string valueType = r.ValueType.Length > 0 ? r.ValueType : p.Type;
                return new XElement(Cmd + "parameter",
                    new XAttribute("required", entry.IsRequired ? "true" : "false"),
                    new XAttribute("variableLength", "false"),
                    new XAttribute("globbing", p.SupportsWildcards ? "true" : "false"),
                    new XAttribute("pipelineInput", PipelineInput(new[] { entry })),
                    new XAttribute("position", entry.IsNamed ? "named" : entry.Position),
                    new XAttribute("aliases", Aliases(p)),
                    new XElement(Maml + "name", p.Name),
                    new XElement(Maml + "description"),
                    ValueGroup(p),
                    p.IsSwitch ? null : new XElement(Cmd + "parameterValue",
                        new XAttribute("required", "true"), new XAttribute("variableLength", "false"), valueType),
                    TypeOf(p.IsSwitch ? "System.Management.Automation.SwitchParameter" : p.Type));
            }));
    }

    static XElement TypeElement(string element, TypeDoc t) =>
        new XElement(Cmd + element, TypeOf(t.Name), new XElement(Maml + "description", Paras(t.Description)));

    static XElement ExampleElement(ExampleDoc e) =>
        new XElement(Cmd + "example",
            new XElement(Maml + "title", $"--------- {e.Title} ---------"),
            new XElement(Dev + "code", string.Join("\n\n", e.Code)),
            // The empty last para prints as a blank line, so the next example's title does not
            // run into this one's remarks (PlatyPS 1.0 adds a para for the same reason).
            new XElement(Dev + "remarks", Paras(e.Remarks), new XElement(Maml + "para")));
}
