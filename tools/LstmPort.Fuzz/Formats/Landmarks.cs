namespace LstmPort.Fuzz.Formats;

/// <summary>An offset where a structure starts or ends (a good place to cut or to overwrite an integer).</summary>
public sealed record Landmark(long Offset, string What);

/// <summary>Structure boundaries of a file in any format the suite knows, found by parsing just enough of it.</summary>
public static class Landmarks
{
    public static List<Landmark> For(string fileName, byte[] data)
    {
        var marks = new List<Landmark>();
        try
        {
            if (H5Map.IsHdf5(data) && H5Map.Parse(data) is { } h5)
            {
                foreach (var f in h5.Fields) marks.Add(new Landmark(f.Offset, f.Name));
                foreach (var c in h5.Chunks) marks.Add(new Landmark(c.Start + c.Length, "an HDF5 checksum"));
            }
            else if (Zip.LooksLikeZip(data))
                foreach (var f in Zip.Fields(data)) marks.Add(new Landmark(f.Offset, "zip " + f.Name));
            else if (fileName.EndsWith(".index", StringComparison.Ordinal) && SsTable.ReadWithLayout(data) is { } t)
            {
                foreach (var b in t.Blocks) { marks.Add(new Landmark(b.Offset, "a table block")); marks.Add(new Landmark(b.Offset + b.Size, "a block trailer")); }
                foreach (var (o, w) in t.Varints) marks.Add(new Landmark(o, w));
                marks.Add(new Landmark(data.Length - 48, "the table footer"));
            }
            else if (Safetensors.Split(data) is { } st)
            {
                marks.Add(new Landmark(0, "the header length"));
                marks.Add(new Landmark(8 + st.Header.Length, "the end of the JSON header"));
            }
            else if (data.Length > 1 && data[0] == Pickle.Proto)
            {
                // A legacy torch file is several pickles, then raw storages.
                int p = 0;
                for (int k = 0; k < 6 && p < data.Length && data[p] == Pickle.Proto; k++)
                {
                    var (ops, complete) = Pickle.Scan(data, p);
                    foreach (var op in ops.Where((_, i) => i % Math.Max(1, ops.Count / 64) == 0)) marks.Add(new Landmark(op.Pos, $"pickle {k} opcode 0x{op.Code:x2}"));
                    if (!complete) break;
                    p = ops[^1].End;
                    marks.Add(new Landmark(p, $"the end of pickle {k}"));
                }
            }
            else if (ProtoMessage.Parse(data) is { } pb)
            {
                long at = 0;
                foreach (var f in pb.Fields.Take(256))
                {
                    marks.Add(new Landmark(at, $"protobuf field {f.Number}"));
                    at += new ProtoMessage { Fields = { f } }.ToBytes().Length;
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidDataException or OverflowException) { }
        return marks.Where(m => m.Offset >= 0 && m.Offset < data.Length).ToList();
    }
}
