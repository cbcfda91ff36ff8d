#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'Merge-LstmBias' {
    BeforeAll {
        $source = Get-LstmWeights (New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')).FullName
    }

    It 'puts the sum into bias_ih and zeros into bias_hh' {
        $merged = $source | Merge-LstmBias
        $sum = ($source | Where-Object Name -EQ 'lstm.bias_ih_l1').Tensor.add(($source | Where-Object Name -EQ 'lstm.bias_hh_l1').Tensor)
        ($merged | Where-Object Name -EQ 'lstm.bias_ih_l1').Tensor.allclose($sum, 0, 0) | Should -BeTrue
        ($merged | Where-Object Name -EQ 'lstm.bias_hh_l1').Tensor.abs().sum().item[float]() | Should -Be 0
    }

    It 'sums the halves of a CuDNN bias' -Skip:(-not (Test-Path "$Fixtures/textgenrnn-cudnnlstm-weights")) {
        $m = Get-LstmWeights "$Fixtures/textgenrnn-cudnnlstm-weights/textgenrnn_weights_keras215_cudnn.hdf5" -Layer rnn_1 | Merge-LstmBias
        ($m | Where-Object Role -EQ 'Bias').Shape | Should -Be @(512)
    }

    It 'passes other tensors through' {
        ($source | Merge-LstmBias | Where-Object Name -EQ 'head.weight') | Should -Not -BeNullOrEmpty
    }
}
