# What the benchmark times for the reverse path: a PyTorch state_dict to a Keras weights file, as a user would write it.
param([Parameter(Mandatory)] [string] $Source, [Parameter(Mandatory)] [string] $Target)
$ErrorActionPreference = 'Stop'
Get-LstmWeights $Source -WarningAction SilentlyContinue | ConvertTo-KerasLayout | Export-LstmWeights $Target -Force
