#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'ConvertTo-KerasLayout' {
    BeforeAll {
        $torch = New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')
        $source = Get-LstmWeights $torch.FullName
    }

    It 'gives one Keras layer per depth with tf.keras 2.x names' {
        $k = $source | ConvertTo-KerasLayout
        $k.Name | Should -Be @(
            'lstm/lstm_cell/kernel:0', 'lstm/lstm_cell/recurrent_kernel:0', 'lstm/lstm_cell/bias:0',
            'lstm_1/lstm_cell/kernel:0', 'lstm_1/lstm_cell/recurrent_kernel:0', 'lstm_1/lstm_cell/bias:0',
            'head/kernel:0', 'head/bias:0')
        $k[0].Layout | Should -Be 'Keras'
        $k[0].Shape | Should -Be @(3, 16)
        $k[0].Config.recurrent_activation | Should -Be 'sigmoid'
    }

    It 'sums the two PyTorch biases' {
        $k = $source | ConvertTo-KerasLayout
        $sum = ($source | Where-Object Name -EQ 'lstm.bias_ih_l1').Tensor.add(($source | Where-Object Name -EQ 'lstm.bias_hh_l1').Tensor)
        ($k | Where-Object Name -EQ 'lstm_1/lstm_cell/bias:0').Tensor.allclose($sum, 0, 0) | Should -BeTrue
    }

    It 'transposes the Linear weight into a Dense kernel' {
        $k = $source | ConvertTo-KerasLayout
        ($k | Where-Object Name -EQ 'head/kernel:0').Tensor.equal(($source | Where-Object Name -EQ 'head.weight').Tensor.t()).all().item[bool]() | Should -BeTrue
    }

    It 'turns CuDNNLSTM weights into plain LSTM weights' -Skip:(-not (Test-Path "$Fixtures/textgenrnn-cudnnlstm-weights")) {
        $k = Get-LstmWeights "$Fixtures/textgenrnn-cudnnlstm-weights/textgenrnn_weights_keras215_cudnn.hdf5" -Layer rnn_1 | ConvertTo-KerasLayout
        ($k | Where-Object Role -EQ 'Bias').Shape | Should -Be @(512)
        $k[0].Config.ContainsKey('cudnn') | Should -BeFalse
    }

    It 'computes what the PyTorch weights compute' {
        Test-LstmEquivalence $source ($source | ConvertTo-KerasLayout) | ForEach-Object { $_.Passed | Should -BeTrue }
    }
}
