using System.Text.RegularExpressions;

namespace LstmPort.Tests;

/// <summary>
/// The engine's folders depend on each other one way (src/LstmPort/CONVENTIONS.md): Model and
/// Runtime at the bottom, then Containers (byte-level, no framework), Conversion, the Frameworks, and
/// Formats and Verification as entry points. Namespaces follow folders, so a file's
/// <c>using LstmPort.X</c> directives and qualified <c>LstmPort.X.</c> names are its dependencies.
/// </summary>
public sealed class DependencyTests
{
    static readonly string Engine = Path.Combine(Repo.Root, "src", "LstmPort");

    /// <summary>Which engine namespaces each folder must not use.</summary>
    public static TheoryData<string, string[]> Rules => new()
    {
        // Model and Runtime are the base together: tensors load through libtorch, libtorch's helpers throw LstmPortException.
        { "Model", ["Containers", "Conversion", "Frameworks", "Formats", "Verification"] },
        { "Runtime", ["Containers", "Conversion", "Frameworks", "Formats", "Verification"] },
        { "Containers", ["Conversion", "Frameworks", "Formats", "Verification"] },
        { "Conversion", ["Containers", "Frameworks", "Formats", "Verification"] },
        { "Frameworks", ["Verification"] },
        // The check finds each layout's maths through Conversion.LayoutMaths (registered in Formats.FrameworkRegistry).
        { "Verification", ["Frameworks"] },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Folders_use_only_the_layers_below_them(string folder, string[] forbidden)
    {
        var files = Directory.GetFiles(Path.Combine(Engine, folder), "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        var offences = (from f in files
                        from m in Regex.Matches(File.ReadAllText(f), @"\bLstmPort\.(\w+)").Cast<Match>()
                        where forbidden.Contains(m.Groups[1].Value)
                        select $"{Path.GetRelativePath(Engine, f)} uses LstmPort.{m.Groups[1].Value}").Distinct().ToList();
        Assert.True(offences.Count == 0, string.Join("\n", offences));
    }

    /// <summary>
    /// Frameworks meet only in the canonical form (Conversion.CanonicalLayer). One edge is allowed:
    /// a TensorFlow object-based checkpoint written by Keras (SavedModel variables, save_weights)
    /// holds Keras layers, which the TensorFlow reader describes with Keras's own layer rules.
    /// </summary>
    [Fact]
    public void Frameworks_do_not_use_each_other()
    {
        var offences = new List<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(Engine, "Frameworks")))
        {
            var own = Path.GetFileName(dir);
            foreach (var f in Directory.GetFiles(dir, "*.cs", SearchOption.AllDirectories))
                foreach (Match m in Regex.Matches(File.ReadAllText(f), @"Frameworks\.(\w+)"))
                {
                    var other = m.Groups[1].Value;
                    if (other != own && !(own == "TensorFlow" && other == "Keras"))
                        offences.Add($"{Path.GetRelativePath(Engine, f)} uses Frameworks.{other}");
                }
        }
        Assert.True(offences.Count == 0, string.Join("\n", offences.Distinct()));
    }

    [Fact]
    public void Every_layout_the_readers_produce_has_reference_maths_and_a_mapping_to_the_canonical_form()
    {
        foreach (var layout in new[] { Layout.Keras, Layout.Torch, Layout.TensorFlow })
        {
            var g = LstmPort.Conversion.LayerGroup.Group([LstmTensor.FromTensor(TorchSharp.torch.zeros(1), "w", "l", LayerType.LSTM, TensorRole.Kernel, layout)])[0];
            Assert.Equal(layout, LstmPort.Conversion.LayoutMaths.For(g).Layout);
            Assert.Equal(layout, LstmPort.Conversion.LayoutMappings.Source(layout)?.Layout);
        }
        // The layouts the cmdlets convert to.
        foreach (var layout in new[] { Layout.Keras, Layout.Torch })
            Assert.Equal(layout, LstmPort.Conversion.LayoutMappings.Target(layout)?.Layout);
    }

    [Fact]
    public void Namespaces_follow_folders()
    {
        foreach (var f in Directory.GetFiles(Engine, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")))
        {
            var folder = Path.GetRelativePath(Engine, Path.GetDirectoryName(f)!).Replace(Path.DirectorySeparatorChar, '.');
            // Model holds the types of the module's public contract (LstmPort.LstmTensor, ...): the root namespace.
            var expected = folder is "Model" ? "LstmPort" : "LstmPort." + folder;
            Assert.Matches($@"(?m)^namespace {Regex.Escape(expected)};", File.ReadAllText(f));
        }
    }
}
