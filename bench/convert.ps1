# What the benchmark times: one Keras file to a PyTorch state_dict, as a user would write it.
param([Parameter(Mandatory)] [string] $Source, [Parameter(Mandatory)] [string] $Target)
$ErrorActionPreference = 'Stop'
Get-LstmWeights $Source -WarningAction SilentlyContinue | ConvertTo-TorchLayout | Export-LstmWeights $Target -Force
