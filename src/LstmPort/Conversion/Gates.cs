using TorchSharp;
using LstmPort.Runtime;

namespace LstmPort.Conversion;

/// <summary>
/// Reorders the packed gate blocks of a weight or bias between frameworks. Gates are matched by
/// meaning, not letter: the LSTM candidate is c (Keras), g (PyTorch), j (TF1); the GRU candidate
/// is h (Keras) or n (PyTorch).
/// </summary>
public static class Gates
{
    public static int Count(LayerType type) => type switch
    {
        LayerType.LSTM => 4,
        LayerType.GRU => 3,
        LayerType.SimpleRNN => 1,
        _ => throw new ArgumentException($"{type} has no gates"),
    };

    /// <summary>How many blocks a packed weight has: the gate count of a gated layer, 1 for SimpleRNN and Dense.</summary>
    public static int Blocks(LayerType type) => type is LayerType.LSTM or LayerType.GRU ? Count(type) : 1;

    static char Meaning(char gate) => gate switch
    {
        'C' or 'G' or 'J' => 'C', // LSTM candidate
        'H' or 'N' => 'H',        // GRU candidate
        'U' => 'Z',               // TF1 GRUCell's update gate u is Keras z
        _ => gate,
    };

    /// <summary>Position in <paramref name="from"/> of each gate of <paramref name="to"/>.</summary>
    public static int[] Permutation(GateOrder from, GateOrder to)
    {
        var source = from.ToString().Select(Meaning).ToArray();
        var target = to.ToString().Select(Meaning).ToArray();
        var perm = target.Select(g => Array.IndexOf(source, g)).ToArray();
        if (source.Length != target.Length || perm.Any(p => p < 0))
            throw new ArgumentException($"gate orders {from} and {to} do not describe the same layer type");
        return perm;
    }

    /// <summary>True when the two orders put the same gates in the same places (Keras IFCO is PyTorch IFGO).</summary>
    public static bool SameOrder(GateOrder from, GateOrder to) =>
        from == to || from == GateOrder.None || Permutation(from, to).Select((p, i) => p == i).All(same => same);

    /// <summary>Reorders the gate blocks of <paramref name="t"/> along <paramref name="dim"/>; returns <paramref name="t"/> itself when the order is the same.</summary>
    public static torch.Tensor Reorder(torch.Tensor t, long dim, GateOrder from, GateOrder to)
    {
        if (SameOrder(from, to)) return t;
        // Into pooled memory: a large tensor from libtorch's allocator is fresh pages every time.
        var result = TensorMemory.Empty(t.shape, t.dtype);
        try { CopyInOrder(t, result, dim, from, to); }
        catch { result.Dispose(); throw; }
        return result;
    }

    /// <summary>Copies the gate blocks of <paramref name="source"/> into <paramref name="target"/> (same shape, any dtype) in the order <paramref name="to"/>.</summary>
    public static void CopyInOrder(torch.Tensor source, torch.Tensor target, long dim, GateOrder from, GateOrder to)
    {
        if (SameOrder(from, to))
        {
            target.copy_(source);
            return;
        }
        var perm = Permutation(from, to);
        long n = source.shape[dim] / perm.Length;
        for (int i = 0; i < perm.Length; i++)
        {
            using var d = target.narrow(dim, i * n, n);
            using var s = source.narrow(dim, perm[i] * n, n);
            d.copy_(s);
        }
    }

    /// <summary>The gate order of <see cref="CanonicalLayer"/>: PyTorch's.</summary>
    public static GateOrder Canonical(LayerType type) => TorchOrder(type);

    public static GateOrder TorchOrder(LayerType type) => type switch
    {
        LayerType.LSTM => GateOrder.IFGO,
        LayerType.GRU => GateOrder.RZN,
        _ => GateOrder.None,
    };

    /// <summary>TF1 cells: an LSTM's fused kernel is i,j,f,o; a GRUCell's gates kernel is r,u (its candidate is a tensor of its own).</summary>
    public static GateOrder Tf1Order(LayerType type) => type switch
    {
        LayerType.LSTM => GateOrder.IJFO,
        LayerType.GRU => GateOrder.RU,
        _ => GateOrder.None,
    };

    public static GateOrder KerasOrder(LayerType type) => type switch
    {
        LayerType.LSTM => GateOrder.IFCO,
        LayerType.GRU => GateOrder.ZRH,
        _ => GateOrder.None,
    };
}
