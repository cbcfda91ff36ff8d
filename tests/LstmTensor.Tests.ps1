#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery, in BeforeAll for the run (see common.ps1).
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'LstmTensor members for scripts' {
    BeforeAll {
        # A [2,3] matrix 1..6 in row-major order, and a float bias.
        $file = New-TestSafetensors (Join-Path $TestDrive 'w.safetensors') ([ordered]@{
                'head.weight' = @(@(2, 3), (1..6))
                'head.bias'   = @(@(2), @(0.5, -1.5))
            })
        $w, $b = Get-LstmWeights $file.FullName
    }

    It 'ToArray gives a float[] in row-major order' {
        $a = $w.ToArray()
        , $a | Should -BeOfType [float[]]
        $a | Should -Be @(1, 2, 3, 4, 5, 6)
    }

    It 'Transpose gives a transposed copy with the same name' {
        $t = $w.Transpose()
        $t | Should -BeOfType LstmPort.LstmTensor
        $t.Name | Should -Be 'head.weight'
        $t.Shape | Should -Be @(3, 2)
        $t.ToArray() | Should -Be @(1, 4, 2, 5, 3, 6)
        $w.Shape | Should -Be @(2, 3)
    }

    It 'Multiply, Sum, Mean, Min and Max compute on the values' {
        $w.Multiply(2).ToArray() | Should -Be @(2, 4, 6, 8, 10, 12)
        $w.Sum() | Should -Be 21
        $w.Mean() | Should -Be 3.5
        $w.Min() | Should -Be 1
        $w.Max() | Should -Be 6
        $b.Sum() | Should -Be -1
        $b.Sum() | Should -BeOfType [double]
    }

    It 'TorchSharp stays reachable through .Tensor with explicit overloads' {
        $w.Tensor.mul([TorchSharp.Scalar]2).sum().item[float]() | Should -Be 42
    }
}

Describe 'Damaged data' {
    BeforeAll {
        $file = New-TestSafetensors (Join-Path $TestDrive 'src.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(4, 1), @(0.123, -4.5, 6.75, 0.001))
                'lstm.weight_hh_l0' = @(@(4, 1), @(1, 2, 3, 4))
                'lstm.bias_ih_l0'   = @(@(4), @(0.5, 0.25, 0.125, 1))
                'lstm.bias_hh_l0'   = @(@(4), @(0, 0, 0, 2))
            })
        function Set-Damage([string] $Path, [float[]] $Values) {
            # Flips one bit inside the first occurrence of the values' bytes.
            $bytes = [IO.File]::ReadAllBytes($Path)
            $needle = [byte[]]($Values | ForEach-Object { [BitConverter]::GetBytes($_) } | ForEach-Object { $_ })
            $hex, $find = [Convert]::ToHexString($bytes), [Convert]::ToHexString($needle)
            $at = $hex.IndexOf($find)
            while ($at % 2) { $at = $hex.IndexOf($find, $at + 1) }
            $at | Should -BeGreaterOrEqual 0
            $at /= 2
            $bytes[$at + 1] = $bytes[$at + 1] -bxor 0x10
            [IO.File]::WriteAllBytes($Path, $bytes)
        }
    }

    It 'a .pth tensor that fails its zip CRC-32 is a ChecksumMismatch error; the others come out readable' {
        $pth = Join-Path $TestDrive 'model.pth'
        Get-LstmWeights $file.FullName | Export-LstmWeights $pth
        Set-Damage $pth @(0.123, -4.5, 6.75, 0.001)
        $t = Get-LstmWeights $pth -ErrorVariable err -ErrorAction SilentlyContinue
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'ChecksumMismatch,*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].Exception.Message | Should -BeLike '*lstm.weight_ih_l0*'
        $t.Name | Should -Be @('lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0')
        $t | ForEach-Object { $_.Tensor | Should -Not -BeNullOrEmpty }
        $t[0].Sum() | Should -Be 10
    }

    It 'a member that cannot read the data throws with the ErrorId, and reads again once the file is whole' {
        $copy = Join-Path $TestDrive 'copy.safetensors'
        Copy-Item $file.FullName $copy
        $good = [IO.File]::ReadAllBytes($copy)
        $t = Get-LstmWeights $copy
        $f = [IO.File]::Open($copy, 'Open', 'ReadWrite'); $f.SetLength($f.Length - 4); $f.Dispose()
        { $t[3].ToArray() } | Should -Throw -ErrorId 'TruncatedFile'
        { $t[3].Sum() } | Should -Throw -ExpectedMessage "*'lstm.bias_hh_l0'*"
        [IO.File]::WriteAllBytes($copy, $good)
        $t[3].Sum() | Should -Be 2
    }
}
