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
