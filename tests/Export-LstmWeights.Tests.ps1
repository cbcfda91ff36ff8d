#requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# At the top for discovery ($HasFixtures in -Skip), in BeforeAll for the run.
. (Join-Path $PSScriptRoot 'common.ps1')

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    Import-TestModule
}

Describe 'Export-LstmWeights' {
    BeforeAll {
        $source = New-TestSafetensors (Join-Path $TestDrive 'source.safetensors') ([ordered]@{
                'lstm.weight_ih_l0' = @(@(16, 3), (1..48))
                'lstm.weight_hh_l0' = @(@(16, 4), (1..64))
                'lstm.bias_ih_l0'   = @(@(16), (1..16))
                'lstm.bias_hh_l0'   = @(@(16), (1..16))
            })
        $names = 'lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0'
        # Every test writes into its own empty folder, so leftovers are easy to see.
        function New-OutFolder { New-Item -ItemType Directory (Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))) }
    }

    It 'writes a .pth that Get-LstmWeights reads back with the same names and values' {
        $out = Join-Path $TestDrive 'round.pth'
        $file = Get-LstmWeights $source.FullName | Export-LstmWeights $out -PassThru
        $file | Should -BeOfType System.IO.FileInfo
        $file.FullName | Should -Be $out
        $back = Get-LstmWeights $out
        $back.Name | Should -Be $names
        $back[0].Role | Should -Be 'Kernel'
        $back[1].Sum() | Should -Be 2080
        $back[0].ToArray() | Should -Be (1..48)
        $back[3].ToArray() | Should -Be (1..16)
        $back.DType | Should -Be @('float32', 'float32', 'float32', 'float32')
    }

    It 'writes .safetensors by extension and any name with -Format' {
        $st = Join-Path $TestDrive 'round.safetensors'
        Get-LstmWeights $source.FullName | Export-LstmWeights $st
        (Get-LstmWeights $st).Count | Should -Be 4
        (Get-LstmWeights $st)[1].ToArray() | Should -Be (1..64)
        $bin = Join-Path $TestDrive 'weights.bin'
        Get-LstmWeights $source.FullName | Export-LstmWeights $bin -Format PyTorch
        (Get-LstmWeights $bin -Format PyTorch).Count | Should -Be 4
    }

    It 'writes converted tensors: a Keras layout as .h5 that reads back as the same Keras tensors' {
        $keras = Get-LstmWeights $source.FullName | ConvertTo-KerasLayout
        $out = Join-Path (New-OutFolder) 'keras.h5'
        $keras | Export-LstmWeights $out
        $back = Get-LstmWeights $out -WarningAction SilentlyContinue
        $back.Role | Should -Be @('Kernel', 'RecurrentKernel', 'Bias')
        $back.Layout | Should -Be @('Keras', 'Keras', 'Keras')
        for ($i = 0; $i -lt 3; $i++) { Get-MaxAbsDifference $back[$i].ToArray() $keras[$i].ToArray() | Should -Be 0 }
    }

    Context 'pipeline input' {
        It 'writes the tensors in the order they arrive, whether piped, given to -InputObject or by position' {
            $t = Get-LstmWeights $source.FullName
            $folder = New-OutFolder
            $t[3], $t[0] | Export-LstmWeights (Join-Path $folder 'piped.pth')
            Export-LstmWeights -Path (Join-Path $folder 'named.pth') -InputObject $t[3], $t[0]
            Export-LstmWeights (Join-Path $folder 'positional.pth') $t[3], $t[0]
            foreach ($name in 'piped', 'named', 'positional') {
                (Get-LstmWeights (Join-Path $folder "$name.pth")).Name | Should -Be @('lstm.bias_hh_l0', 'lstm.weight_ih_l0')
            }
        }

        It 'collects tensors from several files into one' {
            $other = New-TestTorchLstm (Join-Path $TestDrive 'other.safetensors') -Module enc
            $out = Join-Path (New-OutFolder) 'both.safetensors'
            Get-LstmWeights $source.FullName, $other.FullName | Export-LstmWeights $out
            (Get-LstmWeights $out).Count | Should -Be 14
        }

        It 'resolves a relative path against the PowerShell location, not the process folder' {
            $folder = New-OutFolder
            Push-Location -LiteralPath $folder
            try { $file = Get-LstmWeights $source.FullName | Export-LstmWeights ./relative.pth -PassThru }
            finally { Pop-Location }
            $file.FullName | Should -Be (Join-Path $folder 'relative.pth')
            Test-Path (Join-Path $folder 'relative.pth') | Should -BeTrue
        }
    }

    It 'takes -Path as the file name, wildcard characters and all (reading it back needs -LiteralPath)' {
        $folder = New-OutFolder
        $file = Get-LstmWeights $source.FullName | Export-LstmWeights (Join-Path $folder 'run[1].pth') -PassThru
        $file.Name | Should -Be 'run[1].pth'
        (Get-LstmWeights -LiteralPath $file.FullName).Name | Should -Be $names
        Get-LstmWeights $source.FullName | Export-LstmWeights (Join-Path $folder 'run[1].pth') -Force
        (Get-ChildItem -LiteralPath $folder).Name | Should -Be 'run[1].pth'
    }

    Context 'ShouldProcess' {
        It 'writes nothing with -WhatIf' {
            $out = Join-Path $TestDrive 'whatif.pth'
            Get-LstmWeights $source.FullName | Export-LstmWeights $out -WhatIf
            Test-Path $out | Should -BeFalse
        }

        It 'writes no temporary file and returns nothing with -WhatIf -PassThru' {
            $folder = New-OutFolder
            $result = Get-LstmWeights $source.FullName | Export-LstmWeights (Join-Path $folder 'w.pth') -WhatIf -PassThru
            $result | Should -BeNullOrEmpty
            Get-ChildItem -Force $folder | Should -BeNullOrEmpty
        }

        It 'leaves an existing file alone with -WhatIf -Force' {
            $out = Join-Path (New-OutFolder) 'keep.pth'
            Set-Content $out 'precious'
            Get-LstmWeights $source.FullName | Export-LstmWeights $out -WhatIf -Force
            Get-Content $out | Should -Be 'precious'
        }

        It 'writes without asking with -Confirm:$false, even when $ConfirmPreference asks for everything' {
            $out = Join-Path (New-OutFolder) 'confirmed.pth'
            $ConfirmPreference = 'Low'
            Get-LstmWeights $source.FullName | Export-LstmWeights $out -Confirm:$false
            (Get-LstmWeights $out).Name | Should -Be $names
        }

        It 'honours $WhatIfPreference' {
            $out = Join-Path (New-OutFolder) 'preference.pth'
            $WhatIfPreference = $true
            Get-LstmWeights $source.FullName | Export-LstmWeights $out
            $WhatIfPreference = $false
            Test-Path $out | Should -BeFalse
        }
    }

    Context 'errors' {
        It 'refuses to overwrite without -Force and leaves the file untouched' {
            $out = Join-Path $TestDrive 'exists.pth'
            Set-Content $out 'precious'
            { Get-LstmWeights $source.FullName | Export-LstmWeights $out -ErrorAction Stop } |
                Should -Throw -ErrorId 'FileExists*'
            Get-Content $out | Should -Be 'precious'
            Get-LstmWeights $source.FullName | Export-LstmWeights $out -Force
            (Get-LstmWeights $out).Count | Should -Be 4
        }

        It 'ends the statement with FileExists (ResourceExists, the path as target), as Export-Csv -NoClobber does' {
            $out = Join-Path (New-OutFolder) 'exists.pth'
            Set-Content $out 'precious'
            $t = Get-LstmWeights $source.FullName
            # Statement-terminating: try/catch catches it without -ErrorAction Stop, and
            # -ErrorAction SilentlyContinue does not hide it.
            $caught = $null
            try { $t | Export-LstmWeights $out -PassThru } catch { $caught = $_ }
            $caught | Should -BeOfType System.Management.Automation.ErrorRecord
            $caught.FullyQualifiedErrorId | Should -Be 'FileExists,LstmPort.PowerShell.Commands.ExportLstmWeightsCommand'
            $caught.CategoryInfo.Category | Should -Be 'ResourceExists'
            $caught.TargetObject | Should -Be $out
            $caught.Exception | Should -BeOfType LstmPort.LstmPortException
            $caught.Exception.Message | Should -BeLike '*-Force*'
            { $t | Export-LstmWeights $out -ErrorAction SilentlyContinue } | Should -Throw -ErrorId 'FileExists,*'
            Get-Content $out | Should -Be 'precious'
        }

        It 'reports empty input and duplicate names and writes nothing' {
            $out = Join-Path $TestDrive 'bad.pth'
            { @() | Export-LstmWeights $out -ErrorAction Stop } | Should -Throw -ErrorId 'NoTensors*'
            $t = Get-LstmWeights $source.FullName
            { $t[0], $t[0] | Export-LstmWeights $out -ErrorAction Stop } | Should -Throw -ErrorId 'DuplicateTensorName*'
            Test-Path $out | Should -BeFalse
        }

        It 'names the duplicated tensor as the target (InvalidArgument); NoTensors is InvalidData, as when a file holds none' {
            $t = Get-LstmWeights $source.FullName
            $caught = $null
            try { $t[0], $t[1], $t[0] | Export-LstmWeights (Join-Path $TestDrive 'dup.pth') } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -BeLike 'DuplicateTensorName,*'
            $caught.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $caught.TargetObject | Should -Be 'lstm.weight_ih_l0'
            $caught = $null
            try { @() | Export-LstmWeights (Join-Path $TestDrive 'none.pth') } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -BeLike 'NoTensors,*'
            $caught.CategoryInfo.Category | Should -Be 'InvalidData'
        }

        It 'refuses an extension it cannot write (UnknownFormat), a missing folder, a folder and another provider' {
            $t = Get-LstmWeights $source.FullName
            $folder = New-OutFolder
            $cases = @(
                @{ Path = (Join-Path $folder 'x.xyz'); Id = 'UnknownFormat'; Category = 'InvalidData' } # one category per id, as when reading
                @{ Path = (Join-Path $folder 'no/x.pth'); Id = 'DirectoryNotFound'; Category = 'ObjectNotFound' }
                @{ Path = [string](New-Item -ItemType Directory (Join-Path $folder 'folder.pth')); Id = 'PathIsDirectory'; Category = 'InvalidArgument' }
                @{ Path = 'Env:LSTMPORT_NOT_A_FILE'; Id = 'NotAFileSystemPath'; Category = 'InvalidArgument' }
            )
            foreach ($case in $cases) {
                $caught = $null
                try { $t | Export-LstmWeights $case.Path } catch { $caught = $_ }
                $caught.FullyQualifiedErrorId | Should -BeLike "$($case.Id),*" -Because $case.Path
                $caught.CategoryInfo.Category | Should -Be $case.Category -Because $case.Path
                $caught.TargetObject | Should -Be $case.Path
            }
            (Get-ChildItem -Force $folder).Name | Should -Be 'folder.pth'
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

        It 'keeps the old file whole when an overwrite with -Force fails' {
            $copy = Join-Path $TestDrive 'shrinking2.safetensors'
            Copy-Item $source.FullName $copy
            $t = Get-LstmWeights $copy
            $f = [IO.File]::Open($copy, 'Open', 'ReadWrite'); $f.SetLength($f.Length - 100); $f.Dispose()
            $folder = New-OutFolder
            $out = Join-Path $folder 'deployed.pth'
            Set-Content $out 'precious'
            { $t | Export-LstmWeights $out -Force -ErrorAction Stop } | Should -Throw -ErrorId 'TruncatedFile*'
            Get-Content $out | Should -Be 'precious'
            (Get-ChildItem -Force $folder).Name | Should -Be 'deployed.pth'
        }
    }

    Context 'read by real PyTorch (/usr/bin/python3 with torch)' {
        BeforeAll {
            $torchProblem = Get-PythonProblem torch
            $readStateDict = @'
import json, sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
print(json.dumps([{"name": k, "dtype": str(v.dtype), "shape": list(v.shape), "values": v.flatten().tolist()} for k, v in sd.items()]))
'@
        }

        It 'round-trips through real PyTorch when python3 with torch is available' {
            if ($torchProblem) { Set-ItResult -Skipped -Because $torchProblem }
            $out = Join-Path $TestDrive 'torch.pth'
            Get-LstmWeights $source.FullName | Export-LstmWeights $out
            $sd = Invoke-TestPython $readStateDict $out
            $sd.name | Should -Be $names
            $sd.dtype | Should -Be @('torch.float32', 'torch.float32', 'torch.float32', 'torch.float32')
            $sd[0].shape | Should -Be @(16, 3)
            $sd[1].values | Should -Be (1..64)
            ($sd[1].values | Measure-Object -Sum).Sum | Should -Be 2080
        }

        It 'writes a state_dict that nn.LSTM and nn.Linear load strictly, with every value as LstmPort has it' {
            if ($torchProblem) { Set-ItResult -Skipped -Because $torchProblem }
            $t = Get-LstmWeights (New-TestTorchLstm (Join-Path $TestDrive 'stack.safetensors')).FullName | ConvertTo-KerasLayout | ConvertTo-TorchLayout -StackAs lstm
            $out = Join-Path (New-OutFolder) 'model.pt'
            $t | Export-LstmWeights $out
            $load = @'
import json, sys, torch
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, num_layers=2)
        self.head = torch.nn.Linear(4, 2)
m = M()
m.load_state_dict(torch.load(sys.argv[1], weights_only=True), strict=True)
print(json.dumps({k: v.detach().flatten().tolist() for k, v in m.state_dict().items()}))
'@
            $loaded = Invoke-TestPython $load $out
            foreach ($tensor in $t) {
                Get-MaxAbsDifference ([double[]]$loaded.($tensor.Name)) $tensor.ToArray() | Should -Be 0 -Because $tensor.Name
            }
        }
    }

    It 'has full help' {
        $help = Get-Help Export-LstmWeights -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $help.parameters.parameter.name | Should -Contain 'PassThru'
    }
}

