using System.Xml.Linq;
using LstmPort.HelpGen;

namespace LstmPort.Tests.Build;

/// <summary>tools/LstmPort.HelpGen: PlatyPS 1.0 markdown to MAML, on small pages.</summary>
public sealed class HelpGeneratorTests
{
    // A small page with every section, two parameter sets, a switch, accepted values, aliases,
    // a multi-line example with an output block and one with two code blocks.
    const string Page = """
        ---
        document type: cmdlet
        external help file: Thing.dll-Help.xml
        HelpUri: ''
        Locale: en-US
        Module Name: Thing
        ms.date: 01/01/2026
        PlatyPS schema version: 2024-05-01
        title: Get-Thing
        ---

        # Get-Thing

        ## SYNOPSIS

        Gets things.

        ## SYNTAX

        ### Path (Default)

        ```
        Get-Thing [-Path] <string[]> [-Kind <ThingKind>] [-Force] [<CommonParameters>]
        ```

        ### LiteralPath

        ```
        Get-Thing -LiteralPath <string[]> [-Kind <ThingKind>]
         [-Force] [<CommonParameters>]
        ```

        ## ALIASES

        This cmdlet has no aliases.

        ## DESCRIPTION

        Get-Thing reads things
        from files.

        - one: the first
          item, wrapped
        - two: `code` stays

        Last paragraph.

        ## EXAMPLES

        ### Example 1: Two lines and the output

        ```powershell
        $t = Get-Thing ./a.thing
        $t | Format-Table
        ```

        ```Output
           Source: ./a.thing

        Name
        ----
        a
        ```

        A remark, wrapped
        over two lines.

        ### Example 2: Two code blocks

        ```powershell
        $x = 1
        ```

        ```powershell
        Get-Thing -LiteralPath $x
        ```

        ## PARAMETERS

        ### -Force

        Forces it.

        ```yaml
        Type: System.Management.Automation.SwitchParameter
        DefaultValue: False
        SupportsWildcards: false
        Aliases: []
        ParameterSets:
        - Name: (All)
          Position: Named
          IsRequired: false
          ValueFromPipeline: false
          ValueFromPipelineByPropertyName: false
          ValueFromRemainingArguments: false
        DontShow: false
        AcceptedValues: []
        HelpMessage: ''
        ```

        ### -Kind

        The kind.

        ```yaml
        Type: Thing.ThingKind
        DefaultValue: Small, unless the file says
        SupportsWildcards: false
        Aliases: []
        ParameterSets:
        - Name: (All)
          Position: Named
          IsRequired: false
          ValueFromPipeline: false
          ValueFromPipelineByPropertyName: false
          ValueFromRemainingArguments: false
        DontShow: false
        AcceptedValues:
        - Small
        - Large
        HelpMessage: ''
        ```

        ### -LiteralPath

        Paths, as typed.

        ```yaml
        Type: System.String[]
        DefaultValue: None
        SupportsWildcards: false
        Aliases:
        - PSPath
        - LP
        ParameterSets:
        - Name: LiteralPath
          Position: Named
          IsRequired: true
          ValueFromPipeline: false
          ValueFromPipelineByPropertyName: true
          ValueFromRemainingArguments: false
        DontShow: false
        AcceptedValues: []
        HelpMessage: ''
        ```

        ### -Path

        Paths, with wildcards.

        ```yaml
        Type: System.String[]
        DefaultValue: None
        SupportsWildcards: true
        Aliases: []
        ParameterSets:
        - Name: Path
          Position: 0
          IsRequired: true
          ValueFromPipeline: true
          ValueFromPipelineByPropertyName: false
          ValueFromRemainingArguments: false
        DontShow: false
        AcceptedValues: []
        HelpMessage: ''
        ```

        ### CommonParameters

        This cmdlet supports the common parameters. For more information, see
        [about_CommonParameters](https://go.microsoft.com/fwlink/?LinkID=113216).

        ## INPUTS

        ### System.String

        A path.

        ## OUTPUTS

        ### Thing.Thing

        One per thing.

        ### None

        ## NOTES

        Things are read lazily.

        ## RELATED LINKS

        - [Online help](https://example.com/get-thing)
        - [about_Thing](about_Thing.help.txt)
        """;

