#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# TensorFlow checkpoints through the cmdlets in real pwsh: the example TF1 tutorial checkpoint
# (examples/tf1_tutorial, written by examples/make_tf1_tutorial.py from the tensor bundle format).
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
    $script:Tutorial = Join-Path $RepoRoot 'examples/tf1_tutorial'
    $script:Writer = Join-Path $RepoRoot 'examples/make_tf1_tutorial.py'
}

Describe 'Get-LstmWeights on a TF1 tutorial checkpoint' {
    It 'reads the dense scopes and the MultiRNNCell of BasicLSTMCells, and nothing of the training state' {
        $t = Get-LstmWeights $Tutorial -WarningVariable warnings
        $warnings | Should -BeNullOrEmpty
        $t | Should -HaveCount 8
        $t.Layer | Select-Object -Unique | Should -Be @('in_hidden', 'LSTM_cell/rnn/multi_rnn_cell/cell_0', 'LSTM_cell/rnn/multi_rnn_cell/cell_1', 'out_hidden')
        ($t | Where-Object Layer -EQ 'in_hidden').LayerType | Should -Be @('Dense', 'Dense')
        ($t | Where-Object Layer -EQ 'in_hidden').Role | Should -Be @('Kernel', 'Bias')
        ($t | Where-Object Name -EQ 'in_hidden/weights').Shape | Should -Be @(3, 36)
        $k0 = $t | Where-Object Name -EQ 'LSTM_cell/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel'
        $k0.LayerType | Should -Be 'LSTM'
        $k0.Role | Should -Be 'FusedKernel'
        $k0.GateOrder | Should -Be 'IJFO'
        $k0.Units | Should -Be 16
        $k0.InputSize | Should -Be 36
        $t.Name | Should -Not -Match 'Adam|_power|global_step'
    }

    It 'says in one verbose line what training state it left out' {
        $verbose = Get-LstmWeights $Tutorial -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose | Should -HaveCount 1
        $verbose.Message | Should -BeLike '*: left out 19 variables that hold training state, not weights: 16 optimizer slots (Adam, Adam_1); 2 optimizer variables (beta1_power, beta2_power); 1 step counter (global_step)'
    }

    It 'converts to nn.Linear and one nn.LSTM, which compute what the TF1 layers compute' {
        $tf1 = Get-LstmWeights $Tutorial
        $torch = $tf1 | ConvertTo-TorchLayout -StackAs rnn
        $torch.Name | Should -Be @('in_hidden.weight', 'in_hidden.bias',
            'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0',
            'rnn.weight_ih_l1', 'rnn.weight_hh_l1', 'rnn.bias_ih_l1', 'rnn.bias_hh_l1', 'out_hidden.weight', 'out_hidden.bias')
        ($torch | Where-Object Name -EQ 'in_hidden.weight').Shape | Should -Be @(36, 3)
        $results = Test-LstmEquivalence $tf1 $torch
        $results | Should -HaveCount 4
        $results | ForEach-Object { $_.Passed | Should -BeTrue; $_.MaxAbsError | Should -BeLessThan 1e-5 }
        $keras = Test-LstmEquivalence $tf1 ($tf1 | ConvertTo-KerasLayout)
        $keras | Should -HaveCount 4
        $keras.Passed | Should -Not -Contain $false
    }

    It 'writes a .pth that real PyTorch loads strictly into nn.Linear, nn.LSTM(num_layers=2), nn.Linear' -Skip:([bool](Get-PythonProblem)) {
        $pth = Join-Path $TestDrive 'tutorial.pth'
        Get-LstmWeights $Tutorial | ConvertTo-TorchLayout -StackAs rnn | Export-LstmWeights $pth
        $r = Invoke-TestPython -Arguments $pth -Script @'
import json, sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
def part(p): return {k[len(p) + 1:]: v for k, v in sd.items() if k.startswith(p + ".")}
torch.nn.Linear(3, 36).load_state_dict(part("in_hidden"), strict=True)
torch.nn.LSTM(36, 16, num_layers=2, batch_first=True).load_state_dict(part("rnn"), strict=True)
torch.nn.Linear(16, 1).load_state_dict(part("out_hidden"), strict=True)
print(json.dumps({"keys": len(sd)}))
'@
        $r.keys | Should -Be 12
    }
}

Describe 'Get-LstmWeights on a TF1 checkpoint with a broken scope' -Skip:([bool](Get-PythonProblem -Modules numpy)) {
    BeforeAll {
        $script:Broken = Join-Path $TestDrive 'broken'
        & $PythonInterpreter $Writer $Broken --broken | Out-Null
    }

    It 'writes one non-terminating error naming the scope and still emits every other layer' {
        $t = Get-LstmWeights $Broken -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'LayerShapeMismatch,*'
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $errors[0].Exception.Message | Should -BeLike "TF1 cell LSTM_cell/rnn/multi_rnn_cell/cell_1/basic_lstm_cell: *is ``[32,62``]; an LSTM cell's kernel is ``[input + units, 4*units``]*"
        $t.Layer | Select-Object -Unique | Should -Be @('in_hidden', 'LSTM_cell/rnn/multi_rnn_cell/cell_0', 'out_hidden')
    }

    It 'lets the script go on: the rest converts' {
        $torch = Get-LstmWeights $Broken -ErrorAction SilentlyContinue | ConvertTo-TorchLayout
        $torch | Should -HaveCount 8
        $? | Should -BeTrue
    }
}
