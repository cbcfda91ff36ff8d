using TorchSharp;

namespace LstmPort;

/// <summary>Names of tensor element types as PyTorch spells them (float32, bfloat16, ...).</summary>
public static class DTypes
{
    public static string Name(torch.ScalarType t) => t switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.Float64 => "float64",
        torch.ScalarType.Float16 => "float16",
        torch.ScalarType.BFloat16 => "bfloat16",
        torch.ScalarType.Int64 => "int64",
        torch.ScalarType.Int32 => "int32",
        torch.ScalarType.Int16 => "int16",
        torch.ScalarType.Int8 => "int8",
        torch.ScalarType.Byte => "uint8",
        torch.ScalarType.Bool => "bool",
        _ => t.ToString().ToLowerInvariant(),
    };

    public static torch.ScalarType Parse(string name) => name switch
    {
        "float32" => torch.ScalarType.Float32,
        "float64" => torch.ScalarType.Float64,
        "float16" => torch.ScalarType.Float16,
        "bfloat16" => torch.ScalarType.BFloat16,
        "int64" => torch.ScalarType.Int64,
        "int32" => torch.ScalarType.Int32,
        "int16" => torch.ScalarType.Int16,
        "int8" => torch.ScalarType.Int8,
        "uint8" => torch.ScalarType.Byte,
        "bool" => torch.ScalarType.Bool,
        _ => throw new ArgumentException($"unknown dtype '{name}'"),
    };

    public static int Size(torch.ScalarType t) => t switch
    {
        torch.ScalarType.Float64 or torch.ScalarType.Int64 => 8,
        torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
        torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
        torch.ScalarType.Int8 or torch.ScalarType.Byte or torch.ScalarType.Bool => 1,
        _ => throw new ArgumentException($"unsupported dtype {t}"),
    };
}