    static CommandHelp Read(string text = Page) => MarkdownHelp.Read("Get-Thing.md", text);

    static XElement Maml(params CommandHelp[] commands) => XDocument.Parse(MamlWriter.Write(commands)).Root!;

    static readonly XNamespace M = "http://schemas.microsoft.com/maml/2004/10";
    static readonly XNamespace C = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    static readonly XNamespace D = "http://schemas.microsoft.com/maml/dev/2004/10";

    static string[] Paras(XElement? e) => e!.Elements(M + "para").Select(p => p.Value).ToArray();

    // ------------------------------------------------------------------ reading

    [Fact]
    public void Reads_synopsis_description_and_notes_as_paragraphs()
    {
        var c = Read();
        Assert.Equal("Get-Thing", c.Name);
        Assert.Equal(["Gets things."], c.Synopsis);
        // Wrapped lines are joined; list items keep their own lines, their continuations joined.
        Assert.Equal(["Get-Thing reads things from files.", "- one: the first item, wrapped\n- two: `code` stays", "Last paragraph."], c.Description);
        Assert.Equal(["Things are read lazily."], c.Notes);
    }

    [Fact]
    public void Reads_each_parameter_set_of_the_syntax_with_brackets_as_required_and_positional()
    {
        var c = Read();
        Assert.Equal(["Path", "LiteralPath"], c.Syntax.Select(s => s.Name));   // "(Default)" is not part of the name
        Assert.Equal(
            [new SyntaxParameter("Path", "string[]", Required: true, Positional: true),
             new SyntaxParameter("Kind", "ThingKind", false, false),
             new SyntaxParameter("Force", "", false, false)],
            c.Syntax[0].Parameters);
        // A syntax line wrapped over two lines is one line.
        Assert.Equal(["LiteralPath", "Kind", "Force"], c.Syntax[1].Parameters.Select(p => p.Name));
        Assert.True(c.Syntax[1].Parameters[0].Required);
        Assert.False(c.Syntax[1].Parameters[0].Positional);
    }

    [Fact]
    public void Reads_parameter_metadata_from_the_yaml()
    {
        var c = Read();
        Assert.Equal(["Force", "Kind", "LiteralPath", "Path"], c.Parameters.Select(p => p.Name));   // CommonParameters is left to Get-Help
        var kind = c.Parameters[1];
        Assert.Equal("Thing.ThingKind", kind.Type);
        Assert.Equal("Small, unless the file says", kind.DefaultValue);
        Assert.Equal(["Small", "Large"], kind.AcceptedValues);
        Assert.Equal(["The kind."], kind.Description);
        var literal = c.Parameters[2];
        Assert.Equal(["PSPath", "LP"], literal.Aliases);
        Assert.Equal([new ParameterSetEntry("LiteralPath", "Named", Required: true, ByValue: false, ByPropertyName: true)], literal.Sets);
        var path = c.Parameters[3];
        Assert.True(path.SupportsWildcards);
        Assert.Equal(new ParameterSetEntry("Path", "0", true, true, false), path.For("Path"));
        Assert.Null(path.For("LiteralPath"));
        Assert.True(c.Parameters[0].IsSwitch);
        Assert.True(c.Parameters[0].For("LiteralPath")!.IsAll);
    }

    [Fact]
    public void Examples_keep_powershell_code_as_code_and_the_rest_as_remarks()
    {
        var c = Read();
        Assert.Equal(["Example 1: Two lines and the output", "Example 2: Two code blocks"], c.Examples.Select(e => e.Title));
        Assert.Equal(["$t = Get-Thing ./a.thing\n$t | Format-Table"], c.Examples[0].Code);
        // The output block keeps its lines and indentation; prose is unwrapped.
        Assert.Equal(["   Source: ./a.thing\n\nName\n----\na", "A remark, wrapped over two lines."], c.Examples[0].Remarks);
        Assert.Equal(["$x = 1", "Get-Thing -LiteralPath $x"], c.Examples[1].Code);
        Assert.Empty(c.Examples[1].Remarks);
    }

