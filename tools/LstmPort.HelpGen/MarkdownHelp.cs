using System.Text.RegularExpressions;

namespace LstmPort.HelpGen;

/// <summary>
/// Reads one cmdlet's help in the markdown PlatyPS 1.0 writes ("PlatyPS schema version: 2024-05-01"):
/// YAML front matter, "# Name", then the sections below, each "## NAME". Strict: anything it would
/// not carry into the MAML faithfully is an error with the file and line, never skipped.
/// </summary>
public static partial class MarkdownHelp
{
    public const string SchemaVersion = "2024-05-01";

    /// <summary>The sections PlatyPS writes. ALIASES is read past: MAML has no place for it.</summary>
    public static readonly string[] Sections =
        ["SYNOPSIS", "SYNTAX", "ALIASES", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS"];

    static readonly string[] ParameterKeys =
        ["Type", "DefaultValue", "SupportsWildcards", "Aliases", "ParameterSets", "DontShow", "AcceptedValues", "HelpMessage"];
    static readonly string[] SetKeys =
        ["Name", "Position", "IsRequired", "ValueFromPipeline", "ValueFromPipelineByPropertyName", "ValueFromRemainingArguments"];

    public static CommandHelp Read(string file, string text) => new Reader(file, text.ReplaceLineEndings("\n").Split('\n')).Read();

    [GeneratedRegex(@"^(#{1,6})\s+(.*?)\s*$")] private static partial Regex HeadingRx();
    [GeneratedRegex(@"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")] private static partial Regex FenceRx();
    [GeneratedRegex(@"^\s*([-*+]|\d+[.)])\s+")] private static partial Regex ListItemRx();
    [GeneratedRegex(@"^([^:]+):(?:\s+(.*?))?\s*$")] private static partial Regex KeyValueRx();
    [GeneratedRegex(@"^\s*-\s+\[([^\]]+)\]\(([^)\s]*)\)\s*$")] private static partial Regex LinkRx();
    // One parameter of a syntax line: [[-Name] <type>] | [-Name] <type> | [-Name <type>] | -Name <type> | [-Switch] | -Switch
    [GeneratedRegex(@"(?<=^|\s)(?<open>\[{0,2})-(?<name>[A-Za-z_]\w*)(?<close1>\]?)(?:\s+<(?<type>[^<>]+)>(?<close2>\]?))?(?=\s|$)")]
    private static partial Regex SyntaxParameterRx();

    enum Kind { Heading, Code, Text }

    /// <summary>A heading, a fenced code block or a paragraph; Line is 1-based.</summary>
    sealed record Block(Kind Kind, int Line, string Text = "", int Level = 0, string Info = "")
    {
        public List<string> Lines { get; } = [];
    }

    sealed record Yaml(int Line, string? Scalar, List<string>? Items = null, List<(int Line, Dictionary<string, string> Map)>? Maps = null);

    sealed class Reader(string file, string[] lines)
    {
        readonly Dictionary<string, (Block Heading, List<Block> Blocks)> sections = [];

        HelpFormatException Error(int line, string message) => new(file, line, message);

        public CommandHelp Read()
        {
            var meta = FrontMatter(out int body);
            var blocks = Blocks(body);
            if (blocks.Count == 0 || blocks[0] is not { Kind: Kind.Heading, Level: 1 } h1)
                throw Error(blocks.Count == 0 ? body + 1 : blocks[0].Line, "expected the '# <cmdlet name>' heading after the front matter.");
            string name = h1.Text;
            if (meta.GetValueOrDefault("title") is { } title && title != name)
                throw Error(h1.Line, $"the heading '# {name}' does not match 'title: {title}' in the front matter.");

            List<Block>? current = null;
            foreach (var b in blocks.Skip(1))
            {
                if (b.Kind == Kind.Heading && b.Level <= 2)
                {
                    if (b.Level == 1 || !Sections.Contains(b.Text))
                        throw Error(b.Line, $"unexpected heading '{new string('#', b.Level)} {b.Text}': the sections are ## {string.Join(", ## ", Sections)}.");
                    if (!sections.TryAdd(b.Text, (b, current = [])))
                        throw Error(b.Line, $"## {b.Text} appears twice.");
                }
                else if (current is null) throw Error(b.Line, "text between the '# <cmdlet name>' heading and ## SYNOPSIS.");
                else current.Add(b);
            }
            foreach (var s in Sections.Where(s => s != "ALIASES" && !sections.ContainsKey(s)))
                throw Error(h1.Line, $"no ## {s} section.");

            var syntax = ReadSyntax(name);
            var parameters = ReadParameters();
            CheckSyntaxAgainstParameters(syntax, parameters);
            return new CommandHelp(file, h1.Line, name, meta.GetValueOrDefault("HelpUri") ?? "",
                NonEmpty("SYNOPSIS"), syntax, NonEmpty("DESCRIPTION"), ReadExamples(), parameters,
                ReadTypes("INPUTS"), ReadTypes("OUTPUTS"), Paragraphs(sections["NOTES"].Blocks), ReadLinks());
        }

        /// <summary>The "---" block of flat "key: value" lines; body is the index of the first line after it.</summary>
        Dictionary<string, string> FrontMatter(out int body)
        {
            if (lines[0].Trim() != "---")
                throw Error(1, "no YAML front matter: a PlatyPS 1.0 file starts with a '---' line.");
            int end = Array.FindIndex(lines, 1, l => l.Trim() == "---");
            if (end < 0) throw Error(1, "the front matter has no closing '---' line.");
            var meta = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 1; i < end; i++)
            {
                if (lines[i].Trim().Length == 0) continue;
                var m = KeyValueRx().Match(lines[i]);
                if (!m.Success) throw Error(i + 1, $"front matter line is not 'key: value': '{lines[i].Trim()}'.");
                meta[m.Groups[1].Value.Trim()] = Unquote(m.Groups[2].Value);
            }
            if (meta.GetValueOrDefault("document type") != "cmdlet")
                throw Error(1, "the front matter has no 'document type: cmdlet'.");
            if (meta.GetValueOrDefault("PlatyPS schema version") != SchemaVersion)
                throw Error(1, $"the front matter has no 'PlatyPS schema version: {SchemaVersion}' (the markdown of PlatyPS 1.0).");
            body = end + 1;
            return meta;
        }

        /// <summary>Splits the body into headings, fenced code blocks and paragraphs (lines up to a blank line).</summary>
        List<Block> Blocks(int start)
        {
            var blocks = new List<Block>();
            Block? text = null;
            for (int i = start; i < lines.Length; i++)
            {
                string line = lines[i];
                if (FenceRx().Match(line) is { Success: true } fence)
                {
                    text = null;
                    string marker = fence.Groups[1].Value;
                    var code = new Block(Kind.Code, i + 1, Info: fence.Groups[2].Value.ToLowerInvariant());
                    while (++i < lines.Length && !(lines[i].Trim().Length >= marker.Length && lines[i].Trim().Trim(marker[0]).Length == 0))
                        code.Lines.Add(lines[i]);
                    if (i == lines.Length) throw Error(code.Line, $"the code block opened here is never closed with {marker}.");
                    blocks.Add(code);
                }
                else if (HeadingRx().Match(line) is { Success: true } heading)
                {
                    text = null;
                    blocks.Add(new Block(Kind.Heading, i + 1, heading.Groups[2].Value, heading.Groups[1].Length));
                }
                else if (line.Trim().Length == 0) text = null;
                else
                {
                    if (text is null) blocks.Add(text = new Block(Kind.Text, i + 1));
                    text.Lines.Add(line);
                }
            }
            return blocks;
        }

        /// <summary>
        /// Blocks to maml:para texts, one per paragraph or code block. A paragraph's wrapped lines are
        /// joined with spaces, so the console wraps it; list items keep their own lines.
        /// </summary>
        List<string> Paragraphs(IEnumerable<Block> blocks)
        {
            var paras = new List<string>();
            foreach (var b in blocks)
            {
                if (b.Kind == Kind.Heading) throw Error(b.Line, $"unexpected heading '{new string('#', b.Level)} {b.Text}'.");
                if (b.Kind == Kind.Code) { paras.Add(CodeText(b)); continue; }
                var joined = new List<string>();
                foreach (var line in b.Lines.Select(l => l.TrimEnd()))
                {
                    if (joined.Count == 0) joined.Add(line.TrimStart());
                    else if (ListItemRx().IsMatch(line)) joined.Add(line);
                    else joined[^1] += " " + line.Trim();
                }
                paras.Add(string.Join("\n", joined));
            }
            return paras.Where(p => p.Trim().Length > 0).ToList();
        }

        static string CodeText(Block b) => string.Join("\n", b.Lines).Trim('\n');

        List<string> NonEmpty(string section)
        {
            var paras = Paragraphs(sections[section].Blocks);
            return paras.Count > 0 ? paras : throw Error(sections[section].Heading.Line, $"## {section} is empty.");
        }

        /// <summary>A section's "### title" entries with their blocks; nothing may precede the first.</summary>
        List<(Block Heading, List<Block> Blocks)> Entries(string section)
        {
            var entries = new List<(Block Heading, List<Block> Blocks)>();
            foreach (var b in sections[section].Blocks)
            {
                if (b.Kind == Kind.Heading && b.Level == 3) entries.Add((b, []));
                else if (entries.Count == 0) throw Error(b.Line, $"## {section}: text before its first '### ' heading.");
                else entries[^1].Blocks.Add(b);
            }
            return entries;
        }

        List<SyntaxSet> ReadSyntax(string command)
        {
            var sets = new List<SyntaxSet>();
            foreach (var (heading, blocks) in Entries("SYNTAX"))
            {
                string name = heading.Text.EndsWith("(Default)", StringComparison.Ordinal) ? heading.Text[..^"(Default)".Length].Trim() : heading.Text;
                if (blocks is not [{ Kind: Kind.Code } code])
                    throw Error(heading.Line, $"### {heading.Text} in ## SYNTAX must hold exactly one code block, the syntax line.");
                if (sets.Any(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                    throw Error(heading.Line, $"parameter set '{name}' appears twice in ## SYNTAX.");
                sets.Add(new SyntaxSet(name, code.Line + 1, ParseSyntax(string.Join(" ", code.Lines), command, name, code.Line + 1)));
            }
            return sets.Count > 0 ? sets : throw Error(sections["SYNTAX"].Heading.Line, "## SYNTAX has no '### <ParameterSetName>' with a code block.");
        }

        List<SyntaxParameter> ParseSyntax(string text, string command, string set, int line)
        {
            var words = text.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (words.Length == 0 || !words[0].Equals(command, StringComparison.OrdinalIgnoreCase))
                throw Error(line, $"the syntax of set '{set}' does not start with the cmdlet name {command}.");
            string rest = words.Length > 1 ? words[1] : "";
            var result = new List<SyntaxParameter>();
            foreach (Match m in SyntaxParameterRx().Matches(rest))
            {
                string open = m.Groups["open"].Value, name = m.Groups["name"].Value;
                bool typed = m.Groups["type"].Success;
                if (open.Length != m.Groups["close1"].Length + m.Groups["close2"].Length)
                    throw Error(line, $"unbalanced brackets around -{name} in the syntax of set '{set}'.");
                if (result.Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                    throw Error(line, $"-{name} appears twice in the syntax of set '{set}'.");
                bool positional = open == "[[" || (open == "[" && m.Groups["close1"].Length == 1 && typed);
                bool required = open == "" || (open == "[" && positional);
                result.Add(new SyntaxParameter(name, typed ? m.Groups["type"].Value.Trim() : "", required, positional));
            }
            string leftover = SyntaxParameterRx().Replace(rest, "").Replace("[<CommonParameters>]", "").Trim();
            return leftover.Length == 0 ? result : throw Error(line, $"cannot read '{leftover}' in the syntax of set '{set}'.");
        }

        List<Example> ReadExamples()
        {
            var examples = new List<Example>();
            foreach (var (heading, blocks) in Entries("EXAMPLES"))
            {
                // PowerShell code goes to dev:code; prose and other blocks (```Output) are the remarks, in order.
                static bool IsCode(Block b) => b.Kind == Kind.Code && b.Info is "powershell" or "pwsh" or "ps" or "ps1" or "";
                var code = blocks.Where(IsCode).Select(CodeText).ToList();
                if (code.Count == 0) throw Error(heading.Line, $"example '{heading.Text}' has no ```powershell code block.");
                examples.Add(new Example(heading.Text, code, Paragraphs(blocks.Where(b => !IsCode(b)))));
            }
            return examples.Count > 0 ? examples : throw Error(sections["EXAMPLES"].Heading.Line, "## EXAMPLES has no '### Example 1: <title>'.");
        }

        List<Parameter> ReadParameters()
        {
            var parameters = new List<Parameter>();
            foreach (var (heading, blocks) in Entries("PARAMETERS"))
            {
                if (heading.Text == "CommonParameters") continue;   // Get-Help adds that entry itself
                if (!Regex.IsMatch(heading.Text, @"^-\w+$"))
                    throw Error(heading.Line, $"'### {heading.Text}' in ## PARAMETERS is neither '### -ParameterName' nor '### CommonParameters'.");
                string name = heading.Text[1..];
                int y = blocks.FindIndex(b => b.Kind == Kind.Code && b.Info == "yaml");
                if (y < 0) throw Error(heading.Line, $"-{name} has no ```yaml metadata block.");
                if (y < blocks.Count - 1) throw Error(blocks[y + 1].Line, $"text after the yaml block of -{name}.");
                var description = Paragraphs(blocks.Take(y));
                if (description.Count == 0) throw Error(heading.Line, $"-{name} has no description before its yaml block.");
                if (parameters.Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                    throw Error(heading.Line, $"-{name} is documented twice.");
                parameters.Add(ReadParameter(name, heading.Line, description, blocks[y]));
            }
            return parameters;
        }

        Parameter ReadParameter(string name, int line, List<string> description, Block yamlBlock)
        {
            var yaml = ParseYaml(yamlBlock, name);
            foreach (var (key, value) in yaml.Where(kv => !ParameterKeys.Contains(kv.Key)))
                throw Error(value.Line, $"-{name}: unknown metadata key '{key}' (PlatyPS {SchemaVersion} keys: {string.Join(", ", ParameterKeys)}).");
            string Scalar(string key, string? fallback = null) =>
                yaml.TryGetValue(key, out var v) ? v.Scalar ?? throw Error(v.Line, $"-{name}: {key} must be one value.")
                : fallback ?? throw Error(yamlBlock.Line, $"-{name}: the yaml has no {key}.");
            List<string> List(string key) =>
                !yaml.TryGetValue(key, out var v) ? [] : v.Items ?? throw Error(v.Line, $"-{name}: {key} must be a list of values.");
            bool Bool(string value, int at, string key) => value switch
            {
                "true" or "True" => true,
                "false" or "False" or "" => false,
                _ => throw Error(at, $"-{name}: {key} is '{value}', not true or false."),
            };

            if (Bool(Scalar("DontShow", "false"), yaml.GetValueOrDefault("DontShow")?.Line ?? line, "DontShow"))
                throw Error(yaml["DontShow"].Line, $"-{name}: DontShow: true is not supported; hidden parameters are not documented.");
            if (!yaml.TryGetValue("ParameterSets", out var setsYaml) || setsYaml.Maps is not { Count: > 0 } maps)
                throw Error(yaml.GetValueOrDefault("ParameterSets")?.Line ?? yamlBlock.Line, $"-{name}: ParameterSets must list '- Name: <set>' entries ('(All)' for every set).");

            var sets = new List<ParameterSetEntry>();
            foreach (var (at, map) in maps)
            {
                if (map.Keys.FirstOrDefault(k => !SetKeys.Contains(k)) is { } unknown)
                    throw Error(at, $"-{name}: unknown ParameterSets key '{unknown}'.");
                string set = map.GetValueOrDefault("Name") ?? throw Error(at, $"-{name}: a ParameterSets entry has no Name.");
                string position = map.GetValueOrDefault("Position") ?? "Named";
                if (!position.Equals("Named", StringComparison.OrdinalIgnoreCase) && !uint.TryParse(position, out _))
                    throw Error(at, $"-{name}: Position '{position}' is neither Named nor a number.");
                bool Flag(string key) => Bool(map.GetValueOrDefault(key) ?? "", at, key);
                Flag("ValueFromRemainingArguments");   // checked, not shown by Get-Help
                sets.Add(new ParameterSetEntry(set, position, Flag("IsRequired"), Flag("ValueFromPipeline"), Flag("ValueFromPipelineByPropertyName")));
            }
            string type = Scalar("Type");
            return new Parameter(name, line, description, type.Length > 0 ? type : throw Error(yaml["Type"].Line, $"-{name}: Type is empty."),
                Scalar("DefaultValue", ""), Bool(Scalar("SupportsWildcards", "false"), yaml.GetValueOrDefault("SupportsWildcards")?.Line ?? line, "SupportsWildcards"),
                List("Aliases"), List("AcceptedValues"), sets);
        }

        /// <summary>
        /// The YAML PlatyPS writes for a parameter: "Key: value", "Key: []", and "Key:" followed by
        /// "- value" items or "- Name: x" mappings continued on indented "  Key: value" lines.
        /// </summary>
        Dictionary<string, Yaml> ParseYaml(Block block, string name)
        {
            var yaml = new Dictionary<string, Yaml>(StringComparer.Ordinal);
            var body = block.Lines;
            for (int i = 0; i < body.Count; i++)
            {
                int at = block.Line + 1 + i;
                if (body[i].Trim().Length == 0) continue;
                var m = KeyValueRx().Match(body[i]);
                if (!m.Success || !Regex.IsMatch(m.Groups[1].Value, @"^\w+$"))
                    throw Error(at, $"-{name}: expected 'Key: value' in the yaml, found '{body[i].Trim()}'.");
                string key = m.Groups[1].Value, value = m.Groups[2].Value;
                if (yaml.ContainsKey(key)) throw Error(at, $"-{name}: {key} appears twice in the yaml.");
                if (value.StartsWith('['))
                    yaml[key] = value.EndsWith(']')
                        ? new Yaml(at, null, value[1..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Unquote).ToList())
                        : throw Error(at, $"-{name}: unclosed list '{value}'.");
                else if (value.Length > 0) yaml[key] = new Yaml(at, Unquote(value));
                else
                {
                    var items = new List<string>();
                    var maps = new List<(int, Dictionary<string, string>)>();
                    for (; i + 1 < body.Count && (body[i + 1].StartsWith(' ') || body[i + 1].StartsWith('-')); i++)
                    {
                        int itemAt = block.Line + 2 + i;
                        string item = body[i + 1].Trim();
                        bool starts = item.StartsWith("- ") || item == "-";
                        var kv = KeyValueRx().Match(starts ? item[1..].Trim() : item);
                        if (starts && !kv.Success) items.Add(Unquote(item[1..].Trim()));
                        else if (starts) maps.Add((itemAt, new() { [kv.Groups[1].Value] = Unquote(kv.Groups[2].Value) }));
                        else if (!kv.Success || maps.Count == 0) throw Error(itemAt, $"-{name}: cannot read '{item}' in the yaml.");
                        else if (!maps[^1].Item2.TryAdd(kv.Groups[1].Value, Unquote(kv.Groups[2].Value)))
                            throw Error(itemAt, $"-{name}: {kv.Groups[1].Value} appears twice in one {key} entry.");
                    }
                    if (items.Count > 0 && maps.Count > 0) throw Error(at, $"-{name}: {key} mixes values and mappings.");
                    yaml[key] = new Yaml(at, null, maps.Count > 0 ? null : items, maps.Count > 0 ? maps : null);
                }
            }
            return yaml;
        }

        List<TypeHelp> ReadTypes(string section) =>
            Entries(section).Select(e => new TypeHelp(e.Heading.Text, Paragraphs(e.Blocks))).ToList();

        List<Link> ReadLinks()
        {
            var links = new List<Link>();
            foreach (var b in sections["RELATED LINKS"].Blocks)
                for (int i = 0; i < Math.Max(1, b.Lines.Count); i++)
                {
                    var m = b.Kind == Kind.Text ? LinkRx().Match(b.Lines[i]) : Match.Empty;
                    if (!m.Success) throw Error(b.Line + i, "## RELATED LINKS holds only '- [text](address)' lines.");
                    string uri = m.Groups[2].Value;
                    bool web = Uri.TryCreate(uri, UriKind.Absolute, out var u) && (u.Scheme == "http" || u.Scheme == "https");
                    links.Add(new Link(m.Groups[1].Value.Trim(), web ? uri : ""));
                }
            return links;
        }

        /// <summary>Every parameter of a syntax line is documented for that set, as the line shows it, and the other way round.</summary>
        void CheckSyntaxAgainstParameters(List<SyntaxSet> syntax, List<Parameter> parameters)
        {
            foreach (var p in parameters)
                foreach (var s in p.Sets.Where(s => !s.IsAll && !syntax.Any(x => x.Name.Equals(s.Name, StringComparison.OrdinalIgnoreCase))))
                    throw Error(p.Line, $"-{p.Name} names parameter set '{s.Name}', which ## SYNTAX does not have.");
            foreach (var set in syntax)
            {
                foreach (var r in set.Parameters)
                {
                    var p = parameters.FirstOrDefault(p => p.Name.Equals(r.Name, StringComparison.OrdinalIgnoreCase))
                        ?? throw Error(set.Line, $"the syntax of set '{set.Name}' lists -{r.Name}, which has no '### -{r.Name}' in ## PARAMETERS.");
                    var entry = p.For(set.Name)
                        ?? throw Error(p.Line, $"the syntax of set '{set.Name}' lists -{p.Name}, but its ParameterSets has neither '{set.Name}' nor '(All)'.");
                    if (r.Required != entry.Required)
                        throw Error(set.Line, $"the syntax of set '{set.Name}' shows -{p.Name} as {(r.Required ? "required" : "optional")}, its yaml says IsRequired: {entry.Required.ToString().ToLowerInvariant()}.");
                    if (r.Positional == entry.IsNamed)
                        throw Error(set.Line, $"the syntax of set '{set.Name}' shows -{p.Name} as {(r.Positional ? "positional" : "named")}, its yaml says Position: {entry.Position}.");
                }
                foreach (var p in parameters.Where(p => p.For(set.Name) != null && !set.Parameters.Any(r => r.Name.Equals(p.Name, StringComparison.OrdinalIgnoreCase))))
                    throw Error(p.Line, $"-{p.Name} is documented for parameter set '{set.Name}', but the syntax of that set does not list it.");
            }
        }
    }

    /// <summary>Removes YAML quotes: 'it''s' and "a \"b\"".</summary>
    static string Unquote(string s) =>
        s.Length >= 2 && s[0] == '\'' && s[^1] == '\'' ? s[1..^1].Replace("''", "'")
        : s.Length >= 2 && s[0] == '"' && s[^1] == '"' ? s[1..^1].Replace("\\\"", "\"").Replace("\\\\", "\\")
        : s;
}
