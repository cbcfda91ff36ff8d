using TorchSharp;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>LstmTensor's script helpers (ToArray, Transpose, ...) and how it reads: against libtorch's own answers.</summary>
public sealed class LstmTensorTests
{
    static LstmTensor Wrap(torch.Tensor t) => LstmTensor.FromTensor(t, "w", "lstm", LayerType.LSTM, TensorRole.Kernel, Layout.Torch);

    [Theory]
    [InlineData(torch.ScalarType.Float32, typeof(float[]))]
    [InlineData(torch.ScalarType.Float64, typeof(double[]))]
    [InlineData(torch.ScalarType.Float16, typeof(Half[]))]
    [InlineData(torch.ScalarType.BFloat16, typeof(float[]))]
    [InlineData(torch.ScalarType.Int64, typeof(long[]))]
    [InlineData(torch.ScalarType.Int32, typeof(int[]))]
    [InlineData(torch.ScalarType.Int16, typeof(short[]))]
    [InlineData(torch.ScalarType.Int8, typeof(sbyte[]))]
    [InlineData(torch.ScalarType.Byte, typeof(byte[]))]
    [InlineData(torch.ScalarType.Bool, typeof(bool[]))]
    public void ToArray_gives_the_values_in_row_major_order_as_the_matching_NET_type(torch.ScalarType dtype, Type expected)
    {
        TorchRuntime.EnsureLoaded();
        // 0..11 as a [3,4] matrix, stored transposed (non-contiguous) to prove the order is logical, not storage.
        using var source = torch.arange(12, torch.ScalarType.Float64).reshape(4, 3).t();
        using var t = dtype == torch.ScalarType.Bool ? source.remainder(2).eq(1) : source.to_type(dtype);
        var values = Wrap(t).ToArray();
        Assert.IsType(expected, values);
        Assert.Equal(12, values.Length);
        double[] want = [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11];
        for (int i = 0; i < 12; i++)
        {
            var v = values.GetValue(i)!;
            double got = v is bool b ? (b ? 1 : 0) : v is Half h ? (double)h : Convert.ToDouble(v);
            Assert.Equal(dtype == torch.ScalarType.Bool ? want[i] % 2 : want[i], got);
        }
    }

    [Fact]
    public void Transpose_Multiply_and_the_reductions_agree_with_libtorch()
    {
        TorchRuntime.EnsureLoaded();
        var g = new torch.Generator(7);
        using var data = torch.randn([5, 3], generator: g);
        var w = Wrap(data);

        var tr = w.Transpose();
        Assert.Equal([3, 5], tr.Shape);
        Assert.Equal(w.Name, tr.Name);
        Assert.Equal(w.Role, tr.Role);
        Assert.Equal(data.t().contiguous().data<float>().ToArray(), (float[])tr.ToArray());
        using var t3 = torch.randn([2, 3, 4], generator: g);
        Assert.Equal(t3.permute(2, 1, 0).contiguous().data<float>().ToArray(), (float[])Wrap(t3).Transpose().ToArray());

        var doubled = w.Multiply(2.5);
        Assert.Equal("float32", doubled.DType);
        Assert.Equal(data.mul(2.5f).data<float>().ToArray(), (float[])doubled.ToArray());

        var values = data.data<float>().ToArray().Select(v => (double)v).ToArray();
        Assert.Equal(values.Sum(), w.Sum(), 1e-9);
        Assert.Equal(values.Average(), w.Mean(), 1e-9);
        Assert.Equal(values.Min(), w.Min());
        Assert.Equal(values.Max(), w.Max());

        var empty = Wrap(torch.empty([0, 4]));
        Assert.Equal(0, empty.Sum());
        Assert.True(double.IsNaN(empty.Mean()) && double.IsNaN(empty.Min()) && double.IsNaN(empty.Max()));
        Assert.Empty(empty.ToArray());
    }

    [Fact]
    public void A_failed_read_is_an_error_typed_by_its_ErrorId_and_is_not_remembered()
    {
        int calls = 0;
        var t = new LstmTensor("lstm.weight_ih_l0", "lstm", LayerType.LSTM, TensorRole.Kernel, Layout.Torch, [2, 2], "float32",
            () => ++calls == 1 ? throw new LstmPortException(ErrorIds.ChecksumMismatch, "the data is damaged") : torch.ones(2, 2),
            source: "model.pth", reloadable: true);

        var e = Assert.IsAssignableFrom<LstmPortException>(Record.Exception(() => t.ToArray()));
        Assert.Equal("ChecksumMismatch", e.ErrorId);
        Assert.Equal("ChecksumMismatch", e.GetType().Name); // what PowerShell names a failing method's error after
        Assert.Contains("'lstm.weight_ih_l0' of 'model.pth'", e.Message);
        Assert.False(t.IsLoaded);

        Assert.Equal(4.0, t.Sum()); // read again, this time it works
        Assert.NotNull(t.Tensor);
        Assert.True(t.IsLoaded);
    }

    [Fact]
    public void Other_read_failures_get_stable_ErrorIds()
    {
        LstmPortException Fail(Exception inner) =>
            Assert.IsAssignableFrom<LstmPortException>(Record.Exception(() =>
                new LstmTensor("x", "x", LayerType.Other, TensorRole.Other, Layout.Torch, [1], "float32", () => throw inner).ToArray()));
        Assert.Equal("FileNotFound", Fail(new FileNotFoundException("gone")).ErrorId);
        Assert.Equal("TruncatedFile", Fail(new EndOfStreamException()).ErrorId);
        Assert.Equal("FileReadError", Fail(new IOException("disk")).ErrorId);
        Assert.Equal(ErrorKind.ReadError, Fail(new IOException("disk")).Kind);
        Assert.Equal("CorruptFile", Fail(new InvalidDataException("bad")).ErrorId);
        var shape = Assert.IsAssignableFrom<LstmPortException>(Record.Exception(() =>
            new LstmTensor("x", "x", LayerType.Other, TensorRole.Other, Layout.Torch, [3], "float32", () => torch.ones(2)).Sum()));
        Assert.Equal("TensorShapeMismatch", shape.ErrorId);
    }

    [Fact]
    public void ErrorId_types_are_LstmPortExceptions_made_once_per_id()
    {
        var a = ErrorIdException.Create(ErrorIds.TruncatedFile, "m", "t");
        var b = ErrorIdException.Create(ErrorIds.TruncatedFile, "n");
        Assert.Same(a.GetType(), b.GetType());
        Assert.Equal(("TruncatedFile", "m", "t"), (a.ErrorId, a.Message, (string)a.Target!));
        Assert.Equal(ErrorKind.InvalidData, a.Kind); // from the catalogue
        // Only catalogued ids: anything else is a bug and fails loudly.
        Assert.Throws<ArgumentException>(() => ErrorIdException.Create("not an id", "m"));
        Assert.Throws<ArgumentException>(() => ErrorIdException.Create("NotInTheCatalogue", "m"));
    }
}
