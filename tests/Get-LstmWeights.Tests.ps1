#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'Get-LstmWeights' {
    BeforeAll {
        $lstm = New-TestSafetensors (Join-Path $TestDrive 'lstm.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(16, 3), (1..48))
                'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
                'lstm.bias_ih_l0'   = @(@(16), (1..16))
                'lstm.bias_hh_l0'   = @(@(16), (1..16))
                'head.weight'       = @(@(1, 4), (1..4))
                'head.bias'         = @(@(1), @(0.5))
            })
    }

    It 'emits one LstmTensor per tensor with roles from the PyTorch names' {
        $t = Get-LstmWeights $lstm.FullName
        $t | Should -HaveCount 6
        $t[0] | Should -BeOfType LstmPort.LstmTensor
        $t.Name | Should -Be @('lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0', 'head.weight', 'head.bias')
        $t[0].Role | Should -Be 'Kernel'
        $t[0].LayerType | Should -Be 'LSTM'
        $t[0].Units | Should -Be 4
        $t[0].InputSize | Should -Be 3
        $t[0].Shape | Should -Be @(16, 3)
        $t[0].DType | Should -Be 'float32'
        $t[0].Layout | Should -Be 'Torch'
        $t[0].GateOrder | Should -Be 'IFGO'
        $t[0].Source | Should -Be $lstm.FullName
        $t.Role | Should -Be @('Kernel', 'RecurrentKernel', 'InputBias', 'RecurrentBias', 'Weight', 'Bias')
        $t[4].LayerType | Should -Be 'Dense'
    }

    It 'gives a live TorchSharp tensor with the file''s values' {
        $w = Get-LstmWeights $lstm.FullName -Layer head
        $w[0].Tensor | Should -BeOfType TorchSharp.torch+Tensor
        $w[0].Sum() | Should -Be 10
        $w[1].Sum() | Should -Be 0.5
    }

    It 'gives the values as a flat row-major .NET array with ToArray()' {
        $w = Get-LstmWeights $lstm.FullName
        $ih = $w[0].ToArray()
        , $ih | Should -BeOfType [float[]]
        $ih | Should -HaveCount 48
        $ih | Should -Be (1..48)
        $w[5].ToArray() | Should -Be @(0.5)
    }

    It 'has Sum, Mean, Min, Max and Transpose for scripts' {
        $hh = Get-LstmWeights $lstm.FullName | Where-Object Name -EQ 'lstm.weight_hh_l0'
        $hh.Sum() | Should -Be 2080
        $hh.Mean() | Should -Be 32.5
        $hh.Min() | Should -Be 1
        $hh.Max() | Should -Be 64
        $tr = $hh.Transpose()
        $tr | Should -BeOfType LstmPort.LstmTensor
        $tr.Name | Should -Be 'lstm.weight_hh_l0'
        $tr.Shape | Should -Be @(4, 16)
        # Row-major [16,4] 1..64 transposed: row j of the result is column j of the source.
        $tr.ToArray()[0..3] | Should -Be @(1, 5, 9, 13)
        $tr.ToArray()[16] | Should -Be 2
        $hh.Shape | Should -Be @(16, 4) -Because 'Transpose returns a copy'
        $hh.Multiply(2).Sum() | Should -Be 4160
    }

    It 'selects layers with -Layer, wildcards and any case' {
        (Get-LstmWeights $lstm.FullName -Layer 'l*').Name | Should -Be @('lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0')
        (Get-LstmWeights $lstm.FullName -Layer HEAD).Layer | Should -Be @('head', 'head')
        Get-LstmWeights $lstm.FullName -Layer head, lstm | Should -HaveCount 6
        Get-LstmWeights $lstm.FullName -Layer nothing -ErrorVariable err | Should -BeNullOrEmpty
        $err | Should -BeNullOrEmpty
    }

    Context 'pipeline input' {
        BeforeAll {
            $folder = New-Item -ItemType Directory (Join-Path $TestDrive 'pipe')
            $a = Copy-Item $lstm.FullName (Join-Path $folder 'a.safetensors') -PassThru
            $b = Copy-Item $lstm.FullName (Join-Path $folder 'b.safetensors') -PassThru
            # [ and ] are wildcard characters for -Path, plain characters for -LiteralPath.
            $odd = Copy-Item $lstm.FullName (Join-Path $folder 'odd[1].safetensors') -PassThru
        }

        It 'takes path strings by value as -Path' {
            $t = $a.FullName | Get-LstmWeights
            $t | Should -HaveCount 6
            $t[0].Source | Should -Be $a.FullName
            ($a.FullName, $b.FullName | Get-LstmWeights).Source | Select-Object -Unique | Should -Be @($a.FullName, $b.FullName)
        }

        It 'takes file objects from the pipeline' {
            (Get-ChildItem $TestDrive -Filter *.safetensors | Get-LstmWeights -Layer lstm).Count | Should -Be 4
            # Every file of the folder, the one whose name has wildcard characters too (bound by PSPath to -LiteralPath).
            $t = Get-ChildItem -LiteralPath $folder -Filter *.safetensors | Get-LstmWeights
            $t | Should -HaveCount 18
            $t.Source | Should -Contain $odd.FullName
        }

        It 'takes Get-Item output (PSPath) by property name' {
            $t = Get-Item -LiteralPath $odd.FullName | Get-LstmWeights -Layer head
            $t.Name | Should -Be @('head.weight', 'head.bias')
        }

        It 'binds LiteralPath, and its FullName alias, by property name' {
            ([pscustomobject]@{ LiteralPath = $odd.FullName } | Get-LstmWeights) | Should -HaveCount 6
            ([pscustomobject]@{ FullName = $b.FullName } | Get-LstmWeights)[0].Source | Should -Be $b.FullName
            $t = [pscustomobject]@{ LiteralPath = $a.FullName }, [pscustomobject]@{ LiteralPath = $b.FullName } | Get-LstmWeights -Layer head
            $t.Source | Should -Be @($a.FullName, $a.FullName, $b.FullName, $b.FullName)
        }

        It 'expands wildcards in -Path and reads names with wildcard characters through -LiteralPath' {
            (Get-LstmWeights (Join-Path $folder '[ab].safetensors')).Source | Select-Object -Unique | Should -Be @($a.FullName, $b.FullName)
            (Get-LstmWeights -LiteralPath $odd.FullName)[0].Source | Should -Be $odd.FullName
            (Get-LstmWeights -Path (Join-Path $folder 'odd`[1`].safetensors'))[0].Source | Should -Be $odd.FullName
        }

        It 'resolves a relative path against the PowerShell location, not the process folder' {
            Push-Location -LiteralPath $folder
            try {
                (Get-LstmWeights ./a.safetensors)[0].Source | Should -Be $a.FullName
                (Get-LstmWeights -LiteralPath 'odd[1].safetensors')[0].Source | Should -Be $odd.FullName
            } finally { Pop-Location }
        }
    }

    Context 'errors' {
        It 'reports a missing file with ErrorId FileNotFound and still reads the next path' {
            $out = Get-LstmWeights (Join-Path $TestDrive 'nope.safetensors'), $lstm.FullName -ErrorVariable err -ErrorAction SilentlyContinue
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'FileNotFound*'
            $err[0].TargetObject | Should -BeLike '*nope.safetensors'
            $out | Should -HaveCount 6
        }

        It 'reports FileNotFound as ObjectNotFound, names the file and sets $? to false' {
            $missing = Join-Path $TestDrive 'nope.safetensors'
            Get-LstmWeights $missing -ErrorVariable err -ErrorAction SilentlyContinue
            $ok = $?
            $ok | Should -BeFalse
            $err[0].FullyQualifiedErrorId | Should -Be 'FileNotFound,LstmPort.PowerShell.Commands.GetLstmWeightsCommand'
            $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $err[0].TargetObject | Should -Be $missing
            $err[0].Exception.Message | Should -BeLike "*$missing*"
        }

        It 'stops at the first error with -ErrorAction Stop, catchable with its ErrorId' {
            $missing = Join-Path $TestDrive 'nope.safetensors'
            { Get-LstmWeights $missing, $lstm.FullName -ErrorAction Stop } | Should -Throw -ErrorId 'FileNotFound,*'
            $caught = $null
            try { $null = Get-LstmWeights $missing -ErrorAction Stop } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -BeLike 'FileNotFound,*'
            $caught.Exception | Should -BeOfType LstmPort.LstmPortException
            $caught.Exception.ErrorId | Should -Be 'FileNotFound'
        }

        It 'writes nothing to the error stream with -ErrorAction Ignore' {
            $before = $Error.Count
            Get-LstmWeights (Join-Path $TestDrive 'nope.safetensors') -ErrorAction Ignore | Should -BeNullOrEmpty
            $Error.Count | Should -Be $before
        }

        It 'reports a file that is not a weight file as UnknownFormat' {
            $junk = Join-Path $TestDrive 'junk.bin'
            [IO.File]::WriteAllBytes($junk, [byte[]](1..200))
            Get-LstmWeights $junk -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'UnknownFormat*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $err[0].TargetObject | Should -Be $junk
        }

        It 'reports an empty file as EmptyFile' {
            $empty = Join-Path $TestDrive 'empty.pth'
            [IO.File]::WriteAllBytes($empty, [byte[]]@())
            Get-LstmWeights $empty -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'EmptyFile,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $err[0].TargetObject | Should -Be $empty
        }

        It 'reports a truncated safetensors header as TruncatedFile and emits nothing from it' {
            $cut = Join-Path $TestDrive 'cut.safetensors'
            [IO.File]::WriteAllBytes($cut, [IO.File]::ReadAllBytes($lstm.FullName)[0..19])
            Get-LstmWeights $cut -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'TruncatedFile,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $err[0].TargetObject | Should -Be $cut
        }

        It 'reports a folder as PathIsDirectory' {
            Get-LstmWeights $TestDrive -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'PathIsDirectory,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        }

        It 'refuses a path on another provider as NotAFileSystemPath' {
            Get-LstmWeights Env:PATH -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'NotAFileSystemPath,*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
            $err[0].TargetObject | Should -Be 'Env:PATH'
        }

        It 'reads the file as the -Format given and says what is wrong when it is not' {
            Get-LstmWeights $lstm.FullName -Format SafeTensors | Should -HaveCount 6
            Get-LstmWeights $lstm.FullName -Format PyTorch -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].Exception.Message | Should -BeLike '*not a valid PyTorch file*'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            { Get-LstmWeights $lstm.FullName -Format Pickle } | Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,*'
        }

        It 'refuses a pickle that names os.system with UnsafePickleGlobal' {
            $evil = Join-Path $TestDrive 'evil.pth'
            # PROTO 2, GLOBAL 'os system', STOP: refused at the GLOBAL opcode.
            [IO.File]::WriteAllBytes($evil, [byte[]](@(0x80, 2, 0x63) + [Text.Encoding]::ASCII.GetBytes("os`nsystem`n") + @(0x2e)))
            Get-LstmWeights $evil -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'UnsafePickleGlobal*'
            $err[0].CategoryInfo.Category | Should -Be 'SecurityError'
            $err[0].Exception.Message | Should -BeLike "*'os.system'*"
        }

        It 'refuses an HDF5 file whose soft links loop with CorruptFile, and the session goes on' -Skip:([bool](Get-PythonProblem h5py)) {
            # PureHDF would follow a -> b -> a until the stack overflows, which ends the whole process.
            $loop = Join-Path $TestDrive 'loop.h5'
            $null = & $PythonInterpreter -c @"
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f['model_weights/lstm/kernel:0'] = np.ones((2, 8), 'f4')
    f.attrs['layer_names'] = [b'lstm']
    f['model_weights/a'] = h5py.SoftLink('/model_weights/b')
    f['model_weights/b'] = h5py.SoftLink('/model_weights/a')
"@ $loop
            $LASTEXITCODE | Should -Be 0
            Get-LstmWeights $loop -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CorruptFile*'
            $err[0].Exception.Message | Should -BeLike "*soft link '/model_weights/?' does not resolve within 16 hops*"
            # Still here: the next command runs in the same process.
            @(Get-LstmWeights $lstm.FullName).Count | Should -Be 6
        }
    }

    It 'renders the table view' {
        $text = Get-LstmWeights $lstm.FullName | Format-Table | Out-String -Width 80
        $text | Should -Match '(?m)^\s+Source: '
        $text | Should -Match '(?m)^Name\s+Role\s+Shape\s+DType\s+Layout'
        $text | Should -Match '(?m)^lstm\.weight_ih_l0\s+Kernel\s+\[16,3\]\s+float32\s+Torch'
    }

    It 'renders the table without reading any tensor data' {
        $w = Get-LstmWeights $lstm.FullName
        $null = $w | Format-Table | Out-String
        @($w | Where-Object IsLoaded) | Should -HaveCount 0
    }

    It 'has full help' {
        $help = Get-Help Get-LstmWeights -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'LiteralPath'
    }
}

