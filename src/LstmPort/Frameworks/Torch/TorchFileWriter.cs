using System.Text;
using LstmPort.Containers;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Writes a PyTorch state_dict the way <c>torch.save</c> does (zip format, archive version 3): an
/// OrderedDict of <c>_rebuild_tensor_v2</c> calls in <c>archive/data.pkl</c>, one uncompressed record
/// per tensor in <c>archive/data/&lt;n&gt;</c>, then <c>archive/byteorder</c> and <c>archive/version</c>.
/// It names only globals that <c>torch.load(weights_only=True)</c> allows. Keys are the tensors' names.
/// </summary>
public sealed class TorchFileWriter : IWeightWriter
{
    const string Prefix = "archive/";

    public WeightFormat Format => WeightFormat.PyTorch;
    public IReadOnlyList<string> Extensions { get; } = [".pth", ".pt"];

    static readonly Dictionary<string, string> StorageClass = new()
    {
        ["float32"] = "FloatStorage", ["float64"] = "DoubleStorage", ["float16"] = "HalfStorage",
        ["bfloat16"] = "BFloat16Storage", ["int64"] = "LongStorage", ["int32"] = "IntStorage",
        ["int16"] = "ShortStorage", ["int8"] = "CharStorage", ["uint8"] = "ByteStorage", ["bool"] = "BoolStorage",
    };

    public void Check(IReadOnlyList<LstmTensor> tensors, string path)
    {
        foreach (var t in tensors)
            if (!StorageClass.ContainsKey(t.DType))
                throw new LstmPortException(ErrorIds.UnsupportedDType, $"'{path}': '{t.Name}' has dtype {t.DType}, which LstmPort does not write.", t.Name);
    }

    public bool WritesSequentially => true;

    /// <summary>Sizes and offsets from this value on go into zip64 fields (tests lower it to exercise them).</summary>
    internal long Zip64From { get; init; } = uint.MaxValue;

    public void Write(Stream output, IReadOnlyList<LstmTensor> tensors)
    {
        var zip = new ZipWriter(output) { Zip64From = Zip64From };
        zip.Add(Prefix + "data.pkl", Pickle(tensors));
        zip.Add(Prefix + "byteorder", "little"u8.ToArray());
        for (int i = 0; i < tensors.Count; i++)
        {
            using var lease = tensors[i].BorrowForWrite();
            using var data = lease.Tensor.contiguous();
            zip.Begin($"{Prefix}data/{i}", TensorMemory.Crc32(data), TensorMemory.ByteCount(data));
            TensorMemory.Write(data, zip.Write);
        }
        zip.Add(Prefix + "version", "3\n"u8.ToArray());
        zip.Finish();
    }

    /// <summary>OrderedDict([(name, _rebuild_tensor_v2(storage, 0, shape, strides, False, OrderedDict())), ...]).</summary>
    internal static byte[] Pickle(IReadOnlyList<LstmTensor> tensors)
    {
        var p = new PickleWriter();
        p.Global("collections", "OrderedDict").EmptyTuple().Reduce();
        p.Mark();
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var shape = t.Shape.Select(d => (long)d).ToArray();
            var strides = new long[shape.Length];
            for (int d = shape.Length - 1; d >= 0; d--)
                strides[d] = d == shape.Length - 1 ? 1 : strides[d + 1] * Math.Max(shape[d + 1], 1);

            p.String(t.Name);
            p.Global("torch._utils", "_rebuild_tensor_v2");
            p.Mark();
            p.Mark().String("storage").Global("torch", StorageClass[t.DType]).String(i.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .String("cpu").Int(t.ElementCount).Tuple().BinPersId();
            p.Int(0).IntTuple(shape).IntTuple(strides).Bool(false);
            p.Global("collections", "OrderedDict").EmptyTuple().Reduce();
            p.Tuple().Reduce();
        }
        p.SetItems();
        return p.Finish();
    }
}
