#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeDiscovery {
    # -Skip is decided at discovery, before BeforeAll runs: find the shared fixtures here.
    $fixtureRoot = Join-Path (Split-Path -Parent (Split-Path -Parent $PSScriptRoot)) 'shared/fixtures'
}
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'Get-LstmWeights' {
    BeforeAll {
        $lstm = New-TestSafetensors (Join-Path $TestDrive 'lstm.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(16, 3), (1..48))
                'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
                'lstm.bias_ih_l0'   = @(@(16), (1..16))
                'lstm.bias_hh_l0'   = @(@(16), (1..16))
                'head.weight'       = @(@(1, 4), (1..4))
                'head.bias'         = @(@(1), @(0.5))
            })
    }

    It 'emits one LstmTensor per tensor with roles from the PyTorch names' {
        $t = Get-LstmWeights $lstm.FullName
        $t | Should -HaveCount 6
        $t[0] | Should -BeOfType LstmPort.LstmTensor
        $t.Name | Should -Be @('lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0', 'head.weight', 'head.bias')
        $t[0].Role | Should -Be 'Kernel'
        $t[0].LayerType | Should -Be 'LSTM'
        $t[0].Units | Should -Be 4
        $t[0].InputSize | Should -Be 3
        $t[0].Shape | Should -Be @(16, 3)
        $t[4].LayerType | Should -Be 'Dense'
    }

    It 'gives a live TorchSharp tensor with the file''s values' {
        $w = Get-LstmWeights $lstm.FullName -Layer head
        $w[0].Tensor | Should -BeOfType TorchSharp.torch+Tensor
        $w[0].Tensor.sum().item[float]() | Should -Be 10
        $w[1].Tensor.sum().item[float]() | Should -Be 0.5
    }

    It 'takes file objects from the pipeline' {
        (Get-ChildItem $TestDrive -Filter *.safetensors | Get-LstmWeights -Layer lstm).Count | Should -Be 4
    }

    It 'renders the table view' {
        $text = Get-LstmWeights $lstm.FullName | Format-Table | Out-String -Width 80
        $text | Should -Match '(?m)^\s+Source: '
        $text | Should -Match '(?m)^Name\s+Role\s+Shape\s+DType\s+Layout'
        $text | Should -Match '(?m)^lstm\.weight_ih_l0\s+Kernel\s+\[16,3\]\s+float32\s+Torch'
    }

    It 'renders the table without reading any tensor data' {
        $w = Get-LstmWeights $lstm.FullName
        $null = $w | Format-Table | Out-String
        @($w | Where-Object IsLoaded) | Should -HaveCount 0
    }

    It 'reports a missing file with ErrorId FileNotFound and still reads the next path' {
        $out = Get-LstmWeights (Join-Path $TestDrive 'nope.safetensors'), $lstm.FullName -ErrorVariable err -ErrorAction SilentlyContinue
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'FileNotFound*'
        $err[0].TargetObject | Should -BeLike '*nope.safetensors'
        $out | Should -HaveCount 6
    }

    It 'reports a file that is not a weight file as UnknownFormat' {
        $junk = Join-Path $TestDrive 'junk.bin'
        [IO.File]::WriteAllBytes($junk, [byte[]](1..200))
        Get-LstmWeights $junk -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'UnknownFormat*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }

    It 'has full help' {
        $help = Get-Help Get-LstmWeights -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'LiteralPath'
    }
}

Describe 'Get-LstmWeights on Keras files' -Skip:(-not (Test-Path $fixtureRoot)) {
    It 'presents Keras 1 per-gate arrays as one kernel in IFCO order' {
        $t = Get-LstmWeights (Join-Path $Fixtures 'dl4j-keras1-simple-lstm/simple_lstm_tf_keras_1_model.h5') -Layer lstm_1
        $t.Name | Should -Be @('lstm_1_W:0', 'lstm_1_U:0', 'lstm_1_b:0')
        $t.Role | Should -Be @('Kernel', 'RecurrentKernel', 'Bias')
        $t[1].Shape | Should -Be @(50, 200)
        $t[0].GateOrder | Should -Be 'IFCO'
        $t[0].Config['recurrent_activation'] | Should -Be 'hard_sigmoid'
    }

    It 'reads both halves of a Bidirectional layer' {
        $t = Get-LstmWeights (Join-Path $Fixtures 'medaka-keras215-bigru/medaka_model.hdf5') -Layer bidirectional_1
        $t | Should -HaveCount 6
        ($t | Where-Object Direction -eq 'Backward') | Should -HaveCount 3
        $t[2].Shape | Should -Be @(384)
        $t[0].Config['reset_after'] | Should -BeFalse
        $t[0].Config['merge_mode'] | Should -Be 'concat'
    }

    It 'reads a Keras 3 .keras archive' {
        $t = Get-LstmWeights (Join-Path $Fixtures 'keras3-martinpiz097-lstm-gru/gru_model.keras') -Layer gru
        $t.Role | Should -Be @('Kernel', 'RecurrentKernel', 'Bias')
        $t[2].Shape | Should -Be @(2, 384)
        $t[0].Config['reset_after'] | Should -BeTrue
    }

    It 'warns once when settings are inferred' {
        $null = Get-LstmWeights (Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_weights.h5') -WarningVariable w -WarningAction SilentlyContinue
        $w | Should -HaveCount 1
    }
}
