using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// A Keras model config for a file that holds weights only: a <c>config.json</c> (what
/// <c>model.to_json()</c> writes, or the entry of a <c>.keras</c> archive) or a <c>.keras</c> archive
/// whose <c>config.json</c> is read. Only a config that lists a model's layers is accepted: a
/// subclassed model's config does not say what its layers are.
/// </summary>
public sealed class KerasModelConfig : IDisposable
{
    internal const string ConfigEntry = "config.json";
    internal const string MetadataEntry = "metadata.json";
    /// <summary>A Keras config is kilobytes; anything past this is not one.</summary>
    const long MaxBytes = 1L << 28;
    /// <summary>Nested models nest their configs deeply; System.Text.Json stops at 64 by default.</summary>
    internal static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 512 };

    readonly JsonDocument _document;

    KerasModelConfig(JsonDocument document, JsonElement model, string source, string? kerasVersion)
    {
        _document = document;
        Model = model;
        Source = source;
        KerasVersion = kerasVersion;
    }

    /// <summary>The model's <c>{"class_name": ..., "config": {...}}</c>.</summary>
    public JsonElement Model { get; }
    /// <summary>Where it was read: the file, or <c>archive.keras!config.json</c>.</summary>
    public string Source { get; }
    /// <summary>The Keras version the config records (metadata.json of an archive, keras_version of to_json()), if any.</summary>
    public string? KerasVersion { get; }

    public void Dispose() => _document.Dispose();

    /// <summary>
    /// Reads a model config from a config.json or a .keras archive. Throws FileNotFound or
    /// PathIsDirectory for a path that names no file, NotKerasConfig for a file that is no Keras
    /// model config.
    /// </summary>
    public static KerasModelConfig Load(string path)
    {
        if (Directory.Exists(path))
            throw new LstmPortException(ErrorIds.PathIsDirectory, $"-Config '{path}' is a directory; expected a Keras config.json or a .keras archive.", path);
        if (!File.Exists(path))
            throw new LstmPortException(ErrorIds.FileNotFound, $"Cannot find the model config '{path}' (-Config); expected a Keras config.json or a .keras archive.", path);

        byte[] head = new byte[4];
        using (var f = File.OpenRead(path)) head = head[..f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        if (head.AsSpan().StartsWith("PK"u8)) return FromArchive(path);

        if (new FileInfo(path).Length > MaxBytes) throw NotConfig(path, "it is far larger than any Keras config");
        return Parse(File.ReadAllBytes(path), path, path, version: null);
    }

    /// <summary>
    /// The config.json beside a weights file (an unzipped .keras archive), with the Keras version of
    /// a metadata.json beside it; null when there is none. One that is not a Keras model config is
    /// ignored and said so in <paramref name="notes"/>: it may belong to something else.
    /// </summary>
    internal static KerasModelConfig? Beside(string weightsPath, List<string> notes)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(weightsPath))!;
        var configPath = Path.Combine(dir, ConfigEntry);
        if (!File.Exists(configPath)) return null;
        string? version = null;
        var metaPath = Path.Combine(dir, MetadataEntry);
        try
        {
            if (File.Exists(metaPath) && new FileInfo(metaPath).Length < MaxBytes) version = VersionOf(File.ReadAllBytes(metaPath));
            if (new FileInfo(configPath).Length > MaxBytes) throw NotConfig(configPath, "it is far larger than any Keras config");
            var config = Parse(File.ReadAllBytes(configPath), configPath, configPath, version);
            notes.Add($"the model config is {configPath} (beside the file)");
            return config;
        }
        catch (Exception e) when (e is LstmPortException or IOException or UnauthorizedAccessException)
        {
            notes.Add($"{configPath} beside the file was not used: {e.Message}");
            return null;
        }
    }

    static KerasModelConfig FromArchive(string path)
    {
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw NotConfig(path, $"it starts like a zip but is not a readable one ({e.Message})"); }
        using (zip)
        {
            var entry = zip.GetEntry(ConfigEntry) ?? throw NotConfig(path, "it is a zip without config.json, so not a .keras archive");
            string? version = zip.GetEntry(MetadataEntry) is { } meta ? VersionOf(ReadEntry(meta, path)) : null;
            return Parse(ReadEntry(entry, path), path, $"{path}!{ConfigEntry}", version);
        }
    }

    /// <summary>A small archive record (config.json, metadata.json), checked against its zip CRC-32.</summary>
    internal static byte[] ReadEntry(ZipArchiveEntry entry, string path) => ReadEntry(entry, path, MaxBytes, "a Keras config is far smaller");

    /// <summary>
    /// An archive record's bytes, checked against its zip CRC-32. The sizes System.IO.Compression reports
    /// come from the file (a zip64 field past 2^63 is negative, a lying one can be anything): the
    /// buffer is sized only once they fit the archive, and what its streams throw on a damaged record
    /// (a local header or data past the end, a broken deflate stream) is the archive's CorruptFile.
    /// </summary>
    internal static byte[] ReadEntry(ZipArchiveEntry entry, string path, long max, string why)
    {
        long length = entry.Length, compressed = entry.CompressedLength, archive = new FileInfo(path).Length;
        if (length < 0 || compressed < 0 || compressed > archive)
            throw new LstmPortException(ErrorIds.CorruptFile,
                $"'{path}': the zip directory gives {entry.FullName} {length} bytes ({compressed} compressed), which a {archive}-byte archive cannot hold.", path);
        if (length > max)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {entry.FullName} claims {length} bytes; {why}.", path);
        // Deflate expands at most about 1032 times; a stored record is its compressed bytes.
        if (length > (compressed + 1) * 1032)
            throw new LstmPortException(ErrorIds.CorruptFile,
                $"'{path}': {entry.FullName} claims {length} bytes from {compressed} compressed bytes, more than compression can give.", path);
        var bytes = new byte[length];
        try
        {
            using var s = entry.Open();
            if (s.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length)
                throw new LstmPortException(ErrorIds.TruncatedFile, $"'{path}': {entry.FullName} ends early.", path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentOutOfRangeException or NotSupportedException)
        {
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {entry.FullName} cannot be read from the archive, which is damaged ({e.Message}).", path, e);
        }
        if (System.IO.Hashing.Crc32.HashToUInt32(bytes) != entry.Crc32)
            throw new LstmPortException(ErrorIds.ChecksumMismatch,
                $"'{path}': {entry.FullName} fails its zip CRC-32 check (the archive is damaged).", path);
        return bytes;
    }

    /// <summary>
    /// Parses a Keras JSON record (config.json, metadata.json). System.Text.Json parses strings that are
    /// not UTF-8 (raw bytes, or escaped lone surrogates) and throws only when one is read
    /// (InvalidOperationException from GetString, anywhere a config is used); so every string is checked
    /// here once, and such a record is CorruptFile naming it.
    /// </summary>
    internal static JsonDocument ParseJson(byte[] json, string path, string what)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {what} is not valid UTF-8 text (the file is damaged).", path);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, JsonOptions); }
        catch (JsonException e) { throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {what} is not valid JSON ({e.Message}).", path, e); }
        try { CheckStrings(doc.RootElement); }
        catch (InvalidOperationException e)
        {
            doc.Dispose();
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': {what} holds a string that is not valid Unicode (a lone surrogate escape; the file is damaged).", path, e);
        }
        return doc;
    }

    /// <summary>Reads every string and property name once (iteratively: the depth is the parser's, up to 512).</summary>
    static void CheckStrings(JsonElement root)
    {
        var pending = new Stack<JsonElement>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var e = pending.Pop();
            switch (e.ValueKind)
            {
                case JsonValueKind.String: e.GetString(); break;
                case JsonValueKind.Array: foreach (var x in e.EnumerateArray()) pending.Push(x); break;
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject()) { _ = p.Name; pending.Push(p.Value); }
                    break;
            }
        }
    }

    /// <summary>keras_version of a .keras archive's metadata.json (null when absent or unreadable: it only sets defaults).</summary>
    internal static string? VersionOf(byte[] metadata)
    {
        try
        {
            using var m = ParseJson(metadata, "", "metadata.json");
            return m.RootElement.ValueKind == JsonValueKind.Object && m.RootElement.TryGetProperty("keras_version", out var v)
                   && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        }
        catch (LstmPortException) { return null; }
    }

    static KerasModelConfig Parse(byte[] json, string path, string source, string? version)
    {
        JsonDocument doc;
        try { doc = ParseJson(json, path, "the config"); }
        catch (LstmPortException e) { throw NotConfig(path, $"it is not JSON in UTF-8 ({e.Message})"); }
        try
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw NotConfig(path, $"it holds a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
            if (!root.TryGetProperty("class_name", out var cls) || cls.ValueKind != JsonValueKind.String || !root.TryGetProperty("config", out _))
                throw NotConfig(path, "it has no class_name and config, as model.to_json() and a .keras archive's config.json have");
            if (KerasConfig.LayersInOrder(root).Count == 0)
                throw NotConfig(path, $"its {cls.GetString()} config lists no layers (a subclassed model's config does not describe them)");
            if (version is null && root.TryGetProperty("keras_version", out var v) && v.ValueKind == JsonValueKind.String) version = v.GetString();
            return new KerasModelConfig(doc, root, source, version);
        }
        catch { doc.Dispose(); throw; }
    }

    static LstmPortException NotConfig(string path, string why) =>
        new(ErrorIds.NotKerasConfig, $"'{path}' is not a Keras model config: {why}. Expected the model's config.json (model.to_json(), " +
            "or the config.json of its .keras archive) or the .keras archive itself.", path);
}

