#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
}

Describe 'Export-LstmWeights' {
    BeforeAll {
        $source = New-TestSafetensors (Join-Path $TestDrive 'source.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(16, 3), (1..48))
                'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
                'lstm.bias_ih_l0'   = @(@(16), (1..16))
                'lstm.bias_hh_l0'   = @(@(16), (1..16))
            })
    }

    It 'writes a .pth that Get-LstmWeights reads back with the same names and values' {
        $out = Join-Path $TestDrive 'round.pth'
        $file = Get-LstmWeights $source.FullName | Export-LstmWeights $out -PassThru
        $file | Should -BeOfType System.IO.FileInfo
        $file.FullName | Should -Be $out
        $back = Get-LstmWeights $out
        $back.Name | Should -Be @('lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0')
        $back[0].Role | Should -Be 'Kernel'
        $back[1].Tensor.sum().item[float]() | Should -Be 2080
    }

    It 'writes .safetensors by extension and any name with -Format' {
        $st = Join-Path $TestDrive 'round.safetensors'
        Get-LstmWeights $source.FullName | Export-LstmWeights $st
        (Get-LstmWeights $st).Count | Should -Be 4
        $bin = Join-Path $TestDrive 'weights.bin'
        Get-LstmWeights $source.FullName | Export-LstmWeights $bin -Format PyTorch
        (Get-LstmWeights $bin -Format PyTorch).Count | Should -Be 4
    }

    It 'writes nothing with -WhatIf' {
        $out = Join-Path $TestDrive 'whatif.pth'
        Get-LstmWeights $source.FullName | Export-LstmWeights $out -WhatIf
        Test-Path $out | Should -BeFalse
    }

    It 'refuses to overwrite without -Force and leaves the file untouched' {
        $out = Join-Path $TestDrive 'exists.pth'
        Set-Content $out 'precious'
        { Get-LstmWeights $source.FullName | Export-LstmWeights $out -ErrorAction Stop } |
            Should -Throw -ErrorId 'FileExists*'
        Get-Content $out | Should -Be 'precious'
        Get-LstmWeights $source.FullName | Export-LstmWeights $out -Force
        (Get-LstmWeights $out).Count | Should -Be 4
    }

    It 'reports empty input and duplicate names and writes nothing' {
        $out = Join-Path $TestDrive 'bad.pth'
        { @() | Export-LstmWeights $out -ErrorAction Stop } | Should -Throw -ErrorId 'NoTensors*'
        $t = Get-LstmWeights $source.FullName
        { $t[0], $t[0] | Export-LstmWeights $out -ErrorAction Stop } | Should -Throw -ErrorId 'DuplicateTensorName*'
        Test-Path $out | Should -BeFalse
    }

    It 'leaves no partial or temporary file when a tensor fails to load mid-write' {
        $copy = Join-Path $TestDrive 'shrinking.safetensors'
        Copy-Item $source.FullName $copy
        $t = Get-LstmWeights $copy
        $f = [IO.File]::Open($copy, 'Open', 'ReadWrite'); $f.SetLength($f.Length - 100); $f.Dispose()
        $out = Join-Path $TestDrive 'partial.pth'
        { $t | Export-LstmWeights $out -ErrorAction Stop } | Should -Throw -ErrorId 'TruncatedFile*'
        Get-ChildItem $TestDrive -Force -Filter '*partial*' | Should -BeNullOrEmpty
    }

    It 'writes a Keras .h5 weights file from Keras tensors and refuses other layouts' -Skip:(-not (Test-Path (Join-Path $Fixtures 'dl4j-keras2-simple-lstm'))) {
        $real = Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_weights.h5'
        $out = Join-Path $TestDrive 'keras.h5'
        Get-LstmWeights $real -WarningAction SilentlyContinue | Export-LstmWeights $out
        $back = Get-LstmWeights $out -WarningAction SilentlyContinue
        $back.Name | Should -Be @('lstm_1/kernel:0', 'lstm_1/recurrent_kernel:0', 'lstm_1/bias:0', 'dense_1/kernel:0', 'dense_1/bias:0')
        $back[1].Shape | Should -Be @(50, 200)
        $bad = Join-Path $TestDrive 'torch.h5'
        { Get-LstmWeights $source.FullName | Export-LstmWeights $bad -ErrorAction Stop } | Should -Throw -ErrorId 'NotKerasLayout*'
        Test-Path $bad | Should -BeFalse
    }

    It 'round-trips through real PyTorch when python3 with torch is available' -Skip:(-not (Get-Command python3 -ErrorAction Ignore)) {
        $out = Join-Path $TestDrive 'torch.pth'
        Get-LstmWeights $source.FullName | Export-LstmWeights $out
        $sum = & python3 -c "import torch,sys; sd=torch.load(sys.argv[1], weights_only=True); print(float(sd['lstm.weight_hh_l0'].sum()))" $out
        if ($LASTEXITCODE -ne 0) { Set-ItResult -Skipped -Because 'python3 cannot import torch' }
        else { [double]$sum | Should -Be 2080 }
    }
}

Describe 'Get-LstmWeights on PyTorch files' {
    It 'reads the stacked LSTM fixture' -Skip:(-not (Test-Path (Join-Path $Fixtures 'chrisprasanna-torch-zip-stacked-lstm'))) {
        $t = Get-LstmWeights (Join-Path $Fixtures 'chrisprasanna-torch-zip-stacked-lstm/lstm.pt')
        $t | Should -HaveCount 10
        ($t | Where-Object Name -EQ 'lstm.weight_ih_l1').StackIndex | Should -Be 1
        ($t | Where-Object Name -EQ 'lstm.weight_ih_l1').Shape | Should -Be @(256, 64)
    }

    It 'refuses a pickle that names os.system with UnsafePickleGlobal' {
        $evil = Join-Path $TestDrive 'evil.pth'
        # PROTO 2, GLOBAL 'os system', STOP: refused at the GLOBAL opcode.
        [IO.File]::WriteAllBytes($evil, [byte[]](@(0x80, 2, 0x63) + [Text.Encoding]::ASCII.GetBytes("os`nsystem`n") + @(0x2e)))
        Get-LstmWeights $evil -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'UnsafePickleGlobal*'
        $err[0].Exception.Message | Should -BeLike "*'os.system'*"
    }
}
