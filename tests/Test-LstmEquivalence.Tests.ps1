#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')

    # Deterministic weights in [-0.4, 0.4], made in plain PowerShell.
    function Get-TestValues([int] $Count, [int] $Seed) {
        , [float[]]@(for ($i = 0; $i -lt $Count; $i++) { [Math]::Sin($Seed * 1000 + $i * 1.7) * 0.4 })
    }
}

Describe 'Test-LstmEquivalence' {
    BeforeAll {
        # A PyTorch LSTM (input 5, hidden 8) and a copy whose bias_hh doubles bias_ih (a classic bias mistake).
        $ih = Get-TestValues 160 1; $hh = Get-TestValues 256 2; $bias = Get-TestValues 32 3
        $good = New-TestSafetensors (Join-Path $TestDrive 'good.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(32, 5), $ih); 'lstm.weight_hh_l0' = @(@(32, 8), $hh)
                'lstm.bias_ih_l0' = @(@(32), $bias); 'lstm.bias_hh_l0' = @(@(32), [float[]]::new(32))
            })
        $same = New-TestSafetensors (Join-Path $TestDrive 'same.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(32, 5), $ih); 'lstm.weight_hh_l0' = @(@(32, 8), $hh)
                'lstm.bias_ih_l0' = @(@(32), (Get-TestValues 32 3 | ForEach-Object { $_ / 2 }))
                'lstm.bias_hh_l0' = @(@(32), (Get-TestValues 32 3 | ForEach-Object { $_ / 2 }))
            })
        $twice = New-TestSafetensors (Join-Path $TestDrive 'twice.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(32, 5), $ih); 'lstm.weight_hh_l0' = @(@(32, 8), $hh)
                'lstm.bias_ih_l0' = @(@(32), $bias); 'lstm.bias_hh_l0' = @(@(32), $bias)
            })
        $extra = New-TestSafetensors (Join-Path $TestDrive 'extra.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(32, 5), $ih); 'lstm.weight_hh_l0' = @(@(32, 8), $hh)
                'lstm.bias_ih_l0' = @(@(32), $bias); 'lstm.bias_hh_l0' = @(@(32), [float[]]::new(32))
                'head.weight' = @(@(1, 8), (Get-TestValues 8 4)); 'head.bias' = @(@(1), @(0.5))
            })
        $reference = Get-LstmWeights $good.FullName
    }

    It 'passes weights that compute the same thing (the bias split differently)' {
        $r = Test-LstmEquivalence $reference (Get-LstmWeights $same.FullName) -SequenceLength 100 -BatchSize 3
        $r | Should -HaveCount 1
        $r[0] | Should -BeOfType LstmPort.Verification.EquivalenceResult
        $r[0].Passed | Should -BeTrue
        $r[0].MaxAbsError | Should -BeLessThan 1e-5
        $r[0].Compared | Should -Be @('Output[100,3,8]', 'FinalH[3,8]', 'FinalC[3,8]')
    }

    It 'takes the difference set from the pipeline' {
        (Get-LstmWeights $same.FullName | Test-LstmEquivalence -ReferenceObject $reference).Passed | Should -BeTrue
    }

    It 'fails a wrong bias, writes LayerNotEquivalent and sets $? to false' {
        $r = Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -ErrorVariable err -ErrorAction SilentlyContinue
        $ok = $?
        $ok | Should -BeFalse
        $r.Status | Should -Be 'Failed'
        $r.MaxAbsError | Should -BeGreaterThan 1e-3
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'LayerNotEquivalent*'
    }

    It 'stops with NotEquivalent under -Strict' {
        { Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -Strict } | Should -Throw -ErrorId 'NotEquivalent*'
    }

    It 'reports a layer present on one side only as Unmatched' {
        $r = Test-LstmEquivalence $reference (Get-LstmWeights $extra.FullName) -ErrorAction SilentlyContinue
        $r | Should -HaveCount 2
        $r[1].Status | Should -Be 'Unmatched'
        $r[1].Layer | Should -Be 'head'
    }

    It 'renders an 80-column table' {
        $text = Test-LstmEquivalence $reference (Get-LstmWeights $same.FullName) | Format-Table | Out-String -Width 80
        $text | Should -Match 'Layer\s+Type\s+Dir\s+AbsError\s+RelError\s+Status\s+Note'
        $text | Should -Match 'lstm\s+LSTM\s+Fwd\s+\S+\s+\S+\s+Passed\s+seq,h,c'
    }

    It 'has full help' {
        $help = Get-Help Test-LstmEquivalence -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'Strict'
    }
}
