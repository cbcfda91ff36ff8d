# Stage breakdown of the conversion in one process: metadata, read (every tensor's data loaded),
# transform (ConvertTo-TorchLayout, converted data computed), write (Export-LstmWeights).
param([Parameter(Mandatory)] [string] $Source, [Parameter(Mandatory)] [string] $Target)
$ErrorActionPreference = 'Stop'
$sw = [Diagnostics.Stopwatch]::StartNew()
function Lap([string] $stage) { "{0,-10} {1,8:N0} ms" -f $stage, $sw.Elapsed.TotalMilliseconds; $sw.Restart() }
[LstmPort.Runtime.TorchRuntime]::EnsureLoaded(); Lap 'libtorch'
$w = @(Get-LstmWeights $Source -WarningAction SilentlyContinue); Lap 'metadata'
foreach ($t in $w) { $null = $t.Tensor }; Lap 'read'
$c = @($w | ConvertTo-TorchLayout); foreach ($t in $c) { $null = $t.Tensor }; Lap 'transform'
$c | Export-LstmWeights $Target -Force; Lap 'write'
