#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule

    # The non-empty lines of a rendering, without colour escapes.
    function Get-Line([string] $Text) {
        @(($Text -replace "`e\[[0-9;]*m") -split '\r?\n' | Where-Object { $_.Trim() })
    }

    # A Format-List rendering as label -> value; continuation lines are joined with a space.
    function Get-ListEntry([string[]] $Line) {
        $entries = [ordered]@{}
        $last = $null
        foreach ($l in $Line) {
            if ($l -match '^\s' -and $last) { $entries[$last] += ' ' + $l.Trim(); continue }
            if ($l -match '^(\S[^:]*?)\s+: ?(.*)$') { $last = $Matches[1]; $entries[$last] = $Matches[2].Trim() } else { $last = $null }
        }
        $entries
    }

    # A float32 safetensors file of zeros, written without building the values (for large tensors).
    function New-ZeroSafetensors([string] $Path, [System.Collections.IDictionary] $Shapes) {
        $header = [ordered]@{}
        [long] $offset = 0
        foreach ($name in $Shapes.Keys) {
            [long] $count = 1
            foreach ($d in $Shapes[$name]) { $count *= $d }
            $header[$name] = @{ dtype = 'F32'; shape = @($Shapes[$name]); data_offsets = @($offset, ($offset + 4 * $count)) }
            $offset += 4 * $count
        }
        $json = [Text.Encoding]::UTF8.GetBytes(($header | ConvertTo-Json -Depth 5 -Compress))
        $file = [IO.File]::Create($Path)
        try {
            $file.Write([BitConverter]::GetBytes([long]$json.Length), 0, 8)
            $file.Write($json, 0, $json.Length)
            $file.SetLength(8 + $json.Length + $offset)
        } finally { $file.Dispose() }
        Get-Item $Path
    }

    function Get-Completion([string] $Line) {
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText)
    }

    $lstm = New-TestSafetensors (Join-Path $TestDrive 'lstm.safetensors') ([ordered]@{
            'lstm.weight_ih_l0' = @(@(16, 3), (1..48 | ForEach-Object { $_ / 10 }))
            'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
            'lstm.bias_ih_l0'   = @(@(16), (1..16))
            'lstm.bias_hh_l0'   = @(@(16), (1..16))
        })
}