Describe 'Get-LstmWeights on PyTorch files as people save them (made by real torch)' {
    BeforeAll {
        $torchProblem = Get-PythonProblem torch
        $maker = Join-Path $PSScriptRoot 'LstmPort.Tests/Python/torch_checkpoints.py'
        function New-TorchFile([string] $Kind, [string] $Name = "$Kind.pt") {
            # Runs torch_checkpoints.py make: the file, and what torch itself reads from it.
            $path = Join-Path $TestDrive $Name
            $out = & $PythonInterpreter $maker make $path $Kind 2>$null
            if ($LASTEXITCODE -ne 0) { throw "torch_checkpoints.py make $Kind failed" }
            [pscustomobject]@{ Path = $path; Made = ($out -join "`n" | ConvertFrom-Json) }
        }
        if (-not $torchProblem) {
            $checkpoint = New-TorchFile checkpoint
            $namespace = New-TorchFile namespace
            $script = New-TorchFile script
        }
    }

    BeforeEach {
        if ($torchProblem) { Set-ItResult -Skipped -Because $torchProblem }
    }

    It 'reads the state_dict inside a {model, optimizer, epoch} checkpoint under the names load_state_dict wants' {
        $t = Get-LstmWeights $checkpoint.Path
        $t.Name | Should -Be @($checkpoint.Made.expected.PSObject.Properties.Name)
        $t.Name | Should -Contain 'encoder.norm.num_batches_tracked'
        ($t | Where-Object Name -EQ 'encoder.rnn.weight_hh_l1_reverse').ToArray() |
            Should -Be $checkpoint.Made.expected.'encoder.rnn.weight_hh_l1_reverse'.values
    }

    It 'says what it left out in verbose lines, and warns about nothing' {
        $verbose = Get-LstmWeights $checkpoint.Path -Verbose -WarningVariable w 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Be @(
            "$($checkpoint.Path): left out the optimizer and training state: optimizer (75 tensors)"
            "$($checkpoint.Path): left out 4 entries without weights: epoch, step, args, best_acc (a 0-dim tensor)")
        $w | Should -BeNullOrEmpty
    }

    It 'selects modules of a nested checkpoint with -Layer' {
        (Get-LstmWeights $checkpoint.Path -Layer encoder.rnn) | Should -HaveCount 16
        (Get-LstmWeights $checkpoint.Path -Layer 'encoder.*', head).Layer | Select-Object -Unique | Should -Be @('encoder.rnn', 'encoder.norm', 'head')
        (Get-LstmLayer -Path $checkpoint.Path | Where-Object LayerType -EQ LSTM).Layer | Select-Object -Unique | Should -Be 'encoder.rnn'
    }

    It 'refuses a checkpoint that pickles foreign objects with UnsafePickleGlobal naming them all' {
        Get-LstmWeights $namespace.Path -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -Be 'UnsafePickleGlobal,LstmPort.PowerShell.Commands.GetLstmWeightsCommand'
        $err[0].CategoryInfo.Category | Should -Be 'SecurityError'
        $err[0].TargetObject | Should -Be $namespace.Path
        foreach ($g in $namespace.Made.globals) { $err[0].Exception.Message | Should -BeLike "*'$g'*" }
    }

    It 'reads its tensors with -SkipUnsafeObjects and warns once with the globals it skipped' {
        $t = Get-LstmWeights $namespace.Path -SkipUnsafeObjects -WarningVariable w -WarningAction SilentlyContinue -ErrorVariable err
        $err | Should -BeNullOrEmpty
        $t.Name | Should -Be @($namespace.Made.expected.PSObject.Properties.Name)
        $w | Should -HaveCount 1
        "$($w[0])" | Should -BeLike "$($namespace.Path): skipped the objects of 6 Python globals*: $($namespace.Made.globals -join ', ')"
    }

    It 'reads a TorchScript archive as torch.jit.load(path).state_dict() names it' {
        $t = Get-LstmWeights $script.Path
        $t.Name | Should -Be @($script.Made.expected.PSObject.Properties.Name)
        ($t | Where-Object Name -EQ 'decoder.weight_ih_l0').LayerType | Should -Be 'GRU'
        Get-LstmWeights $script.Path -Format TorchScript | Should -HaveCount $t.Count
    }

    It 'gives each unreadable tensor its own error and still emits the others' {
        $damaged = Join-Path $TestDrive 'damaged.pt'
        $which = & $PythonInterpreter $maker damage $checkpoint.Path $damaged | ConvertFrom-Json
        $t = Get-LstmWeights $damaged -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be ($which.dropped.Count + $which.short.Count)
        ($err | Where-Object { $_.FullyQualifiedErrorId -like 'CorruptFile,*' }).Count | Should -Be $which.dropped.Count
        ($err | Where-Object { $_.FullyQualifiedErrorId -like 'TensorOutOfRange,*' }).Count | Should -Be $which.short.Count
        $err | ForEach-Object { $_.TargetObject | Should -Be $damaged }
        $t.Count | Should -Be (29 - $err.Count)
        $t.Name | Should -Not -Contain $which.dropped[0]
    }

    It 'refuses a pickle that nests MARKs without end with PickleLimitExceeded' {
        $bomb = Join-Path $TestDrive 'bomb.pth'
        [IO.File]::WriteAllBytes($bomb, [byte[]](@(0x80, 2) + @(0x28) * 20000 + @(0x2e)))
        Get-LstmWeights $bomb -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'PickleLimitExceeded,*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
    }
}

