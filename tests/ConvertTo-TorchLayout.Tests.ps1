#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'ConvertTo-TorchLayout' {
    BeforeAll {
        $torch = New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')
        $source = Get-LstmWeights $torch.FullName
        $keras = $source | ConvertTo-KerasLayout
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

    It 'merges the layers into one multi-layer module with -StackAs, values unchanged' {
        $t = $keras | ConvertTo-TorchLayout -StackAs lstm
        $t.Name | Should -Contain 'lstm.weight_hh_l1'
        $back = $t | Where-Object Name -EQ 'lstm.weight_ih_l1'
        $orig = $source | Where-Object Name -EQ 'lstm.weight_ih_l1'
        $back.Tensor.equal($orig.Tensor).all().item[bool]() | Should -BeTrue
    }

    It 'keeps the sum of the biases' {
        $t = $keras | ConvertTo-TorchLayout -StackAs lstm
        $ih = ($t | Where-Object Name -EQ 'lstm.bias_ih_l0').Tensor
        $sum = ($source | Where-Object Name -EQ 'lstm.bias_ih_l0').Tensor.add(($source | Where-Object Name -EQ 'lstm.bias_hh_l0').Tensor)
        $ih.allclose($sum, 1e-6, 1e-6) | Should -BeTrue
    }

    It 'names cell modules with -AsCell' {
        ($keras | ConvertTo-TorchLayout -AsCell).Name | Should -Contain 'lstm_1.weight_ih'
    }

    It 'says why layers cannot be stacked' {
        # lstm (input 3) after lstm_1 (output 4): sizes do not chain in that order.
        $reversed = @($keras | Where-Object Layer -EQ 'lstm_1') + @($keras | Where-Object Layer -EQ 'lstm')
        # The whole call stops (a statement-terminating error): no half-stacked output.
        { $reversed | ConvertTo-TorchLayout -StackAs rnn } |
            Should -Throw -ErrorId 'CannotStack' -ExpectedMessage '*lstm takes 3 inputs but lstm_1 gives 4*'
    }

    It 'refuses a hard_sigmoid layer with its reason and converts it under -Force' -Skip:(-not (Test-Path "$Fixtures/dl4j-keras2-simple-lstm")) {
        $file = "$Fixtures/dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_model.h5"
        $out = Get-LstmWeights $file | ConvertTo-TorchLayout -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NotTorchPortable*'
        $err[0].Exception.Message | Should -Match 'hard_sigmoid recurrent activation'
        $out.Name | Should -Be @('dense_1.weight', 'dense_1.bias')
        $forced = Get-LstmWeights $file | ConvertTo-TorchLayout -Force -WarningVariable warn -WarningAction SilentlyContinue
        $forced | Should -HaveCount 6
        $warn | Should -Not -BeNullOrEmpty
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
}