Describe 'Tensor views' {
    It 'shows a Tensor at the prompt as one line: shape, dtype and the first values' {
        $t = Get-LstmWeights $lstm.FullName
        Get-Line ($t[0].Tensor | Out-String -Width 80) |
            Should -Be 'Shape [16,3]  DType float32  Values 0.1, 0.2, 0.3, 0.4, 0.5, ... (48 values)'
        Get-Line ($t[2].Tensor | Out-String -Width 80) |
            Should -Be 'Shape [16]  DType float32  Values 1, 2, 3, 4, 5, 6, 7, 8, ... (16 values)'
    }

    It 'shows Format-Table and Format-List of a Tensor as the preview, never TorchSharp''s properties' {
        $t = Get-LstmWeights $lstm.FullName
        $table = Get-Line ($t.Tensor | Format-Table | Out-String -Width 80)
        $table[0] | Should -Match '^Shape\s+DType\s+Device\s+Values$'
        $table[2] | Should -Match '^\[16,3\]\s+float32\s+cpu\s+0\.1, 0\.2, '
        $table | Should -HaveCount 6
        $list = Get-ListEntry (Get-Line ($t[1].Tensor | Format-List | Out-String -Width 80))
        @($list.Keys) | Should -Be @('Shape', 'DType', 'Device', 'Values')
        $list['Values'] | Should -Be '1, 2, 3, 4, 5, 6, 7, 8, ... (64 values)'
        ($table + (Get-Line ($t[1].Tensor | Format-List | Out-String))) -match '\b(Handle|mT|mH|is_leaf)\b' | Should -BeNullOrEmpty
    }

    It 'Format-List of an LstmTensor shows every property, with the Tensor as a short preview' {
        $t = (Get-LstmWeights $lstm.FullName)[0]
        $lines = Get-Line ($t | Format-List | Out-String -Width 80)
        $list = Get-ListEntry $lines
        @($list.Keys) | Sort-Object | Should -Be ([LstmPort.LstmTensor].GetProperties().Name | Sort-Object)
        $list['Tensor'] | Should -Be 'Shape [16,3]  DType float32  Values 0.1, 0.2, ... (48 values)'
        $list['Shape'] | Should -Be '[16,3]'
        $list['IsLoaded'] | Should -Be 'False'   # read for the preview only
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
        $lines -match 'TorchSharp|Handle|\bmT\b' | Should -BeNullOrEmpty
    }

    It 'does not read a large tensor that is not read yet to show it in a list' {
        $big = New-ZeroSafetensors (Join-Path $TestDrive 'big.safetensors') ([ordered]@{ 'big.weight' = @(512, 1024) })
        $w = Get-LstmWeights $big.FullName, $lstm.FullName
        $text = $w | Format-List | Out-String -Width 80
        $tensors = ($text -split '(?m)^(?=Name\s+:)' | Where-Object { $_.Trim() }) | ForEach-Object { (Get-ListEntry (Get-Line $_))['Tensor'] }
        $tensors[0] | Should -Be 'Shape [512,1024]  DType float32  not read yet (2 MB): .ToArray() or .Tensor reads it'
        $tensors[1] | Should -BeLike 'Shape `[16,3`]  DType float32  Values 0.1, 0.2, *'
        @($w | Where-Object IsLoaded) | Should -HaveCount 0
    }

    It 'prints nothing from libtorch when tensors are shown' {
        # A fresh pwsh, so that a libtorch warning printed once per process would show here.
        $pwsh = [Environment]::ProcessPath
        # Under 'dotnet pwsh' the process is dotnet and pwsh.dll its first argument.
        [string[]] $prefix = @(if ((Split-Path -Leaf $pwsh) -like 'dotnet*') { [Reflection.Assembly]::GetEntryAssembly().Location })
        $script = "Import-Module '$ModuleManifest'; `$t = Get-LstmWeights '$($lstm.FullName)'; `$t[0].Tensor; `$t[2].Tensor; `$t[0] | Format-List; `$t.Tensor | Format-Table; `$t[1].Tensor | Format-List"
        $errFile = Join-Path $TestDrive 'stderr.txt'
        $out = & $pwsh @prefix -NoProfile -NonInteractive -Command $script 2> $errFile
        $LASTEXITCODE | Should -Be 0
        Get-Content $errFile -Raw | Should -BeNullOrEmpty
        ($out -join "`n") | Should -Match 'Shape \[16,3\]  DType float32  Values 0\.1'
        $out -match '\b(Handle|mT|is_leaf)\b' | Should -BeNullOrEmpty
    }
}