Describe 'Get-LstmWeights on real model files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    It 'presents Keras 1 per-gate arrays as one kernel in IFCO order' {
        $t = Get-LstmWeights (Join-Path $Fixtures 'dl4j-keras1-simple-lstm/simple_lstm_tf_keras_1_model.h5') -Layer lstm_1
        $t.Name | Should -Be @('lstm_1_W:0', 'lstm_1_U:0', 'lstm_1_b:0')
        $t.Role | Should -Be @('Kernel', 'RecurrentKernel', 'Bias')
        $t[1].Shape | Should -Be @(50, 200)
        $t[0].GateOrder | Should -Be 'IFCO'
        $t[0].Config['recurrent_activation'] | Should -Be 'hard_sigmoid'
    }

    It 'reads both halves of a Bidirectional layer' {
        $t = Get-LstmWeights (Join-Path $Fixtures 'medaka-keras215-bigru/medaka_model.hdf5') -Layer bidirectional_1
        $t | Should -HaveCount 6
        ($t | Where-Object Direction -eq 'Backward') | Should -HaveCount 3
        $t[2].Shape | Should -Be @(384)
        $t[0].Config['reset_after'] | Should -BeFalse
        $t[0].Config['merge_mode'] | Should -Be 'concat'
    }

    It 'reads a Keras 3 .keras archive' {
        $t = Get-LstmWeights (Join-Path $Fixtures 'keras3-martinpiz097-lstm-gru/gru_model.keras') -Layer gru
        $t.Role | Should -Be @('Kernel', 'RecurrentKernel', 'Bias')
        $t[2].Shape | Should -Be @(2, 384)
        $t[0].Config['reset_after'] | Should -BeTrue
        # The data is read on first use; ToArray and the reductions agree on it.
        $kernel = $t[0].ToArray()
        $kernel | Should -HaveCount 384
        $t[0].Sum() | Should -BeGreaterThan (($kernel | Measure-Object -Sum).Sum - 1e-3)
        $t[0].Sum() | Should -BeLessThan (($kernel | Measure-Object -Sum).Sum + 1e-3)
        $t[0].Max() | Should -Be ($kernel | Measure-Object -Maximum).Maximum
        $t[0].Min() | Should -Be ($kernel | Measure-Object -Minimum).Minimum
    }

    It 'warns once when settings are inferred' {
        $null = Get-LstmWeights (Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_weights.h5') -WarningVariable w -WarningAction SilentlyContinue
        $w | Should -HaveCount 1
    }

    It 'reads the stacked LSTM fixture' {
        $t = Get-LstmWeights (Join-Path $Fixtures 'chrisprasanna-torch-zip-stacked-lstm/lstm.pt')
        $t | Should -HaveCount 10
        ($t | Where-Object Name -EQ 'lstm.weight_ih_l1').StackIndex | Should -Be 1
        ($t | Where-Object Name -EQ 'lstm.weight_ih_l1').Shape | Should -Be @(256, 64)
    }

    It 'reads every file Get-ChildItem finds in a fixture folder' {
        $files = Get-ChildItem (Join-Path $Fixtures 'dl4j-keras-bidirectional-lstm') -Filter '*tensorflow_2.h5'
        $t = $files | Get-LstmWeights -WarningAction SilentlyContinue
        $t.Source | Select-Object -Unique | Should -Be $files.FullName
    }

    It 'reports an HDF5 file without weights as NotKerasFile and reads the other files of the call' {
        $data = Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_inputs_and_outputs.h5'
        $model = Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_model.h5'
        $t = Get-LstmWeights $data, $model -ErrorVariable err -ErrorAction SilentlyContinue
        $err | Should -HaveCount 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NotKerasFile,*'
        $err[0].TargetObject | Should -Be $data
        $t.Source | Select-Object -Unique | Should -Be $model
    }
}