    [Fact]
    public void Reads_inputs_outputs_and_links()
    {
        var c = Read();
        Assert.Equal([new TypeHelp("System.String", ["A path."])], c.Inputs, new TypeComparer());
        Assert.Equal(["Thing.Thing", "None"], c.Outputs.Select(t => t.Name));
        Assert.Empty(c.Outputs[1].Description);
        // Only an absolute http(s) address is kept: Get-Help -Online must not open a markdown path.
        Assert.Equal([new Link("Online help", "https://example.com/get-thing"), new Link("about_Thing", "")], c.Links);
    }

    sealed class TypeComparer : IEqualityComparer<TypeHelp>
    {
        public bool Equals(TypeHelp? a, TypeHelp? b) => a!.Name == b!.Name && a.Description.SequenceEqual(b.Description);
        public int GetHashCode(TypeHelp t) => t.Name.GetHashCode();
    }

    [Fact]
    public void Reads_crlf_files_and_quoted_yaml()
    {
        var c = Read(Page.Replace("DefaultValue: Small, unless the file says", "DefaultValue: 'it''s small'").ReplaceLineEndings("\r\n"));
        Assert.Equal("it's small", c.Parameters[1].DefaultValue);
        Assert.Equal("Get-Thing reads things from files.", c.Description[0]);
    }

    // ------------------------------------------------------------------ writing

    [Fact]
    public void Maml_has_the_details_description_notes_and_links()
    {
        var command = Maml(Read()).Element(C + "command")!;
        var details = command.Element(C + "details")!;
        Assert.Equal("Get-Thing", details.Element(C + "name")!.Value);
        Assert.Equal("Get", details.Element(C + "verb")!.Value);
        Assert.Equal("Thing", details.Element(C + "noun")!.Value);
        Assert.Equal(["Gets things."], Paras(details.Element(M + "description")));
        Assert.Equal(3, Paras(command.Element(M + "description")).Length);
        Assert.Equal(["Things are read lazily."], Paras(command.Element(M + "alertSet")!.Element(M + "alert")));
        var links = command.Element(C + "relatedLinks")!.Elements(M + "navigationLink")
            .Select(l => (l.Element(M + "linkText")!.Value, l.Element(M + "uri")!.Value));
        Assert.Equal([("Online help", "https://example.com/get-thing"), ("about_Thing", "")], links);
        var input = command.Element(C + "inputTypes")!.Element(C + "inputType")!;
        Assert.Equal("System.String", input.Element(D + "type")!.Element(M + "name")!.Value);
        Assert.Equal(["A path."], Paras(input.Element(M + "description")));
        Assert.Equal(2, command.Element(C + "returnValues")!.Elements(C + "returnValue").Count());
    }

    [Fact]
    public void Maml_parameters_carry_type_required_position_pipeline_wildcards_aliases_and_default()
    {
        var parameters = Maml(Read()).Descendants(C + "parameters").Single().Elements(C + "parameter").ToDictionary(p => p.Element(M + "name")!.Value);
        Assert.Equal(["Force", "Kind", "LiteralPath", "Path"], parameters.Keys);
        var path = parameters["Path"];
        Assert.Equal("true", (string?)path.Attribute("required"));
        Assert.Equal("0", (string?)path.Attribute("position"));
        Assert.Equal("true (ByValue)", (string?)path.Attribute("pipelineInput"));
        Assert.Equal("true", (string?)path.Attribute("globbing"));
        Assert.Equal("none", (string?)path.Attribute("aliases"));
        Assert.Equal("System.String[]", path.Element(C + "parameterValue")!.Value);
        Assert.Equal("System.String[]", path.Element(D + "type")!.Element(M + "name")!.Value);
        Assert.Equal("None", path.Element(D + "defaultValue")!.Value);
        Assert.Equal(["Paths, with wildcards."], Paras(path.Element(M + "description")));

        var literal = parameters["LiteralPath"];
        Assert.Equal("named", (string?)literal.Attribute("position"));
        Assert.Equal("true (ByPropertyName)", (string?)literal.Attribute("pipelineInput"));
        Assert.Equal("PSPath, LP", (string?)literal.Attribute("aliases"));

        var kind = parameters["Kind"];
        Assert.Equal("false", (string?)kind.Attribute("required"));
        Assert.Equal(["Small", "Large"], kind.Element(C + "parameterValueGroup")!.Elements(C + "parameterValue").Select(v => v.Value));
        Assert.Equal("Small, unless the file says", kind.Element(D + "defaultValue")!.Value);

        // A switch takes no value.
        Assert.Null(parameters["Force"].Element(C + "parameterValue"));
        Assert.Equal("False", parameters["Force"].Element(D + "defaultValue")!.Value);
    }

