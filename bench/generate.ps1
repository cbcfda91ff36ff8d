# Writes a deterministic Keras weights file (tf.keras 2.x save_weights layout) of about -Bytes bytes:
# three Bidirectional LSTM(h) layers, input h/2, and Dense(1), h chosen so the file has that size
# (1 GB gives h = 2048, input 1024, as in the issue). Values: TorchSharp's seeded normal, scaled.
param(
    [Parameter(Mandatory)] [string] $Path,
    [long] $Bytes = 1GB,
    [int] $Seed = 1234,
    [int] $Units = 0,     # given: this many units instead of the size's
    [int] $Layers = 3
)
$ErrorActionPreference = 'Stop'
# Three bidirectional layers hold 12h^2 + 24h^2 + 24h^2 = 60h^2 float32 values (biases aside),
# 240h^2 bytes; h = sqrt(Bytes/256) makes 1GB give h = 2048 exactly (a 1.0e9-byte file).
$h = if ($Units -gt 0) { $Units } else { [Math]::Max(8, [int][Math]::Round([Math]::Sqrt($Bytes / 256.0))) }
$inputSize = [int]($h / 2)
[LstmPort.Runtime.TorchRuntime]::EnsureLoaded()
$null = [TorchSharp.torch]::manual_seed($Seed)

function Rand([long[]] $shape) {
    # randn * 0.05: a trained-looking scale; keeps values away from float32 edge cases.
    $t = [TorchSharp.torch]::randn($shape)
    $t.mul_([TorchSharp.Scalar]0.05)
}

function LstmLayer([string] $layer, [int] $in) {
    foreach ($dir in 'Forward', 'Backward') {
        $half = if ($dir -eq 'Forward') { 'forward_lstm' } else { 'backward_lstm' }
        $cell = "$layer/$half/lstm_cell_$layer"
        [LstmPort.LstmTensor]::FromTensor((Rand @($in, (4 * $h))), "$cell/kernel:0", $layer, 'LSTM', 'Kernel', 'Keras', $dir)
        [LstmPort.LstmTensor]::FromTensor((Rand @($h, (4 * $h))), "$cell/recurrent_kernel:0", $layer, 'LSTM', 'RecurrentKernel', 'Keras', $dir)
        [LstmPort.LstmTensor]::FromTensor((Rand @(4 * $h)), "$cell/bias:0", $layer, 'LSTM', 'Bias', 'Keras', $dir)
    }
}

& {
    LstmLayer 'bidirectional' $inputSize
    for ($i = 1; $i -lt $Layers; $i++) { LstmLayer "bidirectional_$i" (2 * $h) }
    [LstmPort.LstmTensor]::FromTensor((Rand @((2 * $h), 1)), 'dense/dense/kernel:0', 'dense', 'Dense', 'Kernel', 'Keras')
    [LstmPort.LstmTensor]::FromTensor((Rand @(1)), 'dense/dense/bias:0', 'dense', 'Dense', 'Bias', 'Keras')
} | Export-LstmWeights $Path -Force
"units=$h input=$inputSize"
