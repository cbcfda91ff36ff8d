#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'ConvertTo-TorchLayout' {
    BeforeAll {
        $torch = New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')
        $source = Get-LstmWeights $torch.FullName
        $keras = $source | ConvertTo-KerasLayout
        $gruKeras = Get-LstmWeights (New-TestTorchGru (Join-Path $TestDrive 'gru.safetensors')).FullName | ConvertTo-KerasLayout
        function Get-Named([object[]] $Tensors, [string] $Name) { $Tensors | Where-Object Name -EQ $Name }
    }

    It 'turns Keras layers into PyTorch state_dict keys with the Torch layout' {
        $t = $keras | ConvertTo-TorchLayout
        $t[0].Name | Should -Be 'lstm.weight_ih_l0'
        $t[0].Layout | Should -Be 'Torch'
        $t[0].GateOrder | Should -Be 'IFGO'
        $t[0].Shape | Should -Be @(16, 3)
        ($t | Where-Object Name -EQ 'lstm_1.weight_hh_l0') | Should -Not -BeNullOrEmpty
        ($t | Where-Object Name -EQ 'head.weight').Shape | Should -Be @(2, 4)
    }

    Context 'values' {
        It 'puts each Keras kernel, transposed, into weight_ih and weight_hh (LSTM i,f,c,o is PyTorch i,f,g,o)' {
            $t = $keras | ConvertTo-TorchLayout
            $kernel = Get-Named $keras 'lstm_1/lstm_cell/kernel:0'
            $kernel.Shape | Should -Be @(4, 16)
            $expected = ConvertTo-TestTorchMatrix $kernel.ToArray() -Rows 4 -Units 4 -GateOrder 0, 1, 2, 3
            Get-MaxAbsDifference (Get-Named $t 'lstm_1.weight_ih_l0').ToArray() $expected | Should -Be 0
            $recurrent = Get-Named $keras 'lstm/lstm_cell/recurrent_kernel:0'
            $expected = ConvertTo-TestTorchMatrix $recurrent.ToArray() -Rows 4 -Units 4 -GateOrder 0, 1, 2, 3
            Get-MaxAbsDifference (Get-Named $t 'lstm.weight_hh_l0').ToArray() $expected | Should -Be 0
        }

        It 'reorders GRU gates z,r,h into r,z,n and keeps the two halves of a [2,3h] bias apart' {
            $t = $gruKeras | ConvertTo-TorchLayout
            $t.Name | Should -Be @('gru.weight_ih_l0', 'gru.weight_hh_l0', 'gru.bias_ih_l0', 'gru.bias_hh_l0')
            $t[0].GateOrder | Should -Be 'RZN'
            $kernel = Get-Named $gruKeras 'gru/gru_cell/kernel:0'
            $expected = ConvertTo-TestTorchMatrix $kernel.ToArray() -Rows 3 -Units 2 -GateOrder 1, 0, 2
            Get-MaxAbsDifference $t[0].ToArray() $expected | Should -Be 0
            $recurrent = Get-Named $gruKeras 'gru/gru_cell/recurrent_kernel:0'
            Get-MaxAbsDifference $t[1].ToArray() (ConvertTo-TestTorchMatrix $recurrent.ToArray() -Rows 2 -Units 2 -GateOrder 1, 0, 2) | Should -Be 0
            $bias = (Get-Named $gruKeras 'gru/gru_cell/bias:0').ToArray()
            Get-MaxAbsDifference $t[2].ToArray() (Select-TestGates $bias[0..5] -Units 2 -GateOrder 1, 0, 2) | Should -Be 0
            Get-MaxAbsDifference $t[3].ToArray() (Select-TestGates $bias[6..11] -Units 2 -GateOrder 1, 0, 2) | Should -Be 0
            # And so the PyTorch GRU it came from, exactly (see New-TestTorchGru).
            $t[0].ToArray() | Should -Be (1..18)
            $t[3].ToArray() | Should -Be (11..16)
        }

        It 'puts a single Keras bias whole into bias_ih, with zeros in bias_hh' {
            $t = $keras | ConvertTo-TorchLayout
            $bias = (Get-Named $keras 'lstm/lstm_cell/bias:0').ToArray()
            Get-MaxAbsDifference (Get-Named $t 'lstm.bias_ih_l0').ToArray() $bias | Should -Be 0
            (Get-Named $t 'lstm.bias_hh_l0').ToArray() | Should -Be ([float[]]::new(16))
        }

        It 'transposes a Dense kernel into a Linear weight and keeps its bias' {
            $t = $keras | ConvertTo-TorchLayout
            $kernel = Get-Named $keras 'head/kernel:0'
            $weight = Get-Named $t 'head.weight'
            Get-MaxAbsDifference $weight.ToArray() $kernel.Transpose().ToArray() | Should -Be 0
            Get-MaxAbsDifference (Get-Named $t 'head.bias').ToArray() (Get-Named $keras 'head/bias:0').ToArray() | Should -Be 0
        }

        It 'passes Torch-layout tensors through unchanged' {
            $t = $source | ConvertTo-TorchLayout
            $t.Name | Should -Be $source.Name
            for ($i = 0; $i -lt $t.Count; $i++) { Get-MaxAbsDifference $t[$i].ToArray() $source[$i].ToArray() | Should -Be 0 }
        }
    }

    It 'merges the layers into one multi-layer module with -StackAs, values unchanged' {
        $t = $keras | ConvertTo-TorchLayout -StackAs lstm
        $t.Name | Should -Contain 'lstm.weight_hh_l1'
        $back = $t | Where-Object Name -EQ 'lstm.weight_ih_l1'
        $orig = $source | Where-Object Name -EQ 'lstm.weight_ih_l1'
        $back.StackIndex | Should -Be 1
        Get-MaxAbsDifference $back.ToArray() $orig.ToArray() | Should -Be 0
    }

    It 'keeps the sum of the biases' {
        $t = $keras | ConvertTo-TorchLayout -StackAs lstm
        $ih = ($t | Where-Object Name -EQ 'lstm.bias_ih_l0').ToArray()
        $a = ($source | Where-Object Name -EQ 'lstm.bias_ih_l0').ToArray()
        $b = ($source | Where-Object Name -EQ 'lstm.bias_hh_l0').ToArray()
        $sum = for ($i = 0; $i -lt 16; $i++) { $a[$i] + $b[$i] }
        Get-MaxAbsDifference $ih $sum | Should -BeLessThan 1e-6
    }

    It 'names cell modules with -AsCell' {
        $t = $keras | ConvertTo-TorchLayout -AsCell
        $t.Name | Should -Contain 'lstm_1.weight_ih'
        $t.Name | Should -Contain 'lstm.bias_hh'
        $t.Name | Should -Not -Contain 'lstm.weight_ih_l0'
    }

    Context 'pipeline input' {
        It 'takes the tensors by value, through -InputObject, or by position' {
            $piped = $keras | ConvertTo-TorchLayout
            (ConvertTo-TorchLayout -InputObject $keras).Name | Should -Be $piped.Name
            (ConvertTo-TorchLayout $keras).Name | Should -Be $piped.Name
        }

        It 'converts the whole pipeline at its end, whatever order the layers arrive in' {
            $shuffled = @($keras | Where-Object Layer -EQ 'head') + @($keras | Where-Object Layer -NE 'head')
            ($shuffled | ConvertTo-TorchLayout).Name | Should -Contain 'lstm_1.weight_ih_l0'
        }

        It 'gives nothing for no input' {
            @() | ConvertTo-TorchLayout | Should -BeNullOrEmpty
        }

        It 'refuses $null as a parameter binding error' {
            { ConvertTo-TorchLayout -InputObject $null -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        }
    }

    Context 'errors' {
        BeforeAll {
            # lstm (input 3) after lstm_1 (output 4): sizes do not chain in that order.
            $reversed = @($keras | Where-Object Layer -EQ 'lstm_1') + @($keras | Where-Object Layer -EQ 'lstm')
        }

        It 'says why layers cannot be stacked' {
            # The whole call stops (a statement-terminating error): no half-stacked output.
            { $reversed | ConvertTo-TorchLayout -StackAs rnn } |
                Should -Throw -ErrorId 'CannotStack,*' -ExpectedMessage '*lstm takes 3 inputs but lstm_1 gives 4*'
        }

        It 'gives CannotStack its category and the module name as target, and stops even under SilentlyContinue' {
            $caught = $null
            try { $out = $reversed | ConvertTo-TorchLayout -StackAs rnn -ErrorAction SilentlyContinue -ErrorVariable err } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -Be 'CannotStack,LstmPort.PowerShell.Commands.ConvertToTorchLayoutCommand'
            $caught.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $caught.TargetObject | Should -Be 'rnn'
            $out | Should -BeNullOrEmpty
            $err | Should -HaveCount 1
        }

        It 'validates the -StackAs module name' {
            { $keras | ConvertTo-TorchLayout -StackAs 'my-lstm' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        }
    }

    It 'writes what it did with -Verbose' {
        $verbose = $keras | ConvertTo-TorchLayout -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose[0].Message | Should -Match '^lstm → lstm \(l0\): transposed, gates IFCO→IFGO, bias → bias_ih, bias_hh = 0$'
    }

    It 'produces weights that compute what the source computes' {
        $result = Test-LstmEquivalence $keras ($keras | ConvertTo-TorchLayout)
        $result | Should -Not -BeNullOrEmpty
        $result | ForEach-Object { $_.Passed | Should -BeTrue }
    }

    It 'has full help' {
        $help = Get-Help ConvertTo-TorchLayout -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'StackAs'
    }
}

Describe 'ConvertTo-TorchLayout on real model files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    It 'refuses a hard_sigmoid layer with its reason and converts it under -Force' {
        $file = "$Fixtures/dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_model.h5"
        $out = Get-LstmWeights $file | ConvertTo-TorchLayout -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NotTorchPortable*'
        $err[0].Exception.Message | Should -Match 'hard_sigmoid recurrent activation'
        $out.Name | Should -Be @('dense_1.weight', 'dense_1.bias')
        $forced = Get-LstmWeights $file | ConvertTo-TorchLayout -Force -WarningVariable warn -WarningAction SilentlyContinue
        $forced | Should -HaveCount 6
        $warn | Should -Not -BeNullOrEmpty
    }

    It 'reports NotTorchPortable per layer: InvalidData, the layer as target, a terminating error under -ErrorAction Stop' {
        $file = "$Fixtures/dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_model.h5"
        $t = Get-LstmWeights $file -WarningAction SilentlyContinue
        $null = $t | ConvertTo-TorchLayout -ErrorVariable err -ErrorAction SilentlyContinue
        $ok = $?
        $ok | Should -BeFalse
        $err | Should -HaveCount 1
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].TargetObject | Should -Be 'lstm_1'
        { $t | ConvertTo-TorchLayout -ErrorAction Stop } | Should -Throw -ErrorId 'NotTorchPortable,*'
    }

    It 'reorders the gates of a real Keras 3 GRU (reset_after=True) and splits its [2,3h] bias' {
        $keras = Get-LstmWeights "$Fixtures/keras3-martinpiz097-lstm-gru/gru_model.keras" -Layer gru
        $t = $keras | ConvertTo-TorchLayout
        $t.Name | Should -Be @('gru.weight_ih_l0', 'gru.weight_hh_l0', 'gru.bias_ih_l0', 'gru.bias_hh_l0')
        $t[0].Shape | Should -Be @(384, 1)
        $order = 1, 0, 2
        Get-MaxAbsDifference $t[0].ToArray() (ConvertTo-TestTorchMatrix $keras[0].ToArray() -Rows 1 -Units 128 -GateOrder $order) | Should -Be 0
        Get-MaxAbsDifference $t[1].ToArray() (ConvertTo-TestTorchMatrix $keras[1].ToArray() -Rows 128 -Units 128 -GateOrder $order) | Should -Be 0
        $bias = $keras[2].ToArray()
        Get-MaxAbsDifference $t[2].ToArray() (Select-TestGates $bias[0..383] -Units 128 -GateOrder $order) | Should -Be 0
        Get-MaxAbsDifference $t[3].ToArray() (Select-TestGates $bias[384..767] -Units 128 -GateOrder $order) | Should -Be 0
    }

    It 'splits a TF1 fused kernel, reorders i,j,f,o and folds forget_bias into the forget gate' {
        $file = "$Fixtures/dl4j-tf1-rnn-frozen-graphs/basiclstmcell/static_b1_nIn5_nOut3_ts4_tanh_noIS_fb1_float/frozen_model.pb"
        $tf = Get-LstmWeights $file -Layer rnn
        $kernel = ($tf | Where-Object Role -EQ 'FusedKernel').ToArray()   # [5 + 3, 4*3], rows x then h
        $bias = ($tf | Where-Object Role -EQ 'Bias').ToArray()
        $t = $tf | ConvertTo-TorchLayout -ForgetBias 2.5
        $order = 0, 2, 1, 3   # PyTorch i,f,g,o from TF1 i,j,f,o
        Get-MaxAbsDifference $t[0].ToArray() (ConvertTo-TestTorchMatrix $kernel[0..59] -Rows 5 -Units 3 -GateOrder $order) | Should -Be 0
        Get-MaxAbsDifference $t[1].ToArray() (ConvertTo-TestTorchMatrix $kernel[60..95] -Rows 3 -Units 3 -GateOrder $order) | Should -Be 0
        $expected = Select-TestGates $bias -Units 3 -GateOrder $order
        foreach ($j in 3..5) { $expected[$j] += 2.5 }
        Get-MaxAbsDifference $t[2].ToArray() $expected | Should -BeLessThan 1e-6
        # Without -ForgetBias, the graph's forget_bias (1) is folded in.
        $default = ($tf | ConvertTo-TorchLayout | Where-Object Name -EQ 'rnn.bias_ih_l0').ToArray()
        [Math]::Abs($t[2].ToArray()[3] - $default[3] - 1.5) | Should -BeLessThan 1e-6
    }

    It 'leaves out what has no PyTorch equivalent (a TF1 graph''s input constant) with a warning' {
        $file = "$Fixtures/dl4j-tf1-rnn-frozen-graphs/basiclstmcell/static_b1_nIn5_nOut3_ts4_tanh_noIS_fb1_float/frozen_model.pb"
        $t = Get-LstmWeights $file | ConvertTo-TorchLayout -WarningVariable warn -WarningAction SilentlyContinue
        $t.Name | Should -Be @('rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0')
        $warn | Should -HaveCount 1
        $warn[0].Message | Should -BeLike 'in_0: not converted*'
    }

    It 'converts a real Keras 3 LSTM into weights that compute the same' {
        $keras = Get-LstmWeights "$Fixtures/keras3-martinpiz097-lstm-gru/lstm_model.keras"
        $result = Test-LstmEquivalence $keras ($keras | ConvertTo-TorchLayout)
        $result | Should -HaveCount 2
        $result | ForEach-Object { $_.Passed | Should -BeTrue }
    }
}