    [Fact]
    public void Maml_syntax_has_one_item_per_set_in_the_order_of_its_line()
    {
        var items = Maml(Read()).Descendants(C + "syntaxItem").ToList();
        Assert.Equal(2, items.Count);
        var first = items[0].Elements(C + "parameter").ToList();
        Assert.Equal(["Path", "Kind", "Force"], first.Select(p => p.Element(M + "name")!.Value));
        Assert.Equal("string[]", first[0].Element(C + "parameterValue")!.Value);   // the syntax line's type, as written
        Assert.Equal(("true", "0"), ((string?)first[0].Attribute("required"), (string?)first[0].Attribute("position")));
        Assert.Equal("System.Management.Automation.SwitchParameter", first[2].Element(D + "type")!.Element(M + "name")!.Value);
        var literal = items[1].Elements(C + "parameter").First();
        Assert.Equal(("LiteralPath", "named", "true (ByPropertyName)"),
            (literal.Element(M + "name")!.Value, (string?)literal.Attribute("position"), (string?)literal.Attribute("pipelineInput")));
    }

    [Fact]
    public void Maml_examples_have_title_code_and_remarks()
    {
        var examples = Maml(Read()).Descendants(C + "example").ToList();
        Assert.Equal("--------- Example 1: Two lines and the output ---------", examples[0].Element(M + "title")!.Value);
        Assert.Equal("$t = Get-Thing ./a.thing\n$t | Format-Table", examples[0].Element(D + "code")!.Value);
        // The empty last para keeps a blank line before the next example's title.
        Assert.Equal(["   Source: ./a.thing\n\nName\n----\na", "A remark, wrapped over two lines.", ""], Paras(examples[0].Element(D + "remarks")));
        Assert.Equal("$x = 1\n\nGet-Thing -LiteralPath $x", examples[1].Element(D + "code")!.Value);
    }

    [Fact]
    public void Maml_is_sorted_deterministic_and_has_no_empty_notes()
    {
        var other = Read(Page.Replace("Get-Thing", "Add-Thing").Replace("Things are read lazily.", ""));
        var text = MamlWriter.Write([Read(), other]);
        Assert.Equal(text, MamlWriter.Write([other, Read()]));
        Assert.StartsWith("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<helpItems schema=\"maml\"", text);
        Assert.DoesNotContain("\r", text);
        var commands = XDocument.Parse(text).Root!.Elements(C + "command").ToList();
        Assert.Equal(["Add-Thing", "Get-Thing"], commands.Select(c => c.Element(C + "details")!.Element(C + "name")!.Value));
        Assert.Null(commands[0].Element(M + "alertSet"));
    }

    [Fact]
    public void Maml_leads_the_links_with_the_online_version_when_HelpUri_is_set()
    {
        var c = Read(Page.Replace("HelpUri: ''", "HelpUri: https://example.com/online"));
        var first = Maml(c).Descendants(M + "navigationLink").First();
        Assert.Equal(("Online Version", "https://example.com/online"), (first.Element(M + "linkText")!.Value, first.Element(M + "uri")!.Value));
    }

    [Fact]
    public void A_cmdlet_documented_twice_is_an_error()
    {
        var e = Assert.Throws<HelpFormatException>(() => MamlWriter.Write([Read(), MarkdownHelp.Read("copy.md", Page)]));
        Assert.Equal("copy.md", e.File);
        Assert.Contains("Get-Thing is documented twice", e.Message);
    }

    // ------------------------------------------------------------------ errors

