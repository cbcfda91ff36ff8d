#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')

    # A Keras-layout LSTM (kernel [in,4h], recurrent kernel [h,4h], bias [4h]) built in memory, and its
    # PyTorch form by hand: transposed matrices (i,f,c,o = i,f,g,o), bias into bias_ih, zeros in bias_hh.
    function New-KerasLstm([string] $Layer, [int] $InputSize, [int] $Units, [int] $Seed) {
        [LstmPort.TorchRuntime]::EnsureLoaded()
        $gen = [TorchSharp.torch+Generator]::new([uint64]$Seed)
        $rand = { param([long[]] $shape) ([TorchSharp.torch]::rand($shape, $null, $null, $false, $gen) - 0.5) * 0.8 }
        $k = & $rand @($InputSize, 4 * $Units)
        $u = & $rand @($Units, 4 * $Units)
        $b = & $rand @(4 * $Units)
        $keras = foreach ($pair in @(@('Kernel', $k), @('RecurrentKernel', $u), @('Bias', $b))) {
            [LstmPort.LstmTensor]::FromTensor($pair[1], "$Layer/$($pair[0])", $Layer, 'LSTM', $pair[0], 'Keras', 'Forward', 0, 'IFCO', $Units, $InputSize, $null, $null)
        }
        $torchSet = foreach ($pair in @(@('weight_ih_l0', 'Kernel', $k.t().contiguous()), @('weight_hh_l0', 'RecurrentKernel', $u.t().contiguous()),
                @('bias_ih_l0', 'InputBias', $b), @('bias_hh_l0', 'RecurrentBias', [TorchSharp.torch]::zeros_like($b)))) {
            [LstmPort.LstmTensor]::FromTensor($pair[2], "$Layer.$($pair[0])", $Layer, 'LSTM', $pair[1], 'Torch', 'Forward', 0, 'IFGO', $Units, $InputSize, $null, $null)
        }
        [pscustomobject]@{ Keras = @($keras); Torch = @($torchSet) }
    }
}

Describe 'Test-LstmEquivalence' {
    BeforeAll {
        $m = New-KerasLstm -Layer lstm -InputSize 5 -Units 8 -Seed 3
        # The classic mistake: the Keras bias copied into both PyTorch biases.
        $twice = @($m.Torch[0], $m.Torch[1], $m.Torch[2],
            [LstmPort.LstmTensor]::FromTensor($m.Keras[2].Tensor, 'lstm.bias_hh_l0', 'lstm', 'LSTM', 'RecurrentBias', 'Torch', 'Forward', 0, 'IFGO', 8, 5, $null, $null))
    }

    It 'passes a correct conversion with errors at float32 precision' {
        $r = Test-LstmEquivalence $m.Keras $m.Torch -SequenceLength 100 -BatchSize 3
        $r | Should -HaveCount 1
        $r[0] | Should -BeOfType LstmPort.Verification.EquivalenceResult
        $r[0].Passed | Should -BeTrue
        $r[0].MaxAbsError | Should -BeLessThan 1e-5
        $r[0].Compared | Should -Be @('Output[100,3,8]', 'FinalH[3,8]', 'FinalC[3,8]')
    }

    It 'takes the difference set from the pipeline' {
        ($m.Torch | Test-LstmEquivalence -ReferenceObject $m.Keras).Passed | Should -BeTrue
    }

    It 'fails a wrong conversion, writes LayerNotEquivalent and sets $? to false' {
        $r = Test-LstmEquivalence $m.Keras $twice -ErrorVariable err -ErrorAction SilentlyContinue
        $ok = $?
        $ok | Should -BeFalse
        $r.Status | Should -Be 'Failed'
        $r.MaxAbsError | Should -BeGreaterThan 1e-3
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'LayerNotEquivalent*'
    }

    It 'stops with NotEquivalent under -Strict' {
        { Test-LstmEquivalence $m.Keras $twice -Strict } | Should -Throw -ErrorId 'NotEquivalent*'
    }

    It 'reports a layer present on one side only as Unmatched' {
        $extra = New-KerasLstm -Layer lstm_2 -InputSize 8 -Units 8 -Seed 4
        $r = Test-LstmEquivalence ($m.Keras + $extra.Keras) $m.Torch -ErrorAction SilentlyContinue
        $r | Should -HaveCount 2
        $r[1].Status | Should -Be 'Unmatched'
        $r[1].Layer | Should -Be 'lstm_2'
    }

    It 'renders an 80-column table' {
        $text = Test-LstmEquivalence $m.Keras $m.Torch | Format-Table | Out-String -Width 80
        $text | Should -Match 'Layer\s+Type\s+Dir\s+MaxAbsError\s+MaxRelError\s+Status\s+Note'
        $text | Should -Match 'lstm\s+LSTM\s+Fwd\s+\S+\s+\S+\s+Passed\s+seq,h,c'
    }

    It 'has full help' {
        $help = Get-Help Test-LstmEquivalence -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'Strict'
    }
}