/// <summary>Finds each layer's <c>{class_name, config}</c> in a Keras model config (Keras 1, 2, 3; Sequential, functional, nested).</summary>
static partial class KerasConfig
{
    internal static readonly HashSet<string> Models = new(StringComparer.Ordinal) { "Sequential", "Model", "Functional" };

    public static Dictionary<string, JsonElement> LayersByName(JsonElement root)
    {
        var found = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (name, layer) in LayersInOrder(root)) found.TryAdd(name, layer);
        return found;
    }

    /// <summary>The layers of a model config in order, nested models flattened (a nested model comes before its layers).</summary>
    public static List<(string Name, JsonElement Layer)> LayersInOrder(JsonElement root) =>
        LayersWithPaths(root, "layers").Select(l => (l.Name, l.Layer)).ToList();

    /// <summary>
    /// The layers of a model config in order, each with the group Keras 3's saver gives it:
    /// <c>&lt;container&gt;/&lt;snake_case class name&gt;</c>, numbered <c>_1</c>, <c>_2</c>, ... per class in the order of
    /// the model's layers (saving_lib._save_container_state), nested models below their own group
    /// (<c>layers/sequential/layers/lstm</c>). Keras 3 never uses the layer's own name there.
    /// </summary>
    public static List<(string Name, JsonElement Layer, string Path, bool IsModel)> LayersWithPaths(JsonElement root, string container)
    {
        var list = new List<(string, JsonElement, string, bool)>();
        Walk(root, "", container, list, depth: 0);
        return list;
    }

    static void Walk(JsonElement model, string prefix, string container, List<(string, JsonElement, string, bool)> list, int depth)
    {
        if (depth > 64 || model.ValueKind != JsonValueKind.Object || !model.TryGetProperty("config", out var cfg)) return;
        // Keras 1 and early Keras 2 Sequential: "config" is the list of layers; later: config.layers.
        var layers = cfg.ValueKind == JsonValueKind.Array ? cfg
            : cfg.ValueKind == JsonValueKind.Object && cfg.TryGetProperty("layers", out var l) && l.ValueKind == JsonValueKind.Array ? l
            : default;
        if (layers.ValueKind != JsonValueKind.Array) return;
        var used = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var layer in layers.EnumerateArray())
        {
            if (layer.ValueKind != JsonValueKind.Object) continue;
            var cls = ClassName(layer);
            var name = NameOf(layer);
            var path = prefix + container + "/" + Unique(SnakeCase(cls ?? "layer"), used);
            bool isModel = cls is not null && Models.Contains(cls);
            if (name is not null) list.Add((name, layer, path, isModel));
            if (isModel) Walk(layer, path + "/", container, list, depth + 1);
        }
    }

    static string Unique(string name, Dictionary<string, int> used)
    {
        if (used.TryGetValue(name, out var n)) { used[name] = ++n; return $"{name}_{n}"; }
        used[name] = 0;
        return name;
    }

    internal static string? ClassName(JsonElement layer) =>
        layer.TryGetProperty("class_name", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;

    static string? NameOf(JsonElement layer)
    {
        if (layer.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object
            && c.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String) return n.GetString();
        return layer.TryGetProperty("name", out var n2) && n2.ValueKind == JsonValueKind.String ? n2.GetString() : null;
    }

    [GeneratedRegex(@"\W+")] private static partial Regex NonWord();
    [GeneratedRegex("(.)([A-Z][a-z]+)")] private static partial Regex CapitalWord();
    [GeneratedRegex("([a-z])([A-Z])")] private static partial Regex LowerUpper();
    [GeneratedRegex(@"_\d+$")] private static partial Regex NumberSuffix();

    /// <summary>keras.src.utils.naming.to_snake_case: <c>SimpleRNN</c> → <c>simple_rnn</c>, <c>CuDNNLSTM</c> → <c>cu_dnnlstm</c>.</summary>
    public static string SnakeCase(string className)
    {
        var s = NonWord().Replace(className, "");
        s = CapitalWord().Replace(s, "$1_$2");
        return LowerUpper().Replace(s, "$1_$2").ToLowerInvariant();
    }

    static readonly Dictionary<string, string> KnownClasses = new[]
        { "LSTM", "GRU", "SimpleRNN", "Dense", "Embedding", "Bidirectional", "TimeDistributed", "CuDNNLSTM", "CuDNNGRU" }
        .ToDictionary(SnakeCase, c => c, StringComparer.Ordinal);

    /// <summary>
    /// The built-in class a Keras 3 group name comes from (<c>lstm_2</c> → LSTM, <c>simple_rnn</c> →
    /// SimpleRNN), or null for a class LstmPort does not know: the saver names groups by class.
    /// </summary>
    public static string? ClassOfGroup(string groupName) =>
        KnownClasses.TryGetValue(NumberSuffix().Replace(groupName, ""), out var c) ? c
        : KnownClasses.TryGetValue(groupName, out c) ? c : null;
}