Describe 'Export-LstmWeights on real model files (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    BeforeAll {
        $torchProblem = Get-PythonProblem torch, h5py
    }

    It 'writes a Keras .h5 weights file from Keras tensors and refuses other layouts' {
        $source = New-TestSafetensors (Join-Path $TestDrive 'source.safetensors') ([ordered]@{ 'lstm.weight_ih_l0' = @(@(16, 3), (1..48)); 'lstm.weight_hh_l0' = @(@(16, 4), (1..64)) })
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

    It 'writes an .h5 whose layer and weight names h5py reads as Keras writes them' {
        if ($torchProblem) { Set-ItResult -Skipped -Because $torchProblem }
        $real = Join-Path $Fixtures 'dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_model.h5'
        $out = Join-Path $TestDrive 'names.h5'
        Get-LstmWeights $real | Export-LstmWeights $out
        $h5 = Invoke-TestPython @'
import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
layers = [s(n) for n in f.attrs["layer_names"]]
print(json.dumps({"layers": layers, "weights": {l: [s(w) for w in f[l].attrs["weight_names"]] for l in layers},
                  "kernel": f["lstm_1"]["lstm_1/kernel:0"][()].flatten().tolist()}))
'@ $out
        $h5.layers | Should -Be @('lstm_1', 'dense_1')
        $h5.weights.lstm_1 | Should -Be @('lstm_1/kernel:0', 'lstm_1/recurrent_kernel:0', 'lstm_1/bias:0')
        $kernel = Get-LstmWeights $real -Layer lstm_1 | Where-Object Role -EQ 'Kernel'
        Get-MaxAbsDifference ([double[]]$h5.kernel) $kernel.ToArray() | Should -Be 0
    }

    It 'converts a trained Keras SimpleRNN that real PyTorch runs to the outputs Keras gave' {
        if ($torchProblem) { Set-ItResult -Skipped -Because $torchProblem }
        $folder = Join-Path $Fixtures 'dl4j-keras2-simple-rnn'
        $out = Join-Path $TestDrive 'simple_rnn.pth'
        Get-LstmWeights (Join-Path $folder 'simple_rnn_tf_keras_2_model.h5') | ConvertTo-TorchLayout | Export-LstmWeights $out
        # Keras' own predictions for its inputs are stored beside the model (PROVENANCE.txt).
        $check = Invoke-TestPython @'
import h5py, json, sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
rnn = torch.nn.RNN(1, 50, batch_first=True)
rnn.load_state_dict({k.split(".", 1)[1]: v for k, v in sd.items() if k.startswith("simple_rnn_1.")}, strict=True)
dense = torch.nn.Linear(50, 1)
dense.load_state_dict({k.split(".", 1)[1]: v for k, v in sd.items() if k.startswith("dense_1.")}, strict=True)
f = h5py.File(sys.argv[2], "r")
x = torch.tensor(f["inputs/simple_rnn_1_input"][()])
expected = torch.tensor(f["predictions/dense_1"][()])
with torch.no_grad():
    _, h = rnn(x)
    y = dense(h[-1])
print(json.dumps({"keys": list(sd.keys()), "max_abs_error": float((y - expected).abs().max()), "n": y.numel()}))
'@ $out, (Join-Path $folder 'simple_rnn_tf_keras_2_inputs_and_outputs.h5')
        $check.keys | Should -Be @('simple_rnn_1.weight_ih_l0', 'simple_rnn_1.weight_hh_l0', 'simple_rnn_1.bias_ih_l0', 'simple_rnn_1.bias_hh_l0', 'dense_1.weight', 'dense_1.bias')
        $check.n | Should -Be 25
        $check.max_abs_error | Should -BeLessThan 1e-5
    }
}

