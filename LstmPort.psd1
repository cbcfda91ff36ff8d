@{
    # ModuleVersion is the project's one version source: the build reads it from here for the
    # assemblies' version, so the module and its dlls never disagree.
    RootModule           = 'LstmPort.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5d1f3a52-7c1e-4c7a-9a57-2f0c4f3e8b61'
    Author               = 'LstmPort contributors'
    CompanyName          = 'LstmPort'
    Copyright            = '(c) LstmPort contributors. MIT License.'
    Description          = 'Moves trained recurrent-network weights (LSTM, GRU, SimpleRNN; stacked and bidirectional) between Keras/TensorFlow and PyTorch, and proves numerically that the result computes the same thing.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('LstmPort.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-LstmWeights'
        'Export-LstmWeights'
        'Get-LstmLayer'
        'ConvertTo-TorchLayout'
        'ConvertTo-KerasLayout'
        'ConvertTo-OnnxLayout'
        'Split-LstmBias'
        'Merge-LstmBias'
        'Test-LstmEquivalence'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('LSTM', 'GRU', 'RNN', 'Keras', 'TensorFlow', 'PyTorch', 'TorchSharp', 'HDF5', 'safetensors')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ProjectUri   = 'https://github.com/lstmport/lstmport'
        }
    }
}
