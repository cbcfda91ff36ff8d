<#
.SYNOPSIS
    The main job: a stacked Keras LSTM with a Dense head into one multi-layer nn.LSTM plus nn.Linear,
    written as a .pth state_dict, with numerical proof that it computes the same thing.
.EXAMPLE
    ./examples/convert.ps1
.EXAMPLE
    dotnet run --project src/LstmPort.Host -- -File examples/convert.ps1 ./model.h5 ./model.pth
#>
param(
    [string] $Path = [IO.Path]::Combine($PSScriptRoot, 'stacked_lstm.h5'),
    [string] $Destination = 'out/examples/stacked_lstm.pth'
)
$ErrorActionPreference = 'Stop'
$folder = [IO.Path]::GetDirectoryName($ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Destination))
$null = [IO.Directory]::CreateDirectory($folder)

# What is in the file, and does each layer have an exact PyTorch equivalent?
Get-LstmLayer $Path | Out-Default

# Convert: the four LSTM layers become depths l0..l3 of one module 'lstm'; Dense becomes Linear.
$keras = Get-LstmWeights $Path
$torch = $keras | ConvertTo-TorchLayout -StackAs lstm
$torch | Export-LstmWeights $Destination -Force
"Wrote $Destination"

# Prove it: both sides run on the same random inputs, each with its own framework's maths.
Test-LstmEquivalence $keras $torch -Strict | Out-Default
