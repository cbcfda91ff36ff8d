using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace LstmPort.HelpGen;

/// <summary>
/// Writes the MAML file Get-Help reads for a binary module, shaped as PlatyPS 1.0 writes it, except:
/// examples put their powershell code in dev:code and their prose and output in dev:remarks (PlatyPS
/// 1.0 puts the raw markdown in maml:introduction); each paragraph is one maml:para with its line
/// wraps undone; dev:defaultValue comes from DefaultValue (PlatyPS 1.0 drops it); a related link that
/// is not an http(s) address gets an empty uri, so Get-Help -Online never opens a markdown path.
/// Deterministic: cmdlets sorted by name, parameters by name, UTF-8, "\n" line ends.
/// </summary>
public static class MamlWriter
{
    static readonly XNamespace Msh = "http://msh";
    static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    static readonly XNamespace Cmd = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    public static string Write(IReadOnlyList<CommandHelp> commands)
    {
        // Two files for one cmdlet would silently shadow each other in Get-Help.
        foreach (var group in commands.GroupBy(c => c.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            throw new HelpFormatException(group.Last().File, group.Last().Line, $"{group.Key} is documented twice (also in {group.First().File}).");

        var root = new XElement(Msh + "helpItems",
            new XAttribute("schema", "maml"),
            new XAttribute(XNamespace.Xmlns + "maml", Maml.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "command", Cmd.NamespaceName),
            new XAttribute(XNamespace.Xmlns + "dev", Dev.NamespaceName),
            commands.OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase).ThenBy(c => c.Name, StringComparer.Ordinal).Select(Command));

        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true, IndentChars = "  ", NewLineChars = "\n" };
        using var buffer = new MemoryStream();
        using (var writer = XmlWriter.Create(buffer, settings))
            new XDocument(new XDeclaration("1.0", "utf-8", null), root).Save(writer);
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    static IEnumerable<XElement> Paras(IEnumerable<string> paras) => paras.Select(p => new XElement(Maml + "para", p));

    static XElement TypeName(string name) => new(Dev + "type", new XElement(Maml + "name", name));

    static XElement Command(CommandHelp c)
    {
        int dash = c.Name.IndexOf('-');
        var links = c.HelpUri.Length > 0 ? c.Links.Prepend(new Link("Online Version", c.HelpUri)) : c.Links;
        return new XElement(Cmd + "command",
            new XElement(Cmd + "details",
                new XElement(Cmd + "name", c.Name),
                new XElement(Maml + "description", Paras(c.Synopsis)),
                new XElement(Cmd + "verb", dash < 0 ? c.Name : c.Name[..dash]),
                new XElement(Cmd + "noun", dash < 0 ? "" : c.Name[(dash + 1)..])),
            new XElement(Maml + "description", Paras(c.Description)),
            new XElement(Cmd + "syntax", c.Syntax.Select(s => SyntaxItem(c, s))),
            new XElement(Cmd + "parameters", c.Parameters
                .OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase).ThenBy(p => p.Name, StringComparer.Ordinal)
                .Select(p => Parameter(p, p.Sets, p.Sets.Count == 0 || p.Sets[0].IsNamed ? "named" : p.Sets[0].Position, Paras(p.Description), p.Type, true))),
            new XElement(Cmd + "inputTypes", c.Inputs.Select(t => TypeEntry("inputType", t))),
            new XElement(Cmd + "returnValues", c.Outputs.Select(t => TypeEntry("returnValue", t))),
            // No alertSet without notes: Get-Help then prints no empty NOTES heading.
            c.Notes.Count == 0 ? null : new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paras(c.Notes))),
            new XElement(Cmd + "examples", c.Examples.Select(e =>
                new XElement(Cmd + "example",
                    new XElement(Maml + "title", $"--------- {e.Title} ---------"),
                    new XElement(Dev + "code", string.Join("\n\n", e.Code)),
                    // The empty last para prints a blank line, so the next example's title does not run into these remarks.
                    new XElement(Dev + "remarks", Paras(e.Remarks), new XElement(Maml + "para"))))),
            new XElement(Cmd + "relatedLinks", links.Select(l =>
                new XElement(Maml + "navigationLink", new XElement(Maml + "linkText", l.Text), new XElement(Maml + "uri", l.Uri)))));
    }

    /// <summary>One parameter set: its parameters in the order of the syntax line, with that set's position and requiredness.</summary>
    static XElement SyntaxItem(CommandHelp c, SyntaxSet set) =>
        new(Cmd + "syntaxItem",
            new XElement(Maml + "name", c.Name),
            set.Parameters.Select(r =>
            {
                var p = c.Parameters.First(p => p.Name.Equals(r.Name, StringComparison.OrdinalIgnoreCase));
                var entry = p.For(set.Name)!;
                return Parameter(p, [entry], entry.IsNamed ? "named" : entry.Position, [], r.ValueType.Length > 0 ? r.ValueType : p.Type, false);
            }));

    /// <summary>
    /// A command:parameter, in command:parameters (what Get-Help -Full and -Parameter show: required
    /// in any set, the first set's position) or in a syntaxItem (one set, the syntax line's value type).
    /// </summary>
    static XElement Parameter(Parameter p, IReadOnlyList<ParameterSetEntry> sets, string position, IEnumerable<XElement> description, string valueType, bool full)
    {
        bool byValue = sets.Any(s => s.ByValue), byName = sets.Any(s => s.ByPropertyName);
        string pipeline = byValue && byName ? "true (ByValue, ByPropertyName)" : byValue ? "true (ByValue)" : byName ? "true (ByPropertyName)" : "false";
        return new XElement(Cmd + "parameter",
            new XAttribute("required", sets.Any(s => s.Required) ? "true" : "false"),
            new XAttribute("variableLength", "false"),
            new XAttribute("globbing", p.SupportsWildcards ? "true" : "false"),
            new XAttribute("pipelineInput", pipeline),
            new XAttribute("position", position),
            new XAttribute("aliases", p.Aliases.Count > 0 ? string.Join(", ", p.Aliases) : "none"),
            new XElement(Maml + "name", p.Name),
            new XElement(Maml + "description", description),
            p.AcceptedValues.Count == 0 ? null : new XElement(Cmd + "parameterValueGroup", p.AcceptedValues.Select(v =>
                new XElement(Cmd + "parameterValue", new XAttribute("required", "false"), new XAttribute("variableLength", "false"), v))),
            p.IsSwitch ? null : new XElement(Cmd + "parameterValue",
                new XAttribute("required", "true"), new XAttribute("variableLength", full ? "true" : "false"), valueType),
            TypeName(p.IsSwitch && !full ? "System.Management.Automation.SwitchParameter" : p.Type),
            full ? new XElement(Dev + "defaultValue", p.DefaultValue.Length > 0 ? p.DefaultValue : p.IsSwitch ? "False" : "None") : null);
    }

    static XElement TypeEntry(string element, TypeHelp t) =>
        new(Cmd + element, TypeName(t.Name), new XElement(Maml + "description", Paras(t.Description)));
}