Describe 'Table views at 80 columns' {
    It 'Get-LstmWeights shows every name in full first, grouped by file' {
        $long = 'a_rather_long_encoder_module_name_for_tests'
        $a = New-TestSafetensors (Join-Path $TestDrive 'a.safetensors') ([ordered]@{
                "$long.weight_ih_l0" = @(@(12, 3), [float[]]::new(36)); "$long.weight_hh_l0" = @(@(12, 4), [float[]]::new(48))
            })
        $w = Get-LstmWeights $a.FullName, $lstm.FullName
        $lines = Get-Line ($w | Out-String -Width 80)
        @($lines -match '^\s+Source: ') | Should -HaveCount 2
        $first = [array]::IndexOf($lines, @($lines -like "$long.weight_ih_l0 *")[0])
        $lines[$first - 2] | Should -Match '^Name\s+Role\s+Shape'
        $lines[$first] | Should -Match "^$long\.weight_ih_l0\s+Kernel\s+\[12,3\]"
        $lines[$first + 1] | Should -Match "^$long\.weight_hh_l0\s+RecurrentKernel\s+\[12,4\]"
        $lines -match '^lstm\.weight_hh_l0\s+RecurrentKernel\s+\[16,4\]\s+float32\s+Torch$' | Should -HaveCount 1
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
        @($w | Where-Object IsLoaded) | Should -HaveCount 0
    }

    It 'Get-LstmWeights keeps the names of a bidirectional Keras file whole' -Skip:(-not $HasFixtures) {
        $path = Join-Path $Fixtures 'dl4j-keras-bidirectional-lstm/bidirectional_lstm_tensorflow_2.h5'
        $w = Get-LstmWeights $path
        $lines = Get-Line ($w | Format-Table | Out-String -Width 80)
        foreach ($name in $w.Name) { $lines -like "$name *" | Should -HaveCount 1 }
        $lines -match '^bidirectional_1/forward_lstm_1/recurrent_kernel:0\s+RecurrentKernel\s+\[10,40\]' | Should -HaveCount 1
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
    }

    It 'Get-LstmLayer over two files groups by file and shows names and reasons whole' -Skip:(-not $HasFixtures) {
        $medaka = Join-Path $Fixtures 'medaka-keras215-bigru/medaka_model.hdf5'
        $lines = Get-Line (Get-LstmLayer $medaka, $lstm.FullName | Out-String -Width 80)
        @($lines -match '^\s+Source: ') | Should -HaveCount 2
        $first = [array]::IndexOf($lines, @($lines -like 'bidirectional_1 *')[0])
        $lines[$first - 2] | Should -Match '^Layer\s+Type\s+Units\s+Input\s+BiDi\s+Params\s+Torch$'
        $lines[$first] | Should -Match '^bidirectional_1\s+GRU\s+128\s+10\s+yes\s+106752\s+no: hard_sigmoid$'
        # The reason wraps between words and is whole.
        ($lines[$first..($first + 2)] | ForEach-Object { $_.Substring(46).Trim() }) -join ' ' | Should -Be 'no: hard_sigmoid recurrent activation; GRU reset_after=False'
        $lines -match '^lstm\s+LSTM\s+4\s+3\s+no\s+144\s+yes$' | Should -HaveCount 1
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
    }

    It 'Get-LstmLayer shows TF1 cell scopes in full' -Skip:(-not $HasFixtures) {
        $graph = Get-ChildItem (Join-Path $Fixtures 'dl4j-tf1-rnn-frozen-graphs/bstack') -Recurse -Filter frozen_model.pb | Select-Object -First 1
        $lines = Get-Line (Get-LstmLayer $graph.FullName | Out-String -Width 80)
        # A frozen graph does not record a cell's activation: the Torch column says the verdict assumes tanh.
        foreach ($k in 0..2) {
            $at = [array]::FindIndex([string[]]$lines, [Predicate[string]] { param($l) $l -match "^stack_bidirectional_rnn/cell_$k\s+SimpleRNN\s+3\s+\d\s+yes\s+\d+\s+yes; inferred:$" })
            $at | Should -BeGreaterOrEqual 0
            $lines[$at + 1].Trim() | Should -Be 'activation'
        }
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
    }

    It 'Test-LstmEquivalence fits 80 columns with long layer names' {
        $module = 'encoder.bidirectional_lstm_long_name'   # 36 characters
        $rng = [Random]::new(5)
        $v = { param($n) , [float[]](1..$n | ForEach-Object { $rng.NextDouble() * 0.8 - 0.4 }) }
        $f = New-TestSafetensors (Join-Path $TestDrive 'long.safetensors') ([ordered]@{
                "$module.weight_ih_l0" = @(@(16, 3), (& $v 48)); "$module.weight_hh_l0" = @(@(16, 4), (& $v 64))
                "$module.bias_ih_l0" = @(@(16), (& $v 16)); "$module.bias_hh_l0" = @(@(16), (& $v 16))
                "$module.weight_ih_l0_reverse" = @(@(16, 3), (& $v 48)); "$module.weight_hh_l0_reverse" = @(@(16, 4), (& $v 64))
                "$module.bias_ih_l0_reverse" = @(@(16), (& $v 16)); "$module.bias_hh_l0_reverse" = @(@(16), (& $v 16))
            })
        $w = Get-LstmWeights $f.FullName
        $lines = Get-Line (Test-LstmEquivalence $w $w | Out-String -Width 80)
        $lines[0] | Should -Match '^Layer\s+Type\s+Dir\s+AbsError\s+RelError\s+Status\s+Note$'
        $lines[2] | Should -Match "^$([regex]::Escape($module))\s+LSTM\s+Fwd\s+0\.00e\+00\s+0\.00e\+00\s+Passed\s+seq,h,c$"
        $lines[3] | Should -Match "^$([regex]::Escape($module))\s+LSTM\s+Bwd\s"
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
    }
}

