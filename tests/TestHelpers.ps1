# Shared by the Pester suite: imports the built module (run 'dotnet build' first) and makes test files.
$script:RepoRoot = Split-Path -Parent $PSScriptRoot
$script:ModuleManifest = Join-Path $RepoRoot 'out/LstmPort/LstmPort.psd1'
$script:Fixtures = Join-Path (Split-Path -Parent $RepoRoot) 'shared/fixtures'

if (-not (Test-Path $ModuleManifest)) { throw "Build the module first (dotnet build): $ModuleManifest is missing." }
Import-Module $ModuleManifest -Force

function New-TestSafetensors {
    # Writes a float32 safetensors file: New-TestSafetensors path @{ 'lstm.weight_ih_l0' = @(@(12, 3), [float[]]::new(36)) }
    param([string] $Path, [System.Collections.IDictionary] $Tensors)
    $header = [ordered]@{}
    $data = [System.IO.MemoryStream]::new()
    foreach ($name in $Tensors.Keys) {
        $shape, $values = $Tensors[$name]
        $begin = $data.Length
        foreach ($v in $values) { $bytes = [BitConverter]::GetBytes([float]$v); $data.Write($bytes, 0, 4) }
        $header[$name] = @{ dtype = 'F32'; shape = @($shape); data_offsets = @($begin, $data.Length) }
    }
    $json = [Text.Encoding]::UTF8.GetBytes(($header | ConvertTo-Json -Depth 5 -Compress))
    $file = [IO.File]::Create($Path)
    try {
        $file.Write([BitConverter]::GetBytes([long]$json.Length), 0, 8)
        $file.Write($json, 0, $json.Length)
        $data.WriteTo($file)
    } finally { $file.Dispose() }
    Get-Item $Path
}

function New-TestTorchLstm {
    # A PyTorch-layout 2-layer LSTM state_dict (input 3, hidden 4) with a Linear head, as safetensors.
    param([string] $Path, [string] $Module = 'lstm')
    $rng = [System.Random]::new(17)
    $values = { param($n) , [float[]](1..$n | ForEach-Object { $rng.NextDouble() - 0.5 }) }
    $tensors = [ordered]@{}
    foreach ($k in 0, 1) {
        $in = if ($k -eq 0) { 3 } else { 4 }
        $tensors["$Module.weight_ih_l$k"] = @(@(16, $in), (& $values (16 * $in)))
        $tensors["$Module.weight_hh_l$k"] = @(@(16, 4), (& $values 64))
        $tensors["$Module.bias_ih_l$k"] = @(@(16), (& $values 16))
        $tensors["$Module.bias_hh_l$k"] = @(@(16), (& $values 16))
    }
    $tensors['head.weight'] = @(@(2, 4), (& $values 8))
    $tensors['head.bias'] = @(@(2), (& $values 2))
    New-TestSafetensors $Path $tensors
}
