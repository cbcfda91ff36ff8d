using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Mutators;

/// <summary>The 8-byte header length set to 0, 1, huge, the file length, or the true length ± a little.</summary>
public sealed class SafetensorsLength : IBytesMutator
{
    public string Name => "st-length";
    public int Weight => 8;
    public bool Accepts(string name, byte[] data) => Safetensors.Split(data) is not null;

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var (header, body) = Safetensors.Split(data)!.Value;
        ulong[] values = [0, 1, 7, (ulong)header.Length - 1, (ulong)header.Length + 1, (ulong)data.Length, (ulong)data.Length - 8, 100UL << 20, (100UL << 20) - 1,
            uint.MaxValue, long.MaxValue, ulong.MaxValue];
        var v = rng.Pick(values);
        return (Safetensors.Join(header, body, v), $"header length set to {v} (true {header.Length})");
    }
}

/// <summary>
/// One header entry changed and the header written again with its true length: dtype (unknown, or
/// one of another size), shape (negative, fractional, huge, overflowing, empty, very long, not an
/// array), data_offsets (overlapping another, reversed, past the end, huge, negative, three of them,
/// not numbers), keys removed or duplicated, __metadata__ odd, deep JSON.
/// </summary>
public sealed class SafetensorsHeader : IBytesMutator
{
    public string Name => "st-header";
    public int Weight => 24;
    public bool Accepts(string name, byte[] data) => Safetensors.Split(data) is not null;

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var (header, body) = Safetensors.Split(data)!.Value;
        JsonObject root;
        try { root = JsonNode.Parse(header) as JsonObject ?? throw new JsonException(); _ = root.Count; } // Count builds the dictionary: duplicate keys throw here
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException) { return null; }
        var names = root.Select(p => p.Key).Where(k => k != "__metadata__").ToList();
        if (names.Count == 0) return null;
        var key = rng.Pick(names);
        if (root[key] is not JsonObject entry) return null;
        string what;
        string? raw = null; // a header that JsonNode cannot express (duplicate keys, deep nesting)
        switch (rng.Next(6))
        {
            case 0:
            {
                var dtype = rng.Pick(new[] { "F64", "F16", "I8", "BOOL", "U64", "F8_E4M3", "C64", "STR", "", "f32" });
                entry["dtype"] = dtype;
                what = $"'{key}' dtype set to '{dtype}'";
                break;
            }
            case 1:
            {
                JsonNode? shape = rng.Next(10) switch
                {
                    0 => new JsonArray(-1, 4),
                    1 => new JsonArray(2.5, 4),
                    2 => new JsonArray(4294967296L, 4294967296L),
                    3 => new JsonArray(long.MaxValue, 2),
                    4 => new JsonArray(),
                    5 => new JsonArray(Enumerable.Range(0, 64).Select(_ => (JsonNode?)JsonValue.Create(1)).ToArray()),
                    6 => JsonValue.Create("4,2"),
                    7 => new JsonArray(2147483648L),
                    8 => new JsonArray(0, 2147483647),
                    _ => new JsonArray(new JsonArray(2), 2),
                };
                what = $"'{key}' shape set to {shape?.ToJsonString() ?? "null"}";
                entry["shape"] = shape;
                break;
            }
            case 2:
            {
                var offs = entry["data_offsets"] as JsonArray;
                long begin = offs?[0]?.GetValue<long>() ?? 0, end = offs?[1]?.GetValue<long>() ?? 0;
                var other = root[rng.Pick(names)]?["data_offsets"] as JsonArray;
                long ob = other?[0]?.GetValue<long>() ?? 0, oe = other?[1]?.GetValue<long>() ?? 0;
                JsonNode? n = rng.Next(10) switch
                {
                    0 => new JsonArray(end, begin),
                    1 => new JsonArray(begin, body.Length + 4),
                    2 => new JsonArray(long.MaxValue - 4, long.MaxValue),
                    3 => new JsonArray(-4, end - begin - 4),
                    4 => new JsonArray(begin, end, end),
                    5 => new JsonArray(ob, ob + (end - begin)),
                    6 => new JsonArray(ob + 1, ob + 1 + (end - begin)),
                    7 => new JsonArray("0", "8"),
                    8 => new JsonArray(begin + 0.5, end + 0.5),
                    _ => new JsonArray(oe - 1, oe - 1 + (end - begin)),
                };
                what = $"'{key}' data_offsets set to {n?.ToJsonString()}";
                entry["data_offsets"] = n;
                break;
            }
            case 3:
            {
                var field = rng.Pick(new[] { "dtype", "shape", "data_offsets" });
                if (rng.Chance(0.5)) { entry.Remove(field); what = $"'{key}' lost its {field}"; }
                else { entry[field] = null; what = $"'{key}' {field} set to null"; }
                break;
            }
            case 4:
            {
                // Two entries of one name: the JSON text is written by hand.
                var text = root.ToJsonString();
                var dup = $"\"{JsonEncodedText.Encode(key)}\":{entry.ToJsonString()}";
                raw = text.Insert(text.Length - 1, "," + dup);
                what = $"'{key}' listed twice";
                break;
            }
            default:
            {
                switch (rng.Next(3))
                {
                    case 0:
                        root["__metadata__"] = new JsonObject { ["nested"] = new JsonObject { ["x"] = 1 }, ["n"] = 5 };
                        what = "__metadata__ with non-string values";
                        break;
                    case 1:
                        int depth = rng.Pick(new[] { 63, 65, 5000 });
                        var text = root.ToJsonString();
                        raw = text.Insert(text.Length - 1, ",\"deep\":" + new string('[', depth) + new string(']', depth));
                        what = $"an entry nested {depth} arrays deep";
                        break;
                    default:
                        root[key + "_copy"] = entry.DeepClone();
                        what = $"'{key}' copied under another name (same bytes)";
                        break;
                }
                break;
            }
        }
        var bytes = Encoding.UTF8.GetBytes(raw ?? root.ToJsonString());
        // The format pads the header with spaces to 8 bytes; keep that sometimes.
        if (rng.Chance(0.5) && bytes.Length % 8 != 0) bytes = [.. bytes, .. Enumerable.Repeat((byte)' ', 8 - bytes.Length % 8)];
        return (Safetensors.Join(bytes, body), what);
    }
}