Describe '-Layer completion' {
    BeforeAll {
        $dir = New-Item -ItemType Directory (Join-Path $TestDrive 'completion')
        $null = New-Item -ItemType Directory (Join-Path $dir 'sub')
        $null = New-TestSafetensors (Join-Path $dir 'a.safetensors') ([ordered]@{ 'encoder.weight' = @(@(1, 1), @(1)); 'decoder.weight' = @(@(1, 1), @(2)) })
        $null = New-TestSafetensors (Join-Path $dir 'sub/b.safetensors') ([ordered]@{ 'embed.weight' = @(@(1, 1), @(3)); 'encoder.weight' = @(@(1, 1), @(4)) })
        $null = New-TestSafetensors (Join-Path $dir 'm[1].safetensors') ([ordered]@{ 'enc[0].weight' = @(@(1, 1), @(1)); 'my model.weight' = @(@(1, 1), @(2)) })
    }

    It 'expands a wildcard -Path and offers the layers of every matching file' {
        Get-Completion "Get-LstmWeights '$dir/a*.safetensors', '$dir/*/*.safetensors' -Layer " | Should -Be @('encoder', 'decoder', 'embed')
        Get-Completion "Get-LstmLayer -Path '$dir/sub/*' -Layer e" | Should -Be @('embed', 'encoder')
        Get-Completion "Get-LstmWeights '$dir/*.nothing' -Layer " | Should -BeNullOrEmpty
    }

    It 'resolves paths through PowerShell drives' {
        Get-Completion "Get-LstmWeights TestDrive:/completion/sub/*.safetensors -Layer em" | Should -Be 'embed'
    }

    It 'resolves a relative path from the current location, also after Set-Location' {
        Push-Location $dir
        try {
            Get-Completion 'Get-LstmWeights ./a.safetensors -Layer d' | Should -Be 'decoder'
            Get-Completion 'Get-LstmLayer a*.safetensors -Layer ' | Should -Be @('encoder', 'decoder')
            Set-Location sub
            Get-Completion 'Get-LstmWeights b.safetensors -Layer ' | Should -Be @('embed', 'encoder')
            Get-Completion 'Get-LstmWeights ../a*.safetensors, *.safetensors -Layer e' | Should -Be @('encoder', 'embed')
            Get-Completion 'Get-LstmWeights ./a.safetensors -Layer d' | Should -BeNullOrEmpty
        } finally { Pop-Location }
    }

    It 'takes -LiteralPath as it is and escapes names for -Layer''s wildcards' {
        Push-Location $dir
        try {
            Get-Completion "Get-LstmWeights -LiteralPath 'm[1].safetensors' -Layer " | Should -Be @("'enc``[0``]'", "'my model'")
            Get-LstmWeights -LiteralPath 'm[1].safetensors' -Layer 'enc`[0`]' | ForEach-Object Name | Should -Be 'enc[0].weight'
        } finally { Pop-Location }
    }
}
