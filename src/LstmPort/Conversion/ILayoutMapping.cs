namespace LstmPort.Conversion;

/// <summary>How a framework's layout becomes the canonical form. Each framework that is read supplies one.</summary>
internal interface IToCanonical
{
    Layout Layout { get; }

    /// <summary>One layer, depth and direction as canonical; an LstmPortException (with its ErrorId) when it cannot be.</summary>
    CanonicalLayer ToCanonical(LayerGroup g, ConversionOptions options);
}

/// <summary>How the canonical form becomes a framework's layout. Each framework that is converted to supplies one.</summary>
internal interface IFromCanonical
{
    Layout Layout { get; }

    /// <summary>
    /// Whether a layer already in this layout passes through unchanged (true for PyTorch) or is
    /// rewritten through the canonical form like any other (Keras: Keras 1 and 3 names become tf.keras 2.x names).
    /// </summary>
    bool KeepsOwnLayout { get; }

    /// <summary>
    /// Writes the layers in this layout, in an order and with names this framework gives them;
    /// a layer it cannot express goes to <see cref="ConversionResult.Refused"/> (or, with -Force, to
    /// <see cref="ConversionResult.Warnings"/>) and the others are still written.
    /// </summary>
    void FromCanonical(IReadOnlyList<CanonicalLayer> layers, ConversionOptions options, ConversionResult result);
}

/// <summary>The registered mappings, by layout (registered by Formats.FrameworkRegistry).</summary>
internal static class LayoutMappings
{
    static readonly Dictionary<Layout, IToCanonical> Sources = [];
    static readonly Dictionary<Layout, IFromCanonical> Targets = [];

    public static void Register(IToCanonical mapping) { lock (Sources) Sources[mapping.Layout] = mapping; }

    public static void Register(IFromCanonical mapping) { lock (Targets) Targets[mapping.Layout] = mapping; }

    public static IToCanonical? Source(Layout layout) { lock (Sources) return Sources.GetValueOrDefault(layout); }

    public static IFromCanonical? Target(Layout layout) { lock (Targets) return Targets.GetValueOrDefault(layout); }
}
