#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'ConvertTo-KerasLayout' {
    BeforeAll {
        $torch = New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')
        $source = Get-LstmWeights $torch.FullName
        $gru = Get-LstmWeights (New-TestTorchGru (Join-Path $TestDrive 'gru.safetensors')).FullName
        function Get-Named([object[]] $Tensors, [string] $Name) { $Tensors | Where-Object Name -EQ $Name }
    }

    It 'gives one Keras layer per depth with tf.keras 2.x names' {
        $k = $source | ConvertTo-KerasLayout
        $k.Name | Should -Be @(
            'lstm/lstm_cell/kernel:0', 'lstm/lstm_cell/recurrent_kernel:0', 'lstm/lstm_cell/bias:0',
            'lstm_1/lstm_cell/kernel:0', 'lstm_1/lstm_cell/recurrent_kernel:0', 'lstm_1/lstm_cell/bias:0',
            'head/kernel:0', 'head/bias:0')
        $k[0].Layout | Should -Be 'Keras'
        $k[0].GateOrder | Should -Be 'IFCO'
        $k[0].Shape | Should -Be @(3, 16)
        $k[0].Config.recurrent_activation | Should -Be 'sigmoid'
    }

    Context 'values' {
        It 'puts weight_ih, transposed, into the kernel (PyTorch i,f,g,o is Keras i,f,c,o)' {
            $k = $source | ConvertTo-KerasLayout
            Get-MaxAbsDifference (Get-Named $k 'lstm/lstm_cell/kernel:0').ToArray() (Get-Named $source 'lstm.weight_ih_l0').Transpose().ToArray() | Should -Be 0
            Get-MaxAbsDifference (Get-Named $k 'lstm_1/lstm_cell/recurrent_kernel:0').ToArray() (Get-Named $source 'lstm.weight_hh_l1').Transpose().ToArray() | Should -Be 0
        }

        It 'sums the two PyTorch biases' {
            $k = $source | ConvertTo-KerasLayout
            $a = ($source | Where-Object Name -EQ 'lstm.bias_ih_l1').ToArray()
            $b = ($source | Where-Object Name -EQ 'lstm.bias_hh_l1').ToArray()
            $sum = [float[]]@(for ($i = 0; $i -lt 16; $i++) { $a[$i] + $b[$i] })
            ($k | Where-Object Name -EQ 'lstm_1/lstm_cell/bias:0').ToArray() | Should -Be $sum
        }

        It 'transposes the Linear weight into a Dense kernel' {
            $k = $source | ConvertTo-KerasLayout
            $kernel = $k | Where-Object Name -EQ 'head/kernel:0'
            $kernel.Shape | Should -Be @(4, 2)
            Get-MaxAbsDifference $kernel.ToArray() ($source | Where-Object Name -EQ 'head.weight').Transpose().ToArray() | Should -Be 0
        }

        It 'reorders GRU gates r,z,n into z,r,h and keeps both biases as a [2,3h] bias (reset_after=True)' {
            $k = $gru | ConvertTo-KerasLayout
            $k.Name | Should -Be @('gru/gru_cell/kernel:0', 'gru/gru_cell/recurrent_kernel:0', 'gru/gru_cell/bias:0')
            $k[0].GateOrder | Should -Be 'ZRH'
            $k[0].Config.reset_after | Should -BeTrue
            # weight_ih is 1..18 as rows r r z z n n of 3: the kernel [3,6] has columns z z r r h h.
            $k[0].Shape | Should -Be @(3, 6)
            $k[0].ToArray() | Should -Be @(7, 10, 1, 4, 13, 16, 8, 11, 2, 5, 14, 17, 9, 12, 3, 6, 15, 18)
            # Undoing it (transpose, Keras z,r,h back to r,z,n) gives weight_hh again.
            Get-MaxAbsDifference (ConvertTo-TestTorchMatrix $k[1].ToArray() -Rows 2 -Units 2 -GateOrder 1, 0, 2) (1..12) | Should -Be 0
            $k[2].Shape | Should -Be @(2, 6)
            $k[2].ToArray() | Should -Be @(3, 4, 1, 2, 5, 6, 13, 14, 11, 12, 15, 16)
        }

        It 'makes the _reverse tensors the backward half of a Bidirectional layer' {
            $bi = New-TestSafetensors (Join-Path $TestDrive 'bi.safetensors') ([ordered]@{
                    'enc.weight_ih_l0'         = @(@(16, 3), (Get-TestValues 48 1)); 'enc.weight_hh_l0' = @(@(16, 4), (Get-TestValues 64 2))
                    'enc.bias_ih_l0'           = @(@(16), (Get-TestValues 16 3)); 'enc.bias_hh_l0' = @(@(16), (Get-TestValues 16 4))
                    'enc.weight_ih_l0_reverse' = @(@(16, 3), (Get-TestValues 48 5)); 'enc.weight_hh_l0_reverse' = @(@(16, 4), (Get-TestValues 64 6))
                    'enc.bias_ih_l0_reverse'   = @(@(16), (Get-TestValues 16 7)); 'enc.bias_hh_l0_reverse' = @(@(16), (Get-TestValues 16 8))
                })
            $t = Get-LstmWeights $bi.FullName
            $k = $t | ConvertTo-KerasLayout
            $k.Name | Should -Be @(
                'enc/forward_lstm/lstm_cell/kernel:0', 'enc/forward_lstm/lstm_cell/recurrent_kernel:0', 'enc/forward_lstm/lstm_cell/bias:0',
                'enc/backward_lstm/lstm_cell/kernel:0', 'enc/backward_lstm/lstm_cell/recurrent_kernel:0', 'enc/backward_lstm/lstm_cell/bias:0')
            $k.Direction | Should -Be @('Forward', 'Forward', 'Forward', 'Backward', 'Backward', 'Backward')
            $k[0].Config.merge_mode | Should -Be 'concat'
            Get-MaxAbsDifference $k[3].ToArray() (Get-Named $t 'enc.weight_ih_l0_reverse').Transpose().ToArray() | Should -Be 0
            (Test-LstmEquivalence $t $k).Passed | Should -Be @($true, $true)
        }
    }

    Context 'pipeline input' {
        It 'takes the tensors by value, through -InputObject, or by position' {
            $piped = $source | ConvertTo-KerasLayout
            (ConvertTo-KerasLayout -InputObject $source).Name | Should -Be $piped.Name
            (ConvertTo-KerasLayout $source).Name | Should -Be $piped.Name
        }

        It 'round-trips through ConvertTo-TorchLayout -StackAs to the same state_dict' {
            $back = $source | ConvertTo-KerasLayout | ConvertTo-TorchLayout -StackAs lstm | Merge-LstmBias
            $merged = $source | Merge-LstmBias
            $back.Name | Should -Be $merged.Name
            for ($i = 0; $i -lt $back.Count; $i++) { Get-MaxAbsDifference $back[$i].ToArray() $merged[$i].ToArray() | Should -BeLessThan 1e-6 }
        }
    }

    Context 'errors' {
        BeforeAll {
            # An LSTM with proj_size (weight_hr): Keras has no such layer.
            $proj = New-TestSafetensors (Join-Path $TestDrive 'proj.safetensors') ([ordered]@{
                    'lstm.weight_ih_l0' = @(@(16, 3), (1..48)); 'lstm.weight_hh_l0' = @(@(16, 2), (1..32))
                    'lstm.bias_ih_l0' = @(@(16), (1..16)); 'lstm.bias_hh_l0' = @(@(16), (1..16))
                    'lstm.weight_hr_l0' = @(@(2, 4), (1..8)); 'head.weight' = @(@(1, 2), (1..2))
                })
        }

        It 'refuses a layer with no Keras equivalent (NotKerasPortable) and converts the others' {
            $k = Get-LstmWeights $proj.FullName | ConvertTo-KerasLayout -ErrorVariable err -ErrorAction SilentlyContinue
            $ok = $?
            $ok | Should -BeFalse
            $k.Name | Should -Be 'head/kernel:0'
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -Be 'NotKerasPortable,LstmPort.PowerShell.Commands.ConvertToKerasLayoutCommand'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $err[0].TargetObject | Should -Be 'lstm'
            $err[0].Exception.Message | Should -BeLike '*proj_size*'
        }

        It 'stops with NotKerasPortable under -ErrorAction Stop' {
            { Get-LstmWeights $proj.FullName | ConvertTo-KerasLayout -ErrorAction Stop } | Should -Throw -ErrorId 'NotKerasPortable,*'
        }
    }

    It 'leaves out a tensor with no Keras equivalent, with a warning naming it' {
        $other = Get-LstmWeights (New-TestSafetensors (Join-Path $TestDrive 'other.safetensors') ([ordered]@{
                    'head.weight' = @(@(1, 2), (1..2)); 'step_count' = @(@(1), @(3))
                })).FullName
        $other[1].LayerType | Should -Be 'Other'
        $k = $other | ConvertTo-KerasLayout -WarningVariable warn -WarningAction SilentlyContinue -ErrorVariable err
        $k.Name | Should -Be 'head/kernel:0'
        $warn | Should -HaveCount 1
        $warn[0].Message | Should -BeLike 'step_count: not converted*'
        $err | Should -BeNullOrEmpty
    }

    It 'writes what it did with -Verbose' {
        $verbose = $gru | ConvertTo-KerasLayout -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Be 'gru → gru: transposed, gates RZN→ZRH, bias_ih, bias_hh → bias [2,3h] (reset_after=True)'
    }

    It 'computes what the PyTorch weights compute' {
        $result = Test-LstmEquivalence $source ($source | ConvertTo-KerasLayout)
        $result | Should -HaveCount 3
        $result.Passed | Should -Be @($true, $true, $true)
        (Test-LstmEquivalence $gru ($gru | ConvertTo-KerasLayout)).Passed | Should -Be @($true)
    }

    It 'has full help' {
        $help = Get-Help ConvertTo-KerasLayout -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'InputObject'
    }
}

