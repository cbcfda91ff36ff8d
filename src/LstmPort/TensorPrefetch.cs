namespace LstmPort;

/// <summary>
/// Lends a list of tensors in order while the next one is already being read or computed on
/// another thread, so a writer's disk time overlaps the reading and converting of the next tensor.
/// At most two tensors are held at a time: the one being written and the one being prepared.
/// </summary>
public static class TensorPrefetch
{
    public static IEnumerable<(LstmTensor Tensor, TensorLease Lease)> Borrow(IReadOnlyList<LstmTensor> tensors)
    {
        if (tensors.Count == 0) yield break;
        Task<TensorLease>? next = Task.Run(tensors[0].Borrow);
        try
        {
            for (int i = 0; i < tensors.Count; i++)
            {
                var lease = next!.GetAwaiter().GetResult(); // rethrows the reader's own exception
                next = i + 1 < tensors.Count ? Task.Run(tensors[i + 1].Borrow) : null;
                try { yield return (tensors[i], lease); }
                finally { lease.Dispose(); }
            }
        }
        finally
        {
            // Stopped early (an error, a cancel): free what was being prepared.
            if (next is not null)
                try { next.GetAwaiter().GetResult().Dispose(); } catch (Exception) { /* the caller already has its own error */ }
        }
    }
}
