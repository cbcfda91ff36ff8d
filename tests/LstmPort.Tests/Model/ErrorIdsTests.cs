using System.Management.Automation;
using System.Reflection;
using System.Text.RegularExpressions;

namespace LstmPort.Tests;

/// <summary>
/// The error catalogue: every ErrorId is a constant in <see cref="ErrorIds"/> with one kind, the
/// ERROR IDS table of about_LstmPort lists exactly those ids with their categories, and no code
/// passes an id as a string literal.
/// </summary>
public class ErrorIdsTests
{
    static readonly string[] Constants = typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!).ToArray();

    /// <summary>(id, category) rows of the ERROR IDS section of about_LstmPort.help.txt.</summary>
    static Dictionary<string, string> DocumentedTable()
    {
        var lines = File.ReadAllLines(Path.Combine(Repo.Root, "en-US", "about_LstmPort.help.txt"));
        int start = Array.IndexOf(lines, "ERROR IDS");
        Assert.True(start >= 0, "about_LstmPort.help.txt has no ERROR IDS section");
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = start + 1; i < lines.Length && !Regex.IsMatch(lines[i], "^[A-Z]"); i++)
        {
            var m = Regex.Match(lines[i], @"^    ([A-Z][A-Za-z0-9]+) +([A-Z][A-Za-z]+)$");
            if (!m.Success || m.Groups[1].Value == "ErrorId") continue;
            Assert.True(rows.TryAdd(m.Groups[1].Value, m.Groups[2].Value), $"the table lists {m.Groups[1].Value} twice");
        }
        return rows;
    }

    [Fact]
    public void Each_constant_is_its_own_name_and_in_the_catalogue_and_the_catalogue_has_nothing_else()
    {
        foreach (var f in typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
            Assert.Equal(f.Name, f.GetRawConstantValue());
        Assert.Equal(Constants.Order(StringComparer.Ordinal), ErrorIds.Catalogue.Keys.Order(StringComparer.Ordinal));
        Assert.All(ErrorIds.Catalogue, e =>
        {
            Assert.Matches("^[A-Z][A-Za-z0-9]{0,63}$", e.Key);
            Assert.False(string.IsNullOrWhiteSpace(e.Value.Meaning), e.Key);
            Assert.False(string.IsNullOrWhiteSpace(e.Value.WhatToDo), e.Key);
        });
    }

    [Fact]
    public void Every_id_is_in_the_about_topic_and_the_topic_names_no_other()
    {
        var table = DocumentedTable();
        Assert.Empty(Constants.Except(table.Keys).Order());   // ids not documented
        Assert.Empty(table.Keys.Except(Constants).Order());   // documented ids that do not exist
    }

    [Fact]
    public void Each_id_has_the_documented_category()
    {
        var table = DocumentedTable();
        Assert.All(ErrorIds.Catalogue, e =>
            Assert.Equal($"{e.Key} {table.GetValueOrDefault(e.Key)}", $"{e.Key} {ErrorIds.CategoryOf(e.Value.Kind)}"));
        // Every kind names a real ErrorCategory (the cmdlets parse the name).
        Assert.All(Enum.GetValues<ErrorKind>(), k =>
            Assert.True(Enum.TryParse<ErrorCategory>(ErrorIds.CategoryOf(k), out var c) && c != ErrorCategory.NotSpecified, k.ToString()));
    }

    [Fact]
    public void The_ERROR_IDS_table_fits_80_columns()
    {
        var lines = File.ReadAllLines(Path.Combine(Repo.Root, "en-US", "about_LstmPort.help.txt"));
        int start = Array.IndexOf(lines, "ERROR IDS");
        var section = lines.Skip(start + 1).TakeWhile(l => !Regex.IsMatch(l, "^[A-Z]")).ToList();
        Assert.True(section.Count > ErrorIds.Catalogue.Count);
        Assert.Empty(section.Where(l => l.Length > 80));
    }

    [Fact]
    public void An_id_outside_the_catalogue_fails_loudly()
    {
        Assert.Throws<ArgumentException>(() => new LstmPortException("NoSuchErrorId", "m"));
        Assert.Throws<ArgumentException>(() => ErrorIdException.Create("NoSuchErrorId", "m"));
        Assert.Equal(ErrorKind.ObjectNotFound, new LstmPortException(ErrorIds.FileNotFound, "m").Kind);
        Assert.Equal(ErrorKind.ResourceUnavailable, new LstmPort.Runtime.TorchLoadException("m").Kind);
    }

    /// <summary>Patterns of an ErrorId written as a string literal where an exception or record is made.</summary>
    static readonly (string What, Regex Pattern)[] LiteralIds =
    [
        ("new LstmPortException(\"...\"", new(@"new\s+LstmPortException\(\s*""")),
        ("ErrorIdException.Create(\"...\"", new(@"ErrorIdException\.Create\(\s*""")),
        ("new(\"Id\", ...) of an exception", new(@"\bnew\(\s*""[A-Z][A-Za-z0-9]+""\s*,")),
        ("ToErrorRecord(\"...\"", new(@"ToErrorRecord\(\s*""")),
        ("an ErrorRecord with a literal id", new(@"ErrorRecord\([^;]*?,\s*""[A-Z][A-Za-z0-9]+""\s*,")),
        ("a helper given a literal id", new(@"\b(Bad|Fail|Error|Refuse)\([^;()]*?,\s*""[A-Z][a-z]+[A-Z][A-Za-z0-9]*""")),
        ("a refusal with a literal id", new(@"Refused\.Add\(\([^;]*?,\s*""[A-Z][A-Za-z0-9]+""")),
        ("a check result with a literal id", new(@"Result\(EquivalenceStatus\.[^;]*""[A-Z][a-z]+[A-Z][A-Za-z0-9]*""\)")),
    ];

    [Fact]
    public void No_code_passes_an_ErrorId_as_a_string_literal()
    {
        var sources = Directory.GetFiles(Path.Combine(Repo.Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")
                        && Path.GetFileName(f) != "ErrorIds.cs")
            .ToList();
        Assert.NotEmpty(sources);
        var ids = new HashSet<string>(Constants, StringComparer.Ordinal);
        var found = new List<string>();
        foreach (var file in sources)
        {
            var text = File.ReadAllText(file);
            var name = Path.GetRelativePath(Repo.Root, file).Replace('\\', '/');
            foreach (var (what, pattern) in LiteralIds)
                foreach (Match m in pattern.Matches(text))
                    found.Add($"{name}: {what}: {m.Value}");
            // An id spelled out anywhere else in code (a tuple, a switch arm) instead of ErrorIds.X.
            foreach (Match m in Regex.Matches(text, @"""([A-Z][A-Za-z0-9]+)"""))
                if (ids.Contains(m.Groups[1].Value))
                    found.Add($"{name}: the literal {m.Value}; use ErrorIds.{m.Groups[1].Value}");
            // Records are made in one place: LstmPortCmdlet.ToErrorRecord.
            if (Path.GetFileName(file) != "LstmPortCmdlet.cs" && Regex.IsMatch(text, @"new\s+(System\.Management\.Automation\.)?ErrorRecord\("))
                found.Add($"{name}: builds an ErrorRecord; use LstmPortCmdlet.ToErrorRecord");
        }
        Assert.Empty(found);
    }

    [Fact]
    public void The_scan_finds_the_literals_it_looks_for()
    {
        string[] bad =
        [
            "throw new LstmPortException(\"CorruptFile\", \"m\", path);",
            "throw ErrorIdException.Create(\"X\", \"m\");",
            "static LstmPortException Truncated() => new(\"TruncatedFile\", \"m\", path);",
            "WriteError(new ErrorRecord(e, \"FileNotFound\", ErrorCategory.ObjectNotFound, p));",
            "throw Bad(path, \"SomethingWrong\", \"what\");",
            "result.Refused.Add((g.Layer, \"NotTorchPortable\", reason));",
            "Result(EquivalenceStatus.Error, e.Message, \"CheckFailed\")",
        ];
        Assert.All(bad, line => Assert.Contains(LiteralIds, p => p.Pattern.IsMatch(line)));
        Assert.DoesNotContain(LiteralIds, p => p.Pattern.IsMatch("throw new LstmPortException(ErrorIds.CorruptFile, $\"'{path}' is damaged\", path);"));
    }
}
