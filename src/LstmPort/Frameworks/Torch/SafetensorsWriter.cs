using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Writes the published safetensors format: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}} plus "__metadata__" ({"format": "pt"}, as the safetensors
/// library writes for PyTorch), padded with spaces to 8 bytes, then each tensor's little-endian
/// bytes in order. The header is computed from shapes alone; data streams from tensor memory.
/// </summary>
public sealed class SafetensorsWriter : IWeightWriter
{
    public WeightFormat Format => WeightFormat.SafeTensors;
    public IReadOnlyList<string> Extensions { get; } = [".safetensors"];

    static string Code(string dtype) =>
        SafetensorsReader.DTypes.FirstOrDefault(p => LstmPort.DTypes.Name(p.Value) == dtype).Key
        ?? throw new LstmPortException(ErrorIds.UnsupportedDType, $"safetensors cannot hold dtype {dtype}.", dtype);

    public void Check(IReadOnlyList<LstmTensor> tensors, string path)
    {
        foreach (var t in tensors)
        {
            if (t.Name == "__metadata__")
                throw new LstmPortException(ErrorIds.InvalidTensorName, $"'{path}': '__metadata__' is reserved in safetensors files.", t.Name);
            _ = Code(t.DType);
        }
    }

    public void Write(Stream output, IReadOnlyList<LstmTensor> tensors)
    {
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (var t in tensors)
            {
                long bytes = t.ByteCount;
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", Code(t.DType));
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        output.Write(len);
        header.Position = 0;
        header.CopyTo(output);
        foreach (var t in tensors) t.WriteData(output);
    }

    public bool WritesSequentially => true;
}
