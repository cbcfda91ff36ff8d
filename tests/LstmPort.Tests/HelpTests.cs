using System.Text.RegularExpressions;
using LstmPort.HelpGen;

namespace LstmPort.Tests;

/// <summary>
/// The help (docs/*.md, built into MAML by tools/LstmPort.HelpGen) and the code agree: cmdlets,
/// parameters, parameter sets and their metadata; and Get-Help shows every piece of each page.
/// </summary>
public sealed partial class HelpTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static readonly string[] Common = ["Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction",
        "ErrorVariable", "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "WhatIf", "Confirm"];

    [GeneratedRegex(@"^### -(\w+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ParameterHeading();

    [GeneratedRegex(@"^- Name: (.+)$", RegexOptions.Multiline)]
    private static partial Regex SetName();

    [Fact]
    public void Every_cmdlet_has_a_help_file_and_every_help_file_a_cmdlet()
    {
        var exported = ps.Objects<string>("(Get-Module LstmPort).ExportedCmdlets.Keys").Order();
        var documented = Directory.GetFiles(Path.Combine(Repo.Root, "docs"), "*-*.md").Select(Path.GetFileNameWithoutExtension).Order();
        Assert.Equal(exported, documented!);
    }

    [Fact]
    public void Help_documents_exactly_the_parameters_and_parameter_sets_of_the_code()
    {
        foreach (var cmdlet in ps.Objects<string>("(Get-Module LstmPort).ExportedCmdlets.Keys"))
        {
            var md = File.ReadAllText(Path.Combine(Repo.Root, "docs", cmdlet + ".md"));
            var codeParams = ps.Objects<string>("(Get-Command $args[0]).Parameters.Keys", cmdlet).Except(Common).Order().ToList();
            var docParams = ParameterHeading().Matches(md).Select(m => m.Groups[1].Value).Except(Common).Order().ToList();
            Assert.True(codeParams.SequenceEqual(docParams), $"{cmdlet}: code has [{string.Join(", ", codeParams)}], help has [{string.Join(", ", docParams)}]");

            var codeSets = ps.Objects<string>("(Get-Command $args[0]).ParameterSets.Name", cmdlet).Where(s => s != "__AllParameterSets").Order().ToList();
            var docSets = SetName().Matches(md).Select(m => m.Groups[1].Value.Trim()).Where(s => s != "(All)").Distinct().Order().ToList();
            Assert.True(codeSets.SequenceEqual(docSets), $"{cmdlet}: code sets [{string.Join(", ", codeSets)}], help sets [{string.Join(", ", docSets)}]");

            // And what PowerShell shows comes from that file.
            var helpParams = ps.Objects<string>("(Get-Help $args[0]).parameters.parameter.name", cmdlet).Except(Common).Order();
            Assert.Equal(docParams, helpParams);
        }
    }

    static readonly List<CommandHelp> Docs = Directory.GetFiles(Path.Combine(Repo.Root, "docs"), "*-*.md").Order(StringComparer.Ordinal)
        .Select(f => MarkdownHelp.Read(f, File.ReadAllText(f))).ToList();

    [Fact]
    public void The_module_ships_the_maml_generated_from_the_docs()
    {
        var built = File.ReadAllText(Path.Combine(Repo.ModuleDir, "en-US", "LstmPort.PowerShell.dll-Help.xml"));
        Assert.True(MamlWriter.Write(Docs) == built, "out/LstmPort/en-US/LstmPort.PowerShell.dll-Help.xml is not what docs/*.md give: rebuild (dotnet build)");
    }

    // What Get-Help -Full shows of a cmdlet, one line per piece; paragraphs in [brackets], trimmed as Get-Help trims them.
    const string GetHelpLines = """
        function T($paras) { -join @($paras | Where-Object { $null -ne $_ } | ForEach-Object { '[' + "$($_.Text)".Trim() + ']' }) }
        function P($p) {
            $value = if ($p.parameterValueGroup) { '{' + (@($p.parameterValueGroup.parameterValue) -join ' | ') + '}' } else { "$($p.parameterValue)" }
            "-$($p.name) <$value> $($p.type.name) required=$($p.required) position=$($p.position) pipeline=$($p.pipelineInput) globbing=$($p.globbing) aliases=$($p.aliases)"
        }
        $h = Get-Help $args[0] -Full
        "name: $($h.details.name)"
        'synopsis: ' + (T $h.details.description)
        'description: ' + (T $h.description)
        foreach ($s in $h.syntax.syntaxItem) { "syntax: $($s.name)"; foreach ($p in $s.parameter) { '  ' + (P $p) } }
        foreach ($p in $h.parameters.parameter) { 'parameter: ' + (P $p) + " default=$($p.defaultValue) " + (T $p.description) }
        foreach ($t in $h.inputTypes.inputType) { "input: $($t.type.name) " + (T $t.description) }
        foreach ($t in $h.returnValues.returnValue) { "output: $($t.type.name) " + (T $t.description) }
        foreach ($n in $h.alertSet.alert) { 'note: ' + (T $n) }
        foreach ($e in $h.examples.example) { "example: $($e.title)"; "  code: [$($e.code)]"; '  remarks: ' + (T $e.remarks) }
        foreach ($l in $h.relatedLinks.navigationLink) { "link: $($l.linkText) <$($l.uri)>" }
        """;

    // The same lines from the markdown: what each page says Get-Help must show.
    static IEnumerable<string> ExpectedLines(CommandHelp c)
    {
        static string T(IEnumerable<string> paras) => string.Concat(paras.Select(p => "[" + p.Trim() + "]"));
        static string Pipeline(IEnumerable<ParameterSetEntry> sets) =>
            (sets.Any(s => s.ByValue), sets.Any(s => s.ByPropertyName)) switch
            {
                (true, true) => "true (ByValue, ByPropertyName)",
                (true, false) => "true (ByValue)",
                (false, true) => "true (ByPropertyName)",
                _ => "false",
            };
        static string P(Parameter p, string value, string type, bool required, string position, string pipeline) =>
            $"-{p.Name} <{(p.AcceptedValues.Count > 0 ? "{" + string.Join(" | ", p.AcceptedValues) + "}" : p.IsSwitch ? "" : value)}> {type} " +
            $"required={(required ? "true" : "false")} position={position} pipeline={pipeline} globbing={(p.SupportsWildcards ? "true" : "false")} " +
            $"aliases={(p.Aliases.Count > 0 ? string.Join(", ", p.Aliases) : "none")}";
        static string Position(ParameterSetEntry e) => e.IsNamed ? "named" : e.Position;

        yield return "name: " + c.Name;
        yield return "synopsis: " + T(c.Synopsis);
        yield return "description: " + T(c.Description);
        foreach (var set in c.Syntax)
        {
            yield return "syntax: " + c.Name;
            foreach (var r in set.Parameters)
            {
                var p = c.Parameters.Single(p => p.Name == r.Name);
                var e = p.For(set.Name)!;
                yield return "  " + P(p, r.ValueType, p.IsSwitch ? "System.Management.Automation.SwitchParameter" : p.Type, e.Required, Position(e), Pipeline([e]));
            }
        }
        foreach (var p in c.Parameters.OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase))
            yield return "parameter: " + P(p, p.Type, p.Type, p.Sets.Any(s => s.Required), Position(p.Sets[0]), Pipeline(p.Sets)) +
                $" default={(p.DefaultValue.Length > 0 ? p.DefaultValue : p.IsSwitch ? "False" : "None")} " + T(p.Description);
        foreach (var t in c.Inputs) yield return $"input: {t.Name} " + T(t.Description);
        foreach (var t in c.Outputs) yield return $"output: {t.Name} " + T(t.Description);
        if (c.Notes.Count > 0) yield return "note: " + T(c.Notes);
        foreach (var e in c.Examples)
        {
            yield return $"example: --------- {e.Title} ---------";
            yield return $"  code: [{string.Join("\n\n", e.Code)}]";
            yield return "  remarks: " + T([.. e.Remarks, ""]);   // the empty para that separates examples
        }
        foreach (var l in c.Links) yield return $"link: {l.Text} <{l.Uri}>";
    }

    [Fact]
    public void Get_Help_shows_every_piece_of_each_docs_page()
    {
        Assert.Equal(9, Docs.Count);
        foreach (var page in Docs)
        {
            var shown = ps.Objects<string>(GetHelpLines, page.Name);
            var expected = ExpectedLines(page).ToList();
            for (int i = 0; i < Math.Min(expected.Count, shown.Count); i++)
                Assert.True(expected[i] == shown[i], $"{page.Name}, line {i}: the page says\n{expected[i]}\nGet-Help shows\n{shown[i]}");
            Assert.Equal(expected.Count, shown.Count);
        }
    }

    [Fact]
    public void Help_metadata_of_each_parameter_matches_the_code()
    {
        // One line per cmdlet, parameter set and parameter, as the code declares it.
        var code = ps.Objects<string>("""
            $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
            foreach ($c in (Get-Module LstmPort).ExportedCmdlets.Values) {
                foreach ($set in $c.ParameterSets) {
                    foreach ($p in $set.Parameters | Where-Object Name -notin $common) {
                        $attributes = $c.Parameters[$p.Name].Attributes
                        $enum = if ($p.ParameterType.IsEnum) { [enum]::GetNames($p.ParameterType) -join ',' }
                        '{0}|{1}|{2}|{3}|required={4}|position={5}|byValue={6}|byName={7}|aliases={8}|wildcards={9}|{10}' -f $c.Name, $set.Name, $p.Name,
                            $p.ParameterType, $p.IsMandatory, $(if ($p.Position -eq [int]::MinValue) { 'Named' } else { $p.Position }),
                            $p.ValueFromPipeline, $p.ValueFromPipelineByPropertyName, ($p.Aliases -join ','),
                            [bool]($attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] }), $enum
                    }
                }
            }
            """);
        Assert.NotEmpty(code);
        foreach (var line in code)
        {
            var f = line.Split('|');
            var page = Docs.Single(d => d.Name == f[0]);
            var p = page.Parameters.Single(p => p.Name == f[2]);
            var e = p.For(f[1]);
            Assert.True(e is not null, $"{f[0]} -{f[2]}: the help has no ParameterSets entry for set {f[1]}");
            var documented = $"{f[0]}|{f[1]}|{f[2]}|{p.Type}|required={e.Required}|position={(e.IsNamed ? "Named" : e.Position)}|byValue={e.ByValue}|" +
                $"byName={e.ByPropertyName}|aliases={string.Join(',', p.Aliases)}|wildcards={p.SupportsWildcards}|";
            Assert.Equal(line[..line.LastIndexOf('|')] + "|", documented, ignoreCase: true);
            // AcceptedValues of an enum parameter are names of that enum.
            Assert.All(p.AcceptedValues, v => Assert.Contains(v, f[10].Split(',')));
        }
    }
}
