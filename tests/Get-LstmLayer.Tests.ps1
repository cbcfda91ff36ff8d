#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'Get-LstmLayer' {
    BeforeAll {
        $torch = New-TestSafetensors (Join-Path $TestDrive 'lstm.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(16, 3), (1..48))
                'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
                'lstm.bias_ih_l0'   = @(@(16), (1..16))
                'lstm.bias_hh_l0'   = @(@(16), (1..16))
            })
        $stacked = New-TestTorchLstm (Join-Path $TestDrive 'stacked.safetensors')
    }

    It 'summarises a PyTorch LSTM as portable' {
        $l = Get-LstmLayer $torch.FullName
        $l | Should -HaveCount 1
        $l | Should -BeOfType LstmPort.LstmLayer
        $l.Layer | Should -Be 'lstm'
        $l.LayerType | Should -Be 'LSTM'
        $l.Units | Should -Be 4
        $l.InputSize | Should -Be 3
        $l.Parameters | Should -Be (48 + 64 + 16 + 16)
        $l.Layout | Should -Be 'Torch'
        $l.Bidirectional | Should -BeFalse
        $l.TorchPortable | Should -BeTrue
        $l.Reason | Should -BeNullOrEmpty
        $l.Source | Should -Be $torch.FullName
    }

    It 'counts the depths and parameters of a multi-layer module and its Linear head' {
        $l = Get-LstmLayer $stacked.FullName
        $l.Layer | Should -Be @('lstm', 'head')
        $l.LayerType | Should -Be @('LSTM', 'Dense')
        $l[0].Depth | Should -Be 2
        # l0: 16x3 + 16x4 + 2x16, l1: 16x4 + 16x4 + 2x16
        $l[0].Parameters | Should -Be (144 + 160)
        $l[1].Parameters | Should -Be 10
        $l[0].Tensors | Should -HaveCount 8
        $l[0].Tensors[0] | Should -BeOfType LstmPort.LstmTensor
    }

    It 'selects layers with -Layer wildcards' {
        (Get-LstmLayer $stacked.FullName -Layer H*).Layer | Should -Be 'head'
        Get-LstmLayer $stacked.FullName -Layer none | Should -BeNullOrEmpty
    }

    Context 'pipeline input' {
        It 'summarises tensors from Get-LstmWeights, one layer per file and layer' {
            $l = Get-LstmWeights $torch.FullName, $stacked.FullName | Get-LstmLayer
            $l.Layer | Should -Be @('lstm', 'lstm', 'head')
            $l.Source | Should -Be @($torch.FullName, $stacked.FullName, $stacked.FullName)
            $l[1].Depth | Should -Be 2
        }

        It 'selects piped layers with -Layer' {
            # Used to bind each tensor's text as a -Path wildcard and emit nothing, without an error.
            $l = Get-LstmWeights $stacked.FullName | Get-LstmLayer -Layer h* -ErrorVariable err
            $l.Layer | Should -Be 'head'
            $l.Parameters | Should -Be 10
            $err | Should -BeNullOrEmpty
            (Get-LstmLayer -InputObject (Get-LstmWeights $stacked.FullName) -Layer lstm).Depth | Should -Be 2
        }

        It 'takes tensors through -InputObject as well' {
            (Get-LstmLayer -InputObject (Get-LstmWeights $stacked.FullName)).Layer | Should -Be @('lstm', 'head')
        }

        It 'takes Get-Item and Get-ChildItem output (PSPath) by property name' {
            (Get-Item -LiteralPath $torch.FullName | Get-LstmLayer).Layer | Should -Be 'lstm'
            (Get-ChildItem $TestDrive -Filter *.safetensors | Get-LstmLayer).Source | Select-Object -Unique |
                Should -Be @($torch.FullName, $stacked.FullName) -Because 'Get-ChildItem lists lstm before stacked'
        }

        It 'takes path strings by value and LiteralPath by property name' {
            ($torch.FullName | Get-LstmLayer).Layer | Should -Be 'lstm'
            ([pscustomobject]@{ LiteralPath = $stacked.FullName } | Get-LstmLayer -Layer lstm).Depth | Should -Be 2
        }
    }

    It 'renders the table view in 80 columns' {
        $text = Get-LstmLayer $torch.FullName | Format-Table | Out-String -Width 80
        $text | Should -Match '(?m)^\s+Source: '
        $text | Should -Match '(?m)^Layer\s+Type\s+Units\s+Input\s+BiDi\s+Params\s+Torch'
        $text | Should -Match '(?m)^lstm\s+LSTM\s+4\s+3\s+no\s+144\s+yes'
    }

    Context 'errors' {
        It 'reports a missing file and still reads the next path' {
            $out = Get-LstmLayer (Join-Path $TestDrive 'nope.h5'), $torch.FullName -ErrorVariable err -ErrorAction SilentlyContinue
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'FileNotFound*'
            $out | Should -HaveCount 1
        }

        It 'gives FileNotFound its category and the path as target, and throws it with -ErrorAction Stop' {
            $missing = Join-Path $TestDrive 'nope.h5'
            Get-LstmLayer $missing -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'FileNotFound,LstmPort.PowerShell.Commands.GetLstmLayerCommand'
            $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err[0].TargetObject | Should -Be $missing
            { Get-LstmLayer $missing -ErrorAction Stop } | Should -Throw -ErrorId 'FileNotFound,*'
        }

        It 'reports a file that is not a weight file as UnknownFormat' {
            $junk = Join-Path $TestDrive 'junk.bin'
            [IO.File]::WriteAllBytes($junk, [byte[]](1..200))
            Get-LstmLayer -LiteralPath $junk -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'UnknownFormat,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $err[0].TargetObject | Should -Be $junk
        }

    }

    It 'has full help' {
        $help = Get-Help Get-LstmLayer -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'InputObject'
    }
}

Describe 'Get-LstmLayer on real model files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    BeforeAll {
        $medaka = Join-Path $Fixtures 'medaka-keras215-bigru/medaka_model.hdf5'
        $keras3 = Join-Path $Fixtures 'keras3-martinpiz097-lstm-gru/lstm_model.keras'
    }

    It 'says why a Keras bidirectional GRU is not portable' {
        $l = Get-LstmLayer $medaka
        $l.Layer | Should -Be @('bidirectional_1', 'bidirectional_2', 'classify')
        $l[0].Bidirectional | Should -BeTrue
        $l[0].TorchPortable | Should -BeFalse
        $l[0].Reason | Should -Match 'hard_sigmoid recurrent activation'
        $l[0].Reason | Should -Match 'GRU reset_after=False'
        $l[2].TorchPortable | Should -BeTrue
    }

    It 'summarises tensors from the pipeline' {
        $l = Get-LstmWeights $keras3 | Get-LstmLayer
        $l.Layer | Should -Be @('lstm', 'dense_1')
        $l[0].Parameters | Should -Be 66560
        $l[0].TorchPortable | Should -BeTrue
    }

    It 'summarises the files Get-ChildItem finds' {
        $l = Get-ChildItem (Join-Path $Fixtures 'keras3-martinpiz097-lstm-gru') -Filter *.keras | Get-LstmLayer
        ($l | Where-Object LayerType -In 'LSTM', 'GRU').LayerType | Should -Be @('GRU', 'LSTM') -Because 'gru_model.keras comes before lstm_model.keras'
        $l.Source | Select-Object -Unique | Should -HaveCount 2
    }

    It 'reports an HDF5 file without Keras structure as NotKerasFile' {
        $data = Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_inputs_and_outputs.h5'
        Get-LstmLayer $data -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NotKerasFile*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be $data
    }
}
