# Shared by the Pester suite (the PSToml pattern). Every tests/*.Tests.ps1 dot-sources this file twice:
#   . (Join-Path $PSScriptRoot 'common.ps1')            at the top, for discovery (-Skip expressions)
#   BeforeAll { . (Join-Path $PSScriptRoot 'common.ps1'); Import-TestModule }   for the run
# Pester keeps discovery and run state apart, so both are needed. Nothing here is expensive: the
# module is imported by Import-TestModule in BeforeAll, never at discovery.

$script:RepoRoot = Split-Path -Parent $PSScriptRoot
$script:ModuleManifest = Join-Path $RepoRoot 'out/LstmPort/LstmPort.psd1'

# The real model files live in ../shared/fixtures beside the repository; people who clone only the
# project do not have them, and the tests that need them are skipped. LSTMPORT_TEST_FIXTURES points
# the suite at another folder (a missing one shows what is skipped without the fixtures).
$script:Fixtures = if ($env:LSTMPORT_TEST_FIXTURES) { $env:LSTMPORT_TEST_FIXTURES } else { Join-Path (Split-Path -Parent $RepoRoot) 'shared/fixtures' }
$script:HasFixtures = Test-Path -LiteralPath $Fixtures -PathType Container
# Why fixture tests are skipped: Pester's -Skip carries no reason, so the Contexts that need the
# fixtures are named after them and Invoke-PesterSuite.ps1 prints this line when they are absent.
$script:NoFixturesReason = "../shared/fixtures is absent ($Fixtures): the tests on real model files are skipped"

# Real PyTorch and h5py for the interoperability tests: Debian's python3-torch and python3-h5py,
# as in the xunit harness.
$script:PythonInterpreter = '/usr/bin/python3'

function Import-TestModule {
    # Imports the built module from out/LstmPort (the folder users import), once per session.
    if (-not (Test-Path -LiteralPath $ModuleManifest)) {
        throw "Build the module first (dotnet build LstmPort.PowerShell.sln): $ModuleManifest is missing."
    }
    $loaded = Get-Module LstmPort
    if ($loaded -and $loaded.ModuleBase -ne (Split-Path -Parent $ModuleManifest)) { Remove-Module LstmPort -Force; $loaded = $null }
    if (-not $loaded) { Import-Module $ModuleManifest -Global -ErrorAction Stop }
}

function Get-PythonProblem {
    # $null when /usr/bin/python3 can import these modules; otherwise why not. Under CI (CI=true),
    # where .ci/run installs python3-torch and python3-h5py, a missing module is a failure, not a skip.
    param([string[]] $Modules = 'torch')
    $problem = if (-not (Test-Path -LiteralPath $PythonInterpreter)) { "$PythonInterpreter is not installed" }
    else {
        $out = & $PythonInterpreter -c "import $($Modules -join ', ')" 2>&1
        if ($LASTEXITCODE -ne 0) { "$PythonInterpreter cannot import $($Modules -join ', ') (apt-get install $(($Modules | ForEach-Object { "python3-$_" }) -join ' ')): $($out | Select-Object -Last 1)" }
    }
    if ($problem -and $env:CI -eq 'true') { throw "CI needs them: $problem" }
    $problem
}

function Invoke-TestPython {
    # Runs a Python script (text) with /usr/bin/python3 and returns what it prints as JSON, parsed.
    param([string] $Script, [string[]] $Arguments)
    $out = & $PythonInterpreter -c $Script @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "python failed ($LASTEXITCODE): $($out -join "`n")" }
    ($out | Where-Object { $_ -is [string] }) -join "`n" | ConvertFrom-Json
}

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
    Get-Item -LiteralPath $Path
}

function Get-TestValues {
    # Deterministic float32 values in [-0.4, 0.4], made in plain PowerShell (one array, not enumerated).
    param([int] $Count, [int] $Seed)
    , [float[]]@(for ($i = 0; $i -lt $Count; $i++) { [Math]::Sin($Seed * 1000 + $i * 1.7) * 0.4 })
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

function New-TestTorchGru {
    # A PyTorch-layout GRU state_dict (input 3, hidden 2) with small integer values, so that gate
    # moves are easy to follow: weight_ih 1..18 (rows r r z z n n), weight_hh 1..12, bias_ih 1..6,
    # bias_hh 11..16 (its new-gate part, b_hn = 15 16, is not zero).
    param([string] $Path, [string] $Module = 'gru', [object[]] $BiasHh = (11..16))
    New-TestSafetensors $Path ([ordered]@{
            "$Module.weight_ih_l0" = @(@(6, 3), (1..18))
            "$Module.weight_hh_l0" = @(@(6, 2), (1..12))
            "$Module.bias_ih_l0"   = @(@(6), (1..6))
            "$Module.bias_hh_l0"   = @(@(6), $BiasHh)
        })
}

function ConvertTo-TestTorchMatrix {
    <#
    The PyTorch matrix for a Keras kernel, computed here independently of LstmPort: transposed
    ([in, G*h] row-major to [G*h, in]) with gate blocks reordered. -GateOrder lists, for each
    PyTorch gate in order, the Keras gate it comes from: LSTM i,f,g,o = Keras i,f,c,o (0,1,2,3);
    GRU r,z,n = Keras r,z,h at 1,0,2. Returns a flat row-major double[].
    #>
    param([Array] $Kernel, [int] $Rows, [int] $Units, [int[]] $GateOrder)
    $cols = $Kernel.Length / $Rows
    $out = [double[]]::new($Kernel.Length)
    $at = 0
    foreach ($gate in $GateOrder) {
        for ($j = 0; $j -lt $Units; $j++) {
            $col = $gate * $Units + $j
            for ($i = 0; $i -lt $Rows; $i++) { $out[$at++] = $Kernel[$i * $cols + $col] }
        }
    }
    , $out
}

function Select-TestGates {
    # A bias (or any vector of G blocks of -Units values) with its gate blocks in the given order.
    param([Array] $Vector, [int] $Units, [int[]] $GateOrder)
    , [double[]]@(foreach ($gate in $GateOrder) { $Vector[($gate * $Units)..($gate * $Units + $Units - 1)] })
}

function Get-MaxAbsDifference {
    # The largest |a[i] - b[i]| of two flat arrays; +Infinity when their lengths differ.
    param([Array] $Actual, [Array] $Expected)
    if ($Actual.Length -ne $Expected.Length) { return [double]::PositiveInfinity }
    $max = 0.0
    for ($i = 0; $i -lt $Actual.Length; $i++) {
        $d = [Math]::Abs([double]$Actual[$i] - [double]$Expected[$i])
        if ($d -gt $max -or [double]::IsNaN($d)) { $max = $d }
    }
    $max
}
