# Stage breakdown of the conversion in one process: metadata, read (every tensor's data loaded),
# transform (ConvertTo-TorchLayout, or with -Keras ConvertTo-KerasLayout: the reverse path, .pth to
# .h5; converted data computed), write (Export-LstmWeights); VmHWM (peak RSS) after each stage.
param([Parameter(Mandatory)] [string] $Source, [Parameter(Mandatory)] [string] $Target, [switch] $Keras)
$ErrorActionPreference = 'Stop'
$sw = [Diagnostics.Stopwatch]::StartNew()
function Hwm { if (Test-Path /proc/self/status) { ((Get-Content /proc/self/status) -match '^VmHWM') -replace '\s+', ' ' } }
function Lap([string] $stage) { "{0,-10} {1,8:N0} ms   {2}" -f $stage, $sw.Elapsed.TotalMilliseconds, (Hwm); $sw.Restart() }
[LstmPort.Runtime.TorchRuntime]::EnsureLoaded(); Lap 'libtorch'
$w = @(Get-LstmWeights $Source -WarningAction SilentlyContinue); Lap 'metadata'
foreach ($t in $w) { $null = $t.Tensor }; Lap 'read'
$c = @(if ($Keras) { $w | ConvertTo-KerasLayout } else { $w | ConvertTo-TorchLayout }); foreach ($t in $c) { $null = $t.Tensor }; Lap 'transform'
$c | Export-LstmWeights $Target -Force; Lap 'write'
