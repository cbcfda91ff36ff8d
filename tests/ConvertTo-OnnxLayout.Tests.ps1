#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'ConvertTo-OnnxLayout' {
    BeforeAll {
        $torch = New-TestTorchLstm (Join-Path $TestDrive 'lstm.safetensors')
        $source = Get-LstmWeights $torch.FullName
    }

    It 'gives W, R, B per layer and depth in the Onnx layout, IOFC' {
        $o = $source | ConvertTo-OnnxLayout
        $w = $o | Where-Object Role -EQ 'Kernel' | Select-Object -First 1
        $w.Layout | Should -Be 'Onnx'
        $w.GateOrder | Should -Be 'IOFC'
        $w.Shape.Count | Should -Be 3
        $w.Shape[0] | Should -Be 1
        $w.Name | Should -Match '\.W$'
        $w.Config.direction | Should -Be 'forward'
    }

    It 'computes what the source computes (Test-LstmEquivalence through ONNX Runtime)' {
        $o = $source | ConvertTo-OnnxLayout
        $r = Test-LstmEquivalence $source $o
        $r | Should -Not -BeNullOrEmpty
        $r | ForEach-Object { $_.Passed | Should -BeTrue; $_.MaxAbsError | Should -BeLessThan 1e-5 }
    }

    It 'round-trips through an .onnx file' {
        $path = Join-Path $TestDrive 'm.onnx'
        $source | ConvertTo-OnnxLayout | Export-LstmWeights $path
        $back = Get-LstmWeights $path
        ($back | Where-Object Role -EQ 'Kernel').Count | Should -BeGreaterThan 0
        $back[0].Layout | Should -Be 'Onnx'
        Test-LstmEquivalence $source $back | ForEach-Object { $_.Passed | Should -BeTrue }
    }

    It 'refuses an .onnx export of tensors in another layout' {
        { $source | Export-LstmWeights (Join-Path $TestDrive 'x.onnx') -ErrorAction Stop } | Should -Throw -ErrorId 'NotOnnxLayout*'
    }
}