Describe 'Export-LstmWeights to Keras 3 .weights.h5 (../shared/fixtures)' -Skip:(-not $HasFixtures) {
    BeforeAll {
        $pythonProblem = Get-PythonProblem torch, h5py
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $archive = Join-Path $Fixtures 'keras3-martinpiz097-lstm-gru/lstm_model.keras'
        $zip = [System.IO.Compression.ZipFile]::OpenRead($archive)
        $inner = Join-Path $TestDrive 'inner.weights.h5'
        try { [System.IO.Compression.ZipFileExtensions]::ExtractToFile($zip.GetEntry('model.weights.h5'), $inner) } finally { $zip.Dispose() }
    }

    It 'writes the groups, names and bytes Keras 3 wrote, leaving the optimizer out' {
        if ($pythonProblem) { Set-ItResult -Skipped -Because $pythonProblem }
        $out = Join-Path $TestDrive 'out.weights.h5'
        Get-LstmWeights $inner -Config $archive | Export-LstmWeights $out
        $compare = Invoke-TestPython @'
import h5py, json, sys
def walk(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, {"attrs": {k: str(o.attrs[k]) for k in o.attrs},
            "data": o[()].tobytes().hex() if isinstance(o, h5py.Dataset) else None,
            "dtype": o.dtype.str if isinstance(o, h5py.Dataset) else None}))
        out["/"] = {"attrs": {k: str(f.attrs[k]) for k in f.attrs}}
    return out
ours, theirs = walk(sys.argv[1]), walk(sys.argv[2])
print(json.dumps({"ours": sorted(ours), "theirs": sorted(theirs),
    "same_data": all(ours[k]["data"] == theirs[k]["data"] and ours[k]["dtype"] == theirs[k]["dtype"] for k in ours if ours[k].get("data")),
    "names": {k: ours[k]["attrs"].get("name") for k in ours if k.endswith("vars")},
    "root_attrs": len(ours["/"]["attrs"])}))
'@ $out, $inner
        $expected = $compare.theirs | Where-Object { $_ -notmatch '^(optimizer|layers/dropout)' }
        $compare.ours | Should -Be $expected
        $compare.same_data | Should -BeTrue
        $compare.names.'layers/lstm/vars' | Should -Be 'lstm'
        $compare.names.'layers/lstm/cell/vars' | Should -Be 'lstm_cell'
        $compare.names.'layers/dense/vars' | Should -Be 'dense_1'
        $compare.root_attrs | Should -Be 0
    }

    It 'chooses Keras 3 for a .weights.h5 name or -Format KerasWeights, tf.keras 2 for another .h5' {
        $t = Get-LstmWeights $inner -Config $archive
        $k3 = Join-Path $TestDrive 'x.weights.h5'
        $k2 = Join-Path $TestDrive 'x.h5'
        $bin = Join-Path $TestDrive 'x.bin'
        $t | Export-LstmWeights $k3
        $t | Export-LstmWeights $k2
        $t | Export-LstmWeights $bin -Format KerasWeights
        (Get-LstmWeights $k3 -Config $archive).Name | Should -Be $t.Name
        (Get-LstmWeights $bin -Config $archive).Name | Should -Be $t.Name
        (Get-LstmWeights $k2 -WarningAction SilentlyContinue).Name | Should -Be @('layers/lstm/cell/vars/0', 'layers/lstm/cell/vars/1', 'layers/lstm/cell/vars/2', 'layers/dense/vars/0', 'layers/dense/vars/1')
        { Get-LstmWeights $k3 -Format KerasHdf5 -ErrorAction Stop } | Should -Throw -ErrorId 'NotKerasFile*'
    }

    It 'refuses tensors of another layout and writes nothing' {
        $torch = New-TestTorchLstm (Join-Path $TestDrive 'torch.safetensors')
        $out = Join-Path $TestDrive 'refused.weights.h5'
        { Get-LstmWeights $torch.FullName | Export-LstmWeights $out -ErrorAction Stop } | Should -Throw -ErrorId 'NotKerasLayout*'
        Test-Path $out | Should -BeFalse
        Get-ChildItem $TestDrive -Filter '.refused*' -Force | Should -BeNullOrEmpty
    }

    It 'converts what it reads back to a .pth that nn.LSTM loads strictly and runs as the Keras equations say' {
        if ($pythonProblem) { Set-ItResult -Skipped -Because $pythonProblem }
        $written = Join-Path $TestDrive 'written.weights.h5'
        $pth = Join-Path $TestDrive 'lstm.pth'
        Get-LstmWeights $inner -Config $archive | Export-LstmWeights $written -Force
        $k = Get-LstmWeights $written -Config $archive
        $k | ConvertTo-TorchLayout | Export-LstmWeights $pth
        $check = Test-LstmEquivalence $k ($k | ConvertTo-TorchLayout)
        $check.Passed | Should -Be @($true, $true)
        # Independently of LstmPort: h5py reads the Keras 3 weights Keras wrote, numpy runs Keras's LSTM, torch runs the .pth.
        $run = Invoke-TestPython @'
import h5py, json, sys, numpy as np, torch
f = h5py.File(sys.argv[2], "r")
K, R, B = (np.array(f[f"layers/lstm/cell/vars/{i}"], dtype=np.float64) for i in range(3))
Wd, bd = np.array(f["layers/dense/vars/0"], dtype=np.float64), np.array(f["layers/dense/vars/1"], dtype=np.float64)
x = np.random.default_rng(3).uniform(-1, 1, (2, 9, 1))
sig = lambda v: 1 / (1 + np.exp(-v))
h, c = np.zeros((2, 128)), np.zeros((2, 128))
for t in range(9):
    i, fg, g, o = np.split(x[:, t] @ K + h @ R + B, 4, axis=1)
    c = sig(fg) * c + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
keras = h @ Wd + bd
sd = torch.load(sys.argv[1], weights_only=True)
lstm = torch.nn.LSTM(1, 128, batch_first=True).double()
lstm.load_state_dict({k[len("lstm."):]: v.double() for k, v in sd.items() if k.startswith("lstm.")}, strict=True)
head = torch.nn.Linear(128, 1).double()
head.load_state_dict({k[len("dense_1."):]: v.double() for k, v in sd.items() if k.startswith("dense_1.")}, strict=True)
with torch.no_grad():
    out, _ = lstm(torch.from_numpy(x))
    y = head(out[:, -1]).numpy()
print(json.dumps({"keys": list(sd), "max_abs_error": float(np.abs(y - keras).max())}))
'@ $pth, $inner
        $run.keys | Should -Be @('lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0', 'dense_1.weight', 'dense_1.bias')
        $run.max_abs_error | Should -BeLessThan 1e-9
    }
}
