#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'Merge-LstmBias' {
    BeforeAll {
        $source = Get-LstmWeights (New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')).FullName
        # b_hn (the last third of bias_hh) is 15 16: not mergeable. With zeros there, it is.
        $gru = Get-LstmWeights (New-TestTorchGru (Join-Path $TestDrive 'gru.safetensors')).FullName
        $gruZeroHn = Get-LstmWeights (New-TestTorchGru (Join-Path $TestDrive 'gru0.safetensors') -BiasHh 11, 12, 13, 14, 0, 0).FullName
    }

    It 'puts the sum into bias_ih and zeros into bias_hh' {
        $merged = $source | Merge-LstmBias
        $a = ($source | Where-Object Name -EQ 'lstm.bias_ih_l1').ToArray()
        $b = ($source | Where-Object Name -EQ 'lstm.bias_hh_l1').ToArray()
        $sum = [float[]]@(for ($i = 0; $i -lt 16; $i++) { $a[$i] + $b[$i] })
        ($merged | Where-Object Name -EQ 'lstm.bias_ih_l1').ToArray() | Should -Be $sum
        $hh = $merged | Where-Object Name -EQ 'lstm.bias_hh_l1'
        $hh.ToArray() | Should -Be ([float[]]::new(16))
        $hh.Shape | Should -Be @(16)
        $hh.DType | Should -Be 'float32'
    }

    It 'passes other tensors through' {
        ($source | Merge-LstmBias | Where-Object Name -EQ 'head.weight') | Should -Not -BeNullOrEmpty
        $merged = $source | Merge-LstmBias
        $merged.Name | Should -Be $source.Name
        [object]::ReferenceEquals($merged[0], $source[0]) | Should -BeTrue
    }

    It 'merges a GRU whose recurrent new-gate bias is zero' {
        $merged = $gruZeroHn | Merge-LstmBias -ErrorVariable err
        $err | Should -BeNullOrEmpty
        ($merged | Where-Object Name -EQ 'gru.bias_ih_l0').ToArray() | Should -Be @(12, 14, 16, 18, 5, 6)
        ($merged | Where-Object Name -EQ 'gru.bias_hh_l0').ToArray() | Should -Be @(0, 0, 0, 0, 0, 0)
    }

    It 'computes what the source computes' {
        $result = Test-LstmEquivalence $source ($source | Merge-LstmBias)
        $result | Should -HaveCount 3
        $result.Passed | Should -Be @($true, $true, $true)
        (Test-LstmEquivalence $gruZeroHn ($gruZeroHn | Merge-LstmBias)).Passed | Should -Be @($true)
    }

    Context 'pipeline input' {
        It 'takes the tensors by value, through -InputObject, or by position' {
            $piped = $source | Merge-LstmBias
            (Merge-LstmBias -InputObject $source).Name | Should -Be $piped.Name
            $positional = Merge-LstmBias $source
            Get-MaxAbsDifference $positional[2].ToArray() $piped[2].ToArray() | Should -Be 0
        }
    }

    Context 'errors' {
        It 'refuses a GRU whose b_hn is not zero (CannotMergeGruBias) and passes it on unchanged' {
            $out = @($source) + @($gru) | Merge-LstmBias -ErrorVariable err -ErrorAction SilentlyContinue
            $ok = $?
            $ok | Should -BeFalse
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -Be 'CannotMergeGruBias,LstmPort.PowerShell.Commands.MergeLstmBiasCommand'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $err[0].TargetObject | Should -Be 'gru'
            $err[0].Exception.Message | Should -BeLike '*b_hn*'
            # The GRU's tensors are passed on as they were; the LSTM is still merged.
            ($out | Where-Object Name -EQ 'gru.bias_hh_l0').ToArray() | Should -Be (11..16)
            ($out | Where-Object Name -EQ 'lstm.bias_hh_l0').ToArray() | Should -Be ([float[]]::new(16))
        }

        It 'stops with CannotMergeGruBias under -ErrorAction Stop' {
            { $gru | Merge-LstmBias -ErrorAction Stop } | Should -Throw -ErrorId 'CannotMergeGruBias,*'
        }
    }

    It 'writes what it did with -Verbose' {
        $verbose = $source | Merge-LstmBias -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose | Should -HaveCount 2
        $verbose[0].Message | Should -BeLike '*bias_ih = bias_ih + bias_hh, bias_hh = 0'
    }

    It 'has full help' {
        $help = Get-Help Merge-LstmBias -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'InputObject'
    }
}

Describe 'Merge-LstmBias on real model files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    It 'sums the halves of a CuDNN bias' {
        $cudnn = Get-LstmWeights "$Fixtures/textgenrnn-cudnnlstm-weights/textgenrnn_weights_keras215_cudnn.hdf5" -Layer rnn_1 -WarningAction SilentlyContinue
        $m = $cudnn | Merge-LstmBias
        ($m | Where-Object Role -EQ 'Bias').Shape | Should -Be @(512)
        $bias = ($cudnn | Where-Object Role -EQ 'Bias').ToArray()
        $sum = [float[]]@(for ($i = 0; $i -lt 512; $i++) { $bias[$i] + $bias[512 + $i] })
        Get-MaxAbsDifference ($m | Where-Object Role -EQ 'Bias').ToArray() $sum | Should -BeLessThan 1e-6
    }
}
