namespace LstmPort.HelpGen;

/// <summary>One cmdlet's help as read from its markdown file. Texts are maml:para texts, one per paragraph.</summary>
public sealed record CommandHelp(
    string File, int Line, string Name, string HelpUri,
    IReadOnlyList<string> Synopsis,
    IReadOnlyList<SyntaxSet> Syntax,
    IReadOnlyList<string> Description,
    IReadOnlyList<Example> Examples,
    IReadOnlyList<Parameter> Parameters,
    IReadOnlyList<TypeHelp> Inputs,
    IReadOnlyList<TypeHelp> Outputs,
    IReadOnlyList<string> Notes,
    IReadOnlyList<Link> Links);

/// <summary>A parameter set as its SYNTAX code block shows it, parameters in that order.</summary>
public sealed record SyntaxSet(string Name, int Line, IReadOnlyList<SyntaxParameter> Parameters);

/// <summary>One parameter of a syntax line: "[-Name] &lt;type&gt;" is positional, brackets around it all optional.</summary>
public sealed record SyntaxParameter(string Name, string ValueType, bool Required, bool Positional);

/// <summary>A "### -Name" entry of PARAMETERS: its description and yaml metadata.</summary>
public sealed record Parameter(
    string Name, int Line, IReadOnlyList<string> Description, string Type, string DefaultValue,
    bool SupportsWildcards, IReadOnlyList<string> Aliases, IReadOnlyList<string> AcceptedValues,
    IReadOnlyList<ParameterSetEntry> Sets)
{
    public bool IsSwitch => Type is "System.Management.Automation.SwitchParameter" or "SwitchParameter";

    /// <summary>The entry for a parameter set: its own, else "(All)".</summary>
    public ParameterSetEntry? For(string set) =>
        Sets.FirstOrDefault(s => s.Name.Equals(set, StringComparison.OrdinalIgnoreCase)) ?? Sets.FirstOrDefault(s => s.IsAll);
}

/// <summary>One item of a parameter's ParameterSets list.</summary>
public sealed record ParameterSetEntry(string Name, string Position, bool Required, bool ByValue, bool ByPropertyName)
{
    public bool IsAll => Name is "(All)" or "__AllParameterSets";
    public bool IsNamed => Position.Equals("Named", StringComparison.OrdinalIgnoreCase);
}

/// <summary>An example: its powershell code blocks, and its prose and output blocks as remarks.</summary>
public sealed record Example(string Title, IReadOnlyList<string> Code, IReadOnlyList<string> Remarks);

/// <summary>An INPUTS or OUTPUTS entry.</summary>
public sealed record TypeHelp(string Name, IReadOnlyList<string> Description);

/// <summary>A related link; Uri is empty unless the markdown gave an absolute http(s) address.</summary>
public sealed record Link(string Text, string Uri);

/// <summary>A problem in a markdown file, and where it is.</summary>
public sealed class HelpFormatException(string file, int line, string message) : Exception(message)
{
    public string File { get; } = file;
    public int Line { get; } = line;

    /// <summary>MSBuild's canonical error format, which an Exec task reports as an error at that line.</summary>
    public string Canonical => $"{File}({Line}): error HELPGEN: {Message}";
}