Describe 'ConvertTo-KerasLayout on real model files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    It 'turns CuDNNLSTM weights into plain LSTM weights' {
        $k = Get-LstmWeights "$Fixtures/textgenrnn-cudnnlstm-weights/textgenrnn_weights_keras215_cudnn.hdf5" -Layer rnn_1 -WarningAction SilentlyContinue | ConvertTo-KerasLayout
        ($k | Where-Object Role -EQ 'Bias').Shape | Should -Be @(512)
        $k[0].Config.ContainsKey('cudnn') | Should -BeFalse
    }

    It 'sums the two halves of the CuDNN bias' {
        $cudnn = Get-LstmWeights "$Fixtures/textgenrnn-cudnnlstm-weights/textgenrnn_weights_keras215_cudnn.hdf5" -Layer rnn_1 -WarningAction SilentlyContinue
        $bias = ($cudnn | Where-Object Role -EQ 'Bias').ToArray()
        $bias | Should -HaveCount 1024
        $sum = [float[]]@(for ($i = 0; $i -lt 512; $i++) { $bias[$i] + $bias[512 + $i] })
        $k = $cudnn | ConvertTo-KerasLayout
        Get-MaxAbsDifference ($k | Where-Object Role -EQ 'Bias').ToArray() $sum | Should -BeLessThan 1e-6
        $result = Test-LstmEquivalence $cudnn $k
        $result | Should -HaveCount 1
        $result.Passed | Should -BeTrue
    }

    It 'takes a PyTorch checkpoint to Keras with values that compute the same' {
        $t = Get-LstmWeights "$Fixtures/chrisprasanna-torch-zip-stacked-lstm/lstm.pt"
        $k = $t | ConvertTo-KerasLayout
        ($k | Where-Object LayerType -EQ 'LSTM').Layer | Select-Object -Unique | Should -HaveCount 2
        $result = Test-LstmEquivalence $t $k
        $result | Should -Not -BeNullOrEmpty
        $result.Passed | Should -Not -Contain $false
    }
}
