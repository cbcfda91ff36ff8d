# Interactive cmdlets on the large file and an equivalence check, each timed in this process.
param([Parameter(Mandatory)] [string] $Large, [Parameter(Mandatory)] [string] $Lstm512)
$ErrorActionPreference = 'Stop'
function Time([string] $what, [scriptblock] $run) {
    $sw = [Diagnostics.Stopwatch]::StartNew(); $null = & $run; "{0}`t{1:F0}" -f $what, $sw.Elapsed.TotalMilliseconds
}
Time 'Get-LstmLayer (1st call, libtorch not loaded)' { Get-LstmLayer $Large -WarningAction SilentlyContinue }
Time 'Get-LstmLayer' { Get-LstmLayer $Large -WarningAction SilentlyContinue }
Time 'Get-LstmWeights' { Get-LstmWeights $Large -WarningAction SilentlyContinue }
# pwsh has Format-Table; the embedded host has only Out-Default, which renders the same table view
# (the benchmark keeps only the timing lines of this script's output).
$table = if (Get-Command Format-Table -ErrorAction Ignore) { { $input | Format-Table | Out-String } } else { { $input | Out-Default } }
Time 'Get-LstmWeights | Format-Table' { Get-LstmWeights $Large -WarningAction SilentlyContinue | & $table }
$k = Get-LstmWeights $Lstm512 -WarningAction SilentlyContinue
$t = $k | ConvertTo-TorchLayout
Time 'Test-LstmEquivalence 2x BiLSTM(512)' { Test-LstmEquivalence $k $t }
