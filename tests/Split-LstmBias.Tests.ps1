#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'Split-LstmBias' {
    BeforeAll {
        $source = Get-LstmWeights (New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')).FullName
        $gru = Get-LstmWeights (New-TestTorchGru (Join-Path $TestDrive 'gru.safetensors')).FullName
        function Get-BiasSum([object[]] $Tensors, [string] $Suffix) {
            $a = ($Tensors | Where-Object Name -EQ "lstm.bias_ih_$Suffix").ToArray()
            $b = ($Tensors | Where-Object Name -EQ "lstm.bias_hh_$Suffix").ToArray()
            , [double[]]@(for ($i = 0; $i -lt $a.Length; $i++) { [double]$a[$i] + $b[$i] })
        }
    }

    It 'gives bias_ih the Ratio share of the sum and keeps the sum' {
        $split = $source | Split-LstmBias -Ratio 0.25
        $ih = ($split | Where-Object Name -EQ 'lstm.bias_ih_l0').ToArray()
        $hh = ($split | Where-Object Name -EQ 'lstm.bias_hh_l0').ToArray()
        $sum = Get-BiasSum $source 'l0'
        $quarter = foreach ($v in $sum) { $v * 0.25 }
        $rest = foreach ($v in $sum) { $v * 0.75 }
        Get-MaxAbsDifference $ih $quarter | Should -BeLessThan 1e-6
        Get-MaxAbsDifference $hh $rest | Should -BeLessThan 1e-6
        Get-MaxAbsDifference (Get-BiasSum $split 'l0') $sum | Should -BeLessThan 1e-6
        Get-MaxAbsDifference (Get-BiasSum $split 'l1') (Get-BiasSum $source 'l1') | Should -BeLessThan 1e-6
    }

    It 'shares evenly by default and puts everything on one side at 0 and 1' {
        $sum = Get-BiasSum $source 'l1'
        $half = foreach ($v in $sum) { $v / 2 }
        Get-MaxAbsDifference ($source | Split-LstmBias | Where-Object Name -EQ 'lstm.bias_hh_l1').ToArray() $half | Should -BeLessThan 1e-6
        $zero = $source | Split-LstmBias -Ratio 0
        ($zero | Where-Object Name -EQ 'lstm.bias_ih_l1').ToArray() | Should -Be ([float[]]::new(16))
        Get-MaxAbsDifference ($zero | Where-Object Name -EQ 'lstm.bias_hh_l1').ToArray() $sum | Should -BeLessThan 1e-6
        $one = $source | Split-LstmBias -Ratio 1
        ($one | Where-Object Name -EQ 'lstm.bias_hh_l1').ToArray() | Should -Be ([float[]]::new(16))
    }

    It 'moves only the reset and update parts of a GRU bias' {
        # bias_ih 1..6 and bias_hh 11..16 in r,r,z,z,n,n: the new-gate parts (5 6 | 15 16) stay.
        $split = $gru | Split-LstmBias -Ratio 0
        ($split | Where-Object Name -EQ 'gru.bias_ih_l0').ToArray() | Should -Be @(0, 0, 0, 0, 5, 6)
        ($split | Where-Object Name -EQ 'gru.bias_hh_l0').ToArray() | Should -Be @(12, 14, 16, 18, 15, 16)
        ($gru | Split-LstmBias -Ratio 0.5 | Where-Object Name -EQ 'gru.bias_ih_l0').ToArray() | Should -Be @(6, 7, 8, 9, 5, 6)
    }

    It 'leaves other tensors untouched' {
        $split = $source | Split-LstmBias
        [object]::ReferenceEquals($split[0], $source[0]) | Should -BeTrue
        $head = $split | Where-Object Name -EQ 'head.bias'
        [object]::ReferenceEquals($head, ($source | Where-Object Name -EQ 'head.bias')) | Should -BeTrue
        $split.Name | Should -Be $source.Name
    }

    It 'passes Keras-layout tensors through' {
        $keras = $source | ConvertTo-KerasLayout
        $split = $keras | Split-LstmBias -Ratio 0.3
        for ($i = 0; $i -lt $keras.Count; $i++) { [object]::ReferenceEquals($split[$i], $keras[$i]) | Should -BeTrue }
    }

    It 'computes what the source computes' {
        $result = Test-LstmEquivalence $source ($source | Split-LstmBias -Ratio 0.9)
        $result | Should -HaveCount 3
        $result.Passed | Should -Be @($true, $true, $true)
        (Test-LstmEquivalence $gru ($gru | Split-LstmBias -Ratio 0.1)).Passed | Should -Be @($true)
    }

    Context 'pipeline input' {
        It 'takes the tensors by value, through -InputObject, or by position' {
            $piped = $source | Split-LstmBias -Ratio 0.25
            $named = Split-LstmBias -InputObject $source -Ratio 0.25
            $positional = Split-LstmBias $source -Ratio 0.25
            $named.Name | Should -Be $piped.Name
            $positional.Name | Should -Be $piped.Name
            Get-MaxAbsDifference $named[2].ToArray() $piped[2].ToArray() | Should -Be 0
        }
    }

    Context 'errors' {
        It 'rejects a ratio outside 0..1' {
            { $source | Split-LstmBias -Ratio 2 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
            { $source | Split-LstmBias -Ratio -0.1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        }

        It 'reports bias_ih and bias_hh of different shapes (ShapeMismatch) and passes that layer through' {
            $bad = Get-LstmWeights (New-TestSafetensors (Join-Path $TestDrive 'bad.safetensors') ([ordered]@{
                        'lstm.weight_ih_l0' = @(@(16, 3), (1..48)); 'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
                        'lstm.bias_ih_l0' = @(@(16), (1..16)); 'lstm.bias_hh_l0' = @(@(8), (1..8))
                    })).FullName
            $out = $bad | Split-LstmBias -ErrorVariable err -ErrorAction SilentlyContinue
            $out | Should -HaveCount 4
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'ShapeMismatch,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $err[0].TargetObject | Should -Be 'lstm'
            { $bad | Split-LstmBias -ErrorAction Stop } | Should -Throw -ErrorId 'ShapeMismatch,*'
        }
    }

    It 'writes what it did with -Verbose' {
        $verbose = $gru | Split-LstmBias -Ratio 0.25 -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -BeLike '*bias split 0.25/0.75 between bias_ih and bias_hh (GRU new-gate parts unchanged)'
    }

    It 'has full help' {
        $help = Get-Help Split-LstmBias -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'Ratio'
    }
}
