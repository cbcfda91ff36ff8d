# Interactive cmdlets on the large files (one per format, comma-separated) and an equivalence check,
# each timed in this process: the first call on a file, then the median and the highest of 5 more (warm; 3 for the check).
param([Parameter(Mandatory)] [string] $Lstm512, [Parameter(Mandatory)] [string] $Large)
$ErrorActionPreference = 'Stop'
function Time([string] $what, [scriptblock] $run, [int] $repeat = 5) {
    $sw = [Diagnostics.Stopwatch]::StartNew(); $null = & $run; $first = $sw.Elapsed.TotalMilliseconds
    $warm = @(foreach ($i in 1..$repeat) { $sw.Restart(); $null = & $run; $sw.Elapsed.TotalMilliseconds }) | Sort-Object
    "{0}`t{1:F0} first, {2:F0} warm (max {3:F0})" -f $what, $first, $warm[[int][Math]::Floor(($repeat - 1) / 2)], $warm[-1]
}
# pwsh has Format-Table; the embedded host has only Out-Default, which renders the same table view
# (the benchmark keeps only the timing lines of this script's output).
$table = if (Get-Command Format-Table -ErrorAction Ignore) { { $input | Format-Table | Out-String } } else { { $input | Out-Default } }
foreach ($file in $Large -split ',') {
    $name = Split-Path -Leaf $file
    Time "Get-LstmLayer $name" { Get-LstmLayer $file -WarningAction SilentlyContinue }
    Time "Get-LstmWeights $name" { Get-LstmWeights $file -WarningAction SilentlyContinue }
    Time "Get-LstmWeights $name | Format-Table" { Get-LstmWeights $file -WarningAction SilentlyContinue | & $table }
}
$k = Get-LstmWeights $Lstm512 -WarningAction SilentlyContinue
$t = $k | ConvertTo-TorchLayout
Time 'Test-LstmEquivalence 2x BiLSTM(512)' { Test-LstmEquivalence $k $t } -repeat 3