    /// <summary>Each malformed page fails at the line of the given text (in the changed page) with the given message.</summary>
    [Theory]
    [InlineData("---\ndocument type: cmdlet", "document type: cmdlet", "no YAML front matter", "document type")]
    [InlineData("title: Get-Thing\n---", "title: Get-Thing\n", "no closing '---'", "---")]
    [InlineData("PlatyPS schema version: 2024-05-01", "PlatyPS schema version: 2023-01-01", "PlatyPS schema version: 2024-05-01", "---")]
    [InlineData("title: Get-Thing", "title: Get-Other", "does not match 'title: Get-Other'", "# Get-Thing")]
    [InlineData("## NOTES\n\nThings are read lazily.\n\n", "", "no ## NOTES section", "# Get-Thing")]
    [InlineData("## ALIASES", "## ALIAS", "unexpected heading '## ALIAS'", "## ALIAS")]
    [InlineData("## SYNOPSIS\n\nGets things.", "## SYNOPSIS\n\n", "## SYNOPSIS is empty", "## SYNOPSIS")]
    [InlineData("# Get-Thing\n", "# Get-Thing\n\nStray text.\n", "text between", "Stray text.")]
    [InlineData("- [about_Thing](about_Thing.help.txt)", "- [about_Thing](about_Thing.help.txt)\n\n```powershell\nnever closed", "never closed", "```powershell\nnever closed")]
    [InlineData("Get-Thing [-Path]", "Get-Thin [-Path]", "does not start with the cmdlet name", "Get-Thin [-Path]")]
    [InlineData("[-Kind <ThingKind>] [-Force] [<CommonParameters>]", "[-Kind <ThingKind>] [-Force] {oops} [<CommonParameters>]", "cannot read '{oops}'", "Get-Thing [-Path]")]
    [InlineData("[-Path] <string[]> [-Kind", "[[-Path] <string[]> [-Kind", "unbalanced brackets around -Path", "Get-Thing [[-Path]")]
    [InlineData("[-Path] <string[]> [-Kind <ThingKind>] [-Force]", "[-Path] <string[]> [-Force]", "-Kind is documented for parameter set 'Path', but the syntax of that set does not list it", "### -Kind")]
    [InlineData("[-Force] [<CommonParameters>]\n```\n\n### LiteralPath", "[-Force] [-Extra] [<CommonParameters>]\n```\n\n### LiteralPath", "lists -Extra, which has no '### -Extra'", "Get-Thing [-Path]")]
    [InlineData("Get-Thing [-Path] <string[]>", "Get-Thing -Path <string[]>", "shows -Path as named, its yaml says Position: 0", "Get-Thing -Path")]
    [InlineData("Get-Thing [-Path] <string[]>", "Get-Thing [[-Path] <string[]>]", "shows -Path as optional, its yaml says IsRequired: true", "Get-Thing [[-Path]")]
    [InlineData("- Name: LiteralPath\n  Position: Named", "- Name: Literal\n  Position: Named", "names parameter set 'Literal', which ## SYNTAX does not have", "### -LiteralPath")]
    [InlineData("$t | Format-Table\n```", "$t | Format-Table\n```\n\n### Example 3: None\n\nJust words.", "example 'Example 3: None' has no ```powershell code block", "### Example 3: None")]
    [InlineData("Forces it.\n\n", "", "-Force has no description", "### -Force")]
    [InlineData("HelpMessage: ''\n```\n\n### -Kind", "HelpMessage: ''\n```\n\nMore words.\n\n### -Kind", "text after the yaml block of -Force", "More words.")]
    [InlineData("Type: Thing.ThingKind", "Type: Thing.ThingKind\nColour: red", "unknown metadata key 'Colour'", "Colour: red")]
    [InlineData("SupportsWildcards: true", "SupportsWildcards: yes", "SupportsWildcards is 'yes', not true or false", "SupportsWildcards: yes")]
    [InlineData("  Position: 0", "  Position: first", "Position 'first' is neither Named nor a number", "- Name: Path")]
    [InlineData("  IsRequired: true\n  ValueFromPipeline: true", "  IsRequired: true\n  Mandatory: true\n  ValueFromPipeline: true", "unknown ParameterSets key 'Mandatory'", "- Name: Path")]
    [InlineData("Type: System.Management.Automation.SwitchParameter\n", "", "the yaml has no Type", "```yaml")]
    [InlineData("Paths, with wildcards.\n\n```yaml", "Paths, with wildcards.\n\n```yml", "-Path has no ```yaml metadata block", "### -Path")]
    [InlineData("### -Force", "### Force", "neither '### -ParameterName' nor '### CommonParameters'", "### Force")]
    [InlineData("### -Kind", "### -Force", "-Force is documented twice", "### -Force\n\nThe kind.")]
    [InlineData("DontShow: false\nAcceptedValues:\n- Small", "DontShow: true\nAcceptedValues:\n- Small", "DontShow: true is not supported", "DontShow: true")]
    [InlineData("- [about_Thing](about_Thing.help.txt)", "See also about_Thing.", "only '- [text](address)' lines", "See also about_Thing.")]
    [InlineData("## INPUTS\n\n", "## INPUTS\n\nStray.\n\n", "## INPUTS: text before its first '### ' heading", "Stray.")]
    [InlineData("Last paragraph.", "#### Last paragraph", "unexpected heading '#### Last paragraph'", "#### Last paragraph")]
    public void Malformed_markdown_fails_with_file_line_and_reason(string find, string replace, string message, string at)
    {
        Assert.Contains(find, Page);
        string page = ReplaceFirst(Page, find, replace);
        var e = Assert.Throws<HelpFormatException>(() => MarkdownHelp.Read("Get-Thing.md", page));
        Assert.Contains(message, e.Message);
        Assert.Equal("Get-Thing.md", e.File);
        Assert.Equal(LineOf(page, at), e.Line);
        Assert.Equal($"Get-Thing.md({e.Line}): error HELPGEN: {e.Message}", e.Canonical);
    }