Describe 'Get-LstmWeights on Keras 3 .weights.h5 files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    BeforeAll {
        # The weights file inside a fixture .keras archive, extracted here (never copied into the project):
        # alone, and beside its config.json and metadata.json as an unzipped archive would be.
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $archive = Join-Path $Fixtures 'keras3-martinpiz097-lstm-gru/lstm_model.keras'
        function Expand-TestEntry([string] $Archive, [string] $Folder, [string[]] $Entries) {
            $null = New-Item -ItemType Directory -Force $Folder
            $zip = [System.IO.Compression.ZipFile]::OpenRead($Archive)
            try { foreach ($e in $Entries) { [System.IO.Compression.ZipFileExtensions]::ExtractToFile($zip.GetEntry($e), (Join-Path $Folder $e), $true) } }
            finally { $zip.Dispose() }
        }
        Expand-TestEntry $archive (Join-Path $TestDrive 'alone') 'model.weights.h5'
        $alone = Join-Path $TestDrive 'alone/model.weights.h5'
        Expand-TestEntry $archive (Join-Path $TestDrive 'unzipped') 'model.weights.h5', 'config.json', 'metadata.json'
        $unzipped = Join-Path $TestDrive 'unzipped/model.weights.h5'
        $fromArchive = Get-LstmWeights $archive
    }

    It 'reads it without a config: the values of the .keras, one warning naming each layer''s assumed settings' {
        $t = Get-LstmWeights $alone -WarningVariable w -WarningAction SilentlyContinue
        $w | Should -HaveCount 1
        $w[0].Message | Should -Match 'no model config'
        $w[0].Message | Should -Match 'lstm \(activation, recurrent_activation, go_backwards, return_sequences, stateful\)'
        $w[0].Message | Should -Match 'Keras 3 defaults'
        $t.Name | Should -Be @('layers/dense/vars/0', 'layers/dense/vars/1', 'layers/lstm/cell/vars/0', 'layers/lstm/cell/vars/1', 'layers/lstm/cell/vars/2')
        $t.Layer | Select-Object -Unique | Should -Be @('dense_1', 'lstm')
        $kernel = $t | Where-Object Name -EQ 'layers/lstm/cell/vars/0'
        $kernel.LayerType | Should -Be 'LSTM'
        $kernel.Role | Should -Be 'Kernel'
        $kernel.Config['inferred'] | Should -Contain 'activation'
        $kernel.Config['recurrent_activation'] | Should -Be 'sigmoid'
        foreach ($x in $t) {
            $same = $fromArchive | Where-Object Name -EQ $x.Name
            Get-MaxAbsDifference $x.ToArray() $same.ToArray() | Should -Be 0 -Because $x.Name
        }
    }

    It 'says in Get-LstmLayer which settings were inferred' {
        $layers = Get-LstmLayer $alone -WarningAction SilentlyContinue
        ($layers | Where-Object Layer -EQ 'lstm').Inferred | Should -Be @('activation', 'recurrent_activation', 'go_backwards', 'return_sequences', 'stateful')
        ($layers | Where-Object Layer -EQ 'dense_1').Inferred | Should -Be @('activation')
        $table = $layers | Out-String -Width 80
        $table | Should -Match 'lstm\s+LSTM\s+128\s+1\s+no\s+66560\s+yes; inferred:'
        (Get-LstmLayer $alone -Config $archive).Inferred | Should -BeNullOrEmpty
    }

    It 'takes the config from -Config (a .keras or its config.json) or from a config.json beside the file' {
        foreach ($config in $archive, (Join-Path $TestDrive 'unzipped/config.json')) {
            $t = Get-LstmWeights $alone -Config $config -WarningVariable w
            $w | Should -BeNullOrEmpty
            $t.Layer | Select-Object -Unique | Should -Be @('lstm', 'dense_1')
            $t[0].Config.ContainsKey('inferred') | Should -BeFalse
            $t[0].Config['activation'] | Should -Be 'tanh'
        }
        $t = Get-LstmWeights $unzipped -WarningVariable w
        $w | Should -BeNullOrEmpty
        $t.Name | Should -Be $fromArchive.Name
        $t[0].Config['keras_version'] | Should -Be '3.11.2'
    }

    It 'writes one verbose line for the optimizer variables it leaves out' {
        $verbose = Get-LstmWeights $alone -WarningAction SilentlyContinue -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Contain "${alone}: left out 12 optimizer variables (optimizer/)"
        (Get-LstmWeights $alone -WarningAction SilentlyContinue).Name | Should -Not -Match 'optimizer'
    }

    It 'stops with FileNotFound, PathIsDirectory or NotKerasConfig when -Config is not a Keras model config' {
        $text = Join-Path $TestDrive 'notes.json'
        '{"hidden_size": 768}' | Set-Content $text
        $cases = @{ (Join-Path $TestDrive 'missing.json') = 'FileNotFound'; $TestDrive = 'PathIsDirectory'; $text = 'NotKerasConfig'; $alone = 'NotKerasConfig' }
        $categories = @{ FileNotFound = 'ObjectNotFound'; PathIsDirectory = 'InvalidArgument'; NotKerasConfig = 'InvalidData' }
        foreach ($config in $cases.Keys) {
            { Get-LstmWeights $alone -Config $config -ErrorAction Stop } | Should -Throw -ErrorId "$($cases[$config])*"
            # It ends the statement before any file is read: nothing comes out.
            $out = [System.Collections.Generic.List[object]]::new()
            $err = try { Get-LstmWeights $alone -Config $config | ForEach-Object { $out.Add($_) }; $null } catch { $_ }
            $out | Should -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike "$($cases[$config]),*"
            $err.TargetObject | Should -Be $config
            $err.CategoryInfo.Category | Should -Be $categories[$cases[$config]]
        }
    }

    It 'reads it as KerasWeights whatever its name, and the Keras 2 format refuses it with the way out' {
        $renamed = Join-Path $TestDrive 'weights.h5'
        Copy-Item $alone $renamed
        (Get-LstmWeights $renamed -WarningAction SilentlyContinue) | Should -HaveCount 5
        { Get-LstmWeights $renamed -Format KerasHdf5 -ErrorAction Stop } | Should -Throw -ErrorId 'NotKerasFile*' -ExpectedMessage '*-Format KerasWeights*'
    }
}
