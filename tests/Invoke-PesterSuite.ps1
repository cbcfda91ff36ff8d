#requires -Version 7.4
<#
.SYNOPSIS
    Runs the Pester suite (tests/*.Tests.ps1) against the built module in out/LstmPort.
.DESCRIPTION
    Uses Pester 5.9.1 from the NuGet cache (restored by the test project's PackageDownload), or an
    installed Pester 5. Writes NUnit XML when -ResultFile is given, shows one closing line
    'Pester: N passed, N failed, N skipped' and returns Pester's result object with -PassThru.
.EXAMPLE
    dotnet pwsh ./tests/Invoke-PesterSuite.ps1
.EXAMPLE
    dotnet pwsh ./tests/Invoke-PesterSuite.ps1 -Path ./tests/Get-LstmWeights.Tests.ps1 -Output Detailed
#>
[CmdletBinding()]
param(
    [string[]] $Path = $PSScriptRoot,
    [string] $ResultFile,
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $Output = 'Normal',
    [switch] $PassThru
)
$ErrorActionPreference = 'Stop'

function Find-Pester {
    $roots = @($env:NUGET_PACKAGES) + @(
        (dotnet nuget locals global-packages --list 2>$null) -replace '^global-packages:\s*', ''
    ) + @(Join-Path $HOME '.nuget/packages') | Where-Object { $_ }
    foreach ($root in $roots) {
        $manifest = Join-Path $root 'pester/5.9.1/tools/Pester.psd1'
        if (Test-Path $manifest) { return $manifest }
    }
    $installed = Get-Module -ListAvailable Pester | Where-Object Version -GE '5.0' | Sort-Object Version -Descending | Select-Object -First 1
    if ($installed) { return $installed.Path }
    throw 'Pester 5 was not found: restore the test project (dotnet restore) or Install-Module Pester.'
}

Import-Module (Find-Pester) -Force
$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Output.Verbosity = $Output
if ($ResultFile) {
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputFormat = 'NUnitXml'
    $config.TestResult.OutputPath = $ResultFile
}
# The tests set their own error preferences; the caller's 'Stop' must not leak into them.
$result = & { $ErrorActionPreference = 'Continue'; Invoke-Pester -Configuration $config }
# Discovery or container failures (a broken file) count as failures too.
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
# Pester's -Skip carries no reason: say here why the tests on the real model files were skipped.
. (Join-Path $PSScriptRoot 'common.ps1')
if (-not $HasFixtures) { Write-Host $NoFixturesReason }
Write-Host "Pester: $($result.PassedCount) passed, $failed failed, $($result.SkippedCount) skipped"
if ($PassThru) { $result }