    static string ReplaceFirst(string text, string find, string replace)
    {
        int i = text.IndexOf(find, StringComparison.Ordinal);
        return text[..i] + replace + text[(i + find.Length)..];
    }

    static int LineOf(string text, string at)
    {
        int i = text.IndexOf(at, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{at}' is not in the page");
        return text[..i].Count(ch => ch == '\n') + 1;
    }

    // ------------------------------------------------------------------ the program the build runs

    [Fact]
    public void Program_writes_one_maml_file_for_all_pages()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("Get-Thing.md"), Page);
        File.WriteAllText(dir.File("Add-Thing.md"), Page.Replace("Get-Thing", "Add-Thing"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        string output = Path.Combine(dir.Path, "en-US", "Thing.dll-Help.xml");

        int code = HelpGen.Program.Run([output, dir.File("Get-Thing.md"), dir.File("Add-Thing.md")], stdout, stderr);

        Assert.Equal(0, code);
        Assert.Equal("", stderr.ToString());
        Assert.Contains("2 cmdlet(s)", stdout.ToString());
        var bytes = File.ReadAllBytes(output);
        Assert.NotEqual(0xEF, bytes[0]);   // no byte order mark
        Assert.Equal(2, XDocument.Parse(File.ReadAllText(output)).Root!.Elements(C + "command").Count());
    }

    [Fact]
    public void Program_reports_every_bad_file_in_the_msbuild_error_format_and_writes_nothing()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("Get-Thing.md"), Page.Replace("## NOTES", "## NOTE"));
        File.WriteAllText(dir.File("Add-Thing.md"), Page.Replace("Get-Thing", "Add-Thing").Replace("SupportsWildcards: true", "SupportsWildcards: maybe"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        string output = dir.File("out.xml");

        int code = HelpGen.Program.Run([output, dir.File("Get-Thing.md"), dir.File("Add-Thing.md"), dir.File("Missing.md")], stdout, stderr);

        Assert.Equal(1, code);
        Assert.False(File.Exists(output));
        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal($"{dir.File("Get-Thing.md")}({LineOf(Page, "## NOTES")}): error HELPGEN: unexpected heading '## NOTE': the sections are ## SYNOPSIS, ## SYNTAX, ## ALIASES, ## DESCRIPTION, ## EXAMPLES, ## PARAMETERS, ## INPUTS, ## OUTPUTS, ## NOTES, ## RELATED LINKS.", lines[0]);
        Assert.StartsWith($"{dir.File("Add-Thing.md")}({LineOf(Page, "SupportsWildcards: true")}): error HELPGEN: -Path: SupportsWildcards is 'maybe'", lines[1]);
        Assert.StartsWith($"{dir.File("Missing.md")}(0): error HELPGEN: ", lines[2]);
    }
}
