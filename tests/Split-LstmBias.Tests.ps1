#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'Split-LstmBias' {
    BeforeAll {
        $source = Get-LstmWeights (New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')).FullName
    }

    It 'gives bias_ih the Ratio share of the sum and keeps the sum' {
        $split = $source | Split-LstmBias -Ratio 0.25
        $ih = ($split | Where-Object Name -EQ 'lstm.bias_ih_l0').Tensor
        $hh = ($split | Where-Object Name -EQ 'lstm.bias_hh_l0').Tensor
        $sum = ($source | Where-Object Name -EQ 'lstm.bias_ih_l0').Tensor.add(($source | Where-Object Name -EQ 'lstm.bias_hh_l0').Tensor)
        $ih.add($hh).allclose($sum, 1e-6, 1e-6) | Should -BeTrue
        $ih.allclose($sum.mul(0.25), 1e-6, 1e-6) | Should -BeTrue
    }

    It 'leaves other tensors untouched' {
        $split = $source | Split-LstmBias
        [object]::ReferenceEquals($split[0], $source[0]) | Should -BeTrue
        ($split | Where-Object Name -EQ 'head.bias').Tensor.equal(($source | Where-Object Name -EQ 'head.bias').Tensor).all().item[bool]() | Should -BeTrue
    }

    It 'rejects a ratio outside 0..1' {
        { $source | Split-LstmBias -Ratio 2 } | Should -Throw
    }
}
