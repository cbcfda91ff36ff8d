namespace LstmPort.Fuzz;

/// <summary>
/// Deterministic randomness: one System.Random per mutant, seeded from (campaign seed, mutant index)
/// through SplitMix64, so the same seed and index give the same bytes in any process. (A seeded
/// System.Random is stable across .NET versions and platforms; string.GetHashCode is not, and is never
/// used for decisions here.)
/// </summary>
public static class Rng
{
    public static Random For(long campaignSeed, long index) => new(Seed32(campaignSeed, index));

    public static int Seed32(long campaignSeed, long index)
    {
        ulong z = unchecked((ulong)campaignSeed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7fffffff);
    }

    public static T Pick<T>(this Random r, IReadOnlyList<T> items) => items[r.Next(items.Count)];

    public static bool Chance(this Random r, double p) => r.NextDouble() < p;

    /// <summary>A value that often lies near the edges (0, 1, small) and sometimes anywhere below <paramref name="max"/>.</summary>
    public static int Skewed(this Random r, int max) => max <= 1 ? 0 : r.Next(4) switch
    {
        0 => r.Next(Math.Min(max, 4)),
        1 => max - 1 - r.Next(Math.Min(max, 4)),
        _ => r.Next(max),
    };
}
