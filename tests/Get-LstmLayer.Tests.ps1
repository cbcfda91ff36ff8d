#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeDiscovery {
    # -Skip is decided at discovery, before BeforeAll runs: find the shared fixtures here.
    $fixtureRoot = Join-Path (Split-Path -Parent (Split-Path -Parent $PSScriptRoot)) 'shared/fixtures'
}
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'Get-LstmLayer' {
    BeforeAll {
        $medaka = Join-Path $Fixtures 'medaka-keras215-bigru/medaka_model.hdf5'
        $keras3 = Join-Path $Fixtures 'keras3-martinpiz097-lstm-gru/lstm_model.keras'
        $torch = New-TestSafetensors (Join-Path $TestDrive 'lstm.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(16, 3), (1..48))
                'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
                'lstm.bias_ih_l0'   = @(@(16), (1..16))
                'lstm.bias_hh_l0'   = @(@(16), (1..16))
            })
    }

    It 'summarises a PyTorch LSTM as portable' {
        $l = Get-LstmLayer $torch.FullName
        $l | Should -HaveCount 1
        $l.Layer | Should -Be 'lstm'
        $l.LayerType | Should -Be 'LSTM'
        $l.Units | Should -Be 4
        $l.InputSize | Should -Be 3
        $l.Parameters | Should -Be (48 + 64 + 16 + 16)
        $l.TorchPortable | Should -BeTrue
        $l.Reason | Should -BeNullOrEmpty
    }

    It 'says why a Keras bidirectional GRU is not portable' -Skip:(-not (Test-Path (Join-Path $fixtureRoot 'medaka-keras215-bigru'))) {
        $l = Get-LstmLayer $medaka
        $l.Layer | Should -Be @('bidirectional_1', 'bidirectional_2', 'classify')
        $l[0].Bidirectional | Should -BeTrue
        $l[0].TorchPortable | Should -BeFalse
        $l[0].Reason | Should -Match 'hard_sigmoid recurrent activation'
        $l[0].Reason | Should -Match 'GRU reset_after=False'
        $l[2].TorchPortable | Should -BeTrue
    }

    It 'summarises tensors from the pipeline' -Skip:(-not (Test-Path (Join-Path $fixtureRoot 'keras3-martinpiz097-lstm-gru'))) {
        $l = Get-LstmWeights $keras3 | Get-LstmLayer
        $l.Layer | Should -Be @('lstm', 'dense_1')
        $l[0].Parameters | Should -Be 66560
        $l[0].TorchPortable | Should -BeTrue
    }

    It 'renders the table view in 80 columns' {
        $text = Get-LstmLayer $torch.FullName | Format-Table | Out-String -Width 80
        $text | Should -Match '(?m)^\s+Source: '
        $text | Should -Match '(?m)^Layer\s+Type\s+Units\s+Input\s+BiDi\s+Params\s+Torch'
        $text | Should -Match '(?m)^lstm\s+LSTM\s+4\s+3\s+no\s+144\s+yes'
    }

    It 'reports a missing file and still reads the next path' {
        $out = Get-LstmLayer (Join-Path $TestDrive 'nope.h5'), $torch.FullName -ErrorVariable err -ErrorAction SilentlyContinue
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'FileNotFound*'
        $out | Should -HaveCount 1
    }

    It 'reports an HDF5 file without Keras structure as NotKerasFile' -Skip:(-not (Test-Path (Join-Path $fixtureRoot 'dl4j-keras2-simple-lstm'))) {
        $data = Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_inputs_and_outputs.h5'
        Get-LstmLayer $data -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NotKerasFile*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }

    It 'has full help' {
        $help = Get-Help Get-LstmLayer -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'InputObject'
    }
}
