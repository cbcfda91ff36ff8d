using System.Text.RegularExpressions;

namespace LstmPort.Tests;

/// <summary>The help (docs/*.md, built into MAML) and the code agree: cmdlets, parameters, parameter sets.</summary>
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
}
