#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'Test-LstmEquivalence' {
    BeforeAll {
        # A PyTorch LSTM (input 5, hidden 8) and a copy whose bias_hh doubles bias_ih (a classic bias mistake).
        $ih = Get-TestValues 160 1; $hh = Get-TestValues 256 2; $bias = Get-TestValues 32 3
        $half = [float[]]@(foreach ($v in $bias) { $v / 2 })
        $good = New-TestSafetensors (Join-Path $TestDrive 'good.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(32, 5), $ih); 'lstm.weight_hh_l0' = @(@(32, 8), $hh)
                'lstm.bias_ih_l0' = @(@(32), $bias); 'lstm.bias_hh_l0' = @(@(32), [float[]]::new(32))
            })
        $same = New-TestSafetensors (Join-Path $TestDrive 'same.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(32, 5), $ih); 'lstm.weight_hh_l0' = @(@(32, 8), $hh)
                'lstm.bias_ih_l0' = @(@(32), $half)
                'lstm.bias_hh_l0' = @(@(32), $half)
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
        $r[0].Status | Should -Be 'Passed'
        $r[0].Layer | Should -Be 'lstm'
        $r[0].LayerType | Should -Be 'LSTM'
        $r[0].Direction | Should -Be 'Forward'
        $r[0].MaxAbsError | Should -BeLessThan 1e-5
        $r[0].Compared | Should -Be @('Output[100,3,8]', 'FinalH[3,8]', 'FinalC[3,8]')
        $r[0].SequenceLength | Should -Be 100
        $r[0].BatchSize | Should -Be 3
    }

    Context 'pipeline input' {
        It 'takes the difference set from the pipeline' {
            (Get-LstmWeights $same.FullName | Test-LstmEquivalence -ReferenceObject $reference).Passed | Should -BeTrue
        }

        It 'takes both sets by name or by position' {
            $difference = Get-LstmWeights $same.FullName
            (Test-LstmEquivalence -ReferenceObject $reference -DifferenceObject $difference).Passed | Should -BeTrue
            (Test-LstmEquivalence $reference $difference).Passed | Should -BeTrue
        }

        It 'takes the whole output of a conversion pipeline as the difference set' {
            $r = $reference | ConvertTo-KerasLayout | ConvertTo-TorchLayout | Split-LstmBias | Test-LstmEquivalence $reference
            $r.Passed | Should -BeTrue
            $r.DifferenceLayout | Should -Be 'Torch'
        }
    }

    Context 'parameters' {
        It 'uses the -Seed given: the same seed gives the same errors' {
            $difference = Get-LstmWeights $twice.FullName
            $a = Test-LstmEquivalence $reference $difference -Seed 7 -ErrorAction SilentlyContinue
            $b = Test-LstmEquivalence $reference $difference -Seed 7 -ErrorAction SilentlyContinue
            $c = Test-LstmEquivalence $reference $difference -Seed 8 -ErrorAction SilentlyContinue
            $a.Seed | Should -Be 7
            $b.MaxAbsError | Should -Be $a.MaxAbsError
            $c.MaxAbsError | Should -Not -Be $a.MaxAbsError
        }

        It 'passes a difference within -Tolerance' {
            $r = Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -Tolerance 10 -ErrorVariable err
            $r.Passed | Should -BeTrue
            $r.Tolerance | Should -Be 10
            $err | Should -BeNullOrEmpty
        }

        It 'validates -SequenceLength, -BatchSize and -Tolerance' {
            { Test-LstmEquivalence $reference $reference -SequenceLength 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
            { Test-LstmEquivalence $reference $reference -BatchSize 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
            { Test-LstmEquivalence $reference $reference -Tolerance -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        }
    }

    Context 'errors' {
        It 'fails a wrong bias, writes LayerNotEquivalent and sets $? to false' {
            $r = Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -ErrorVariable err -ErrorAction SilentlyContinue
            $ok = $?
            $ok | Should -BeFalse
            $r.Status | Should -Be 'Failed'
            $r.MaxAbsError | Should -BeGreaterThan 1e-3
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'LayerNotEquivalent*'
        }

        It 'gives LayerNotEquivalent the InvalidResult category and the result as target' {
            $r = Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'LayerNotEquivalent,LstmPort.PowerShell.Commands.TestLstmEquivalenceCommand'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidResult'
            $err[0].TargetObject | Should -BeOfType LstmPort.Verification.EquivalenceResult
            $err[0].TargetObject.Layer | Should -Be 'lstm'
            $err[0].TargetObject.MaxAbsError | Should -Be $r.MaxAbsError
            $err[0].Exception.Message | Should -BeLike 'lstm LSTM*Failed*'
        }

        It 'stops at the first failed layer with -ErrorAction Stop' {
            { Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -ErrorAction Stop } | Should -Throw -ErrorId 'LayerNotEquivalent,*'
        }

        It 'stops with NotEquivalent under -Strict' {
            { Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -Strict } | Should -Throw -ErrorId 'NotEquivalent*'
        }

        It 'writes every result before the -Strict error' {
            $r = $null
            try { Test-LstmEquivalence $reference (Get-LstmWeights $twice.FullName) -Strict -OutVariable r | Out-Null } catch { $caught = $_ }
            $caught.CategoryInfo.Category | Should -Be 'InvalidResult'
            $r | Should -HaveCount 1
            $r[0].Status | Should -Be 'Failed'
        }

        It 'reports a layer present on one side only as Unmatched' {
            $r = Test-LstmEquivalence $reference (Get-LstmWeights $extra.FullName) -ErrorAction SilentlyContinue
            $r | Should -HaveCount 2
            $r[1].Status | Should -Be 'Unmatched'
            $r[1].Layer | Should -Be 'head'
        }

        It 'writes LayerUnmatched (ObjectNotFound) for the unmatched layer, and nothing for the matched one' {
            $null = Test-LstmEquivalence $reference (Get-LstmWeights $extra.FullName) -ErrorVariable err -ErrorAction SilentlyContinue
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'LayerUnmatched,*'
            $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err[0].TargetObject.Layer | Should -Be 'head'
        }

        It 'reports layers of different sizes as Mismatch (LayerMismatch)' {
            # The first depth of a hidden-4 LSTM against the hidden-8 reference.
            $small = Get-LstmWeights (New-TestTorchLstm (Join-Path $TestDrive 'small.safetensors')).FullName -Layer lstm | Where-Object StackIndex -EQ 0
            $r = Test-LstmEquivalence $reference $small -ErrorVariable err -ErrorAction SilentlyContinue
            $r.Status | Should -Be 'Mismatch'
            $r.Reason | Should -Not -BeNullOrEmpty
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'LayerMismatch,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        }

        It 'reports NothingToCompare when neither set has a layer it runs' {
            $other = Get-LstmWeights (New-TestSafetensors (Join-Path $TestDrive 'other.safetensors') ([ordered]@{ 'step_count' = @(@(1), @(3)) })).FullName
            $other.LayerType | Should -Be 'Other'
            Test-LstmEquivalence $other $other -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'NothingToCompare,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        }
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

Describe 'Test-LstmEquivalence on real model files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    It 'finds the error of converting a hard_sigmoid Keras LSTM with -Force' {
        $keras = Get-LstmWeights "$Fixtures/dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_model.h5"
        $forced = $keras | ConvertTo-TorchLayout -Force -WarningAction SilentlyContinue
        $r = Test-LstmEquivalence $keras $forced -ErrorVariable err -ErrorAction SilentlyContinue
        ($r | Where-Object Layer -EQ 'lstm_1').Status | Should -Be 'Failed'
        ($r | Where-Object Layer -EQ 'dense_1').Passed | Should -BeTrue
        $err.FullyQualifiedErrorId | Should -BeLike 'LayerNotEquivalent,*'
    }

    It 'pairs a bidirectional Keras layer with its PyTorch conversion, direction by direction' {
        $keras = Get-LstmWeights "$Fixtures/dl4j-keras-bidirectional-lstm/bidirectional_lstm_tensorflow_2.h5" -WarningAction SilentlyContinue
        $torch = $keras | ConvertTo-TorchLayout -Force -WarningAction SilentlyContinue
        $r = Test-LstmEquivalence $keras $torch -ErrorAction SilentlyContinue
        ($r | Where-Object LayerType -EQ 'LSTM').Direction | Should -Be @('Forward', 'Backward')
    }
}
