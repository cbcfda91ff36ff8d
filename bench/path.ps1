# What the benchmark times for the other paths: one file to another, as a user would write it;
# -To names the layout converted to on the way (None: the format changes, the layout does not).
param([Parameter(Mandatory)] [string] $Source, [Parameter(Mandatory)] [string] $Target,
    [ValidateSet('None', 'Torch', 'Keras', 'Onnx')] [string] $To = 'None')
$ErrorActionPreference = 'Stop'
switch ($To) {
    'None' { Get-LstmWeights $Source -WarningAction SilentlyContinue | Export-LstmWeights $Target -Force }
    'Torch' { Get-LstmWeights $Source -WarningAction SilentlyContinue | ConvertTo-TorchLayout | Export-LstmWeights $Target -Force }
    'Keras' { Get-LstmWeights $Source -WarningAction SilentlyContinue | ConvertTo-KerasLayout | Export-LstmWeights $Target -Force }
    'Onnx' { Get-LstmWeights $Source -WarningAction SilentlyContinue | ConvertTo-OnnxLayout | Export-LstmWeights $Target -Force }
}
