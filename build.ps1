#requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and cleans LstmPort.
.DESCRIPTION
    Builds the solution, which assembles the importable module in out/LstmPort (or
    out/<runtime>/LstmPort for another runtime). -Test runs the xunit suite, then the Pester suite
    in tests/ against out/LstmPort (Pester 5.9.1 from the NuGet cache), and ends with one line
    'N passed, N failed, N skipped' counting both; it exits 1 when a test failed.

    Help: every build generates the MAML help (en-US/LstmPort.PowerShell.dll-Help.xml in the module
    folder) from docs/*.md, the PlatyPS 1.0 markdown, with tools/LstmPort.HelpGen; a malformed page
    fails the build with its file and line. No generated help is tracked, and PlatyPS is not needed.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 -Test
.EXAMPLE
    ./build.ps1 -Runtime win-x64 -Configuration Release
#>
[CmdletBinding()]
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',
    [ValidateSet('linux-x64', 'win-x64', 'osx-arm64')]
    [string] $Runtime,
    [switch] $Test,
    [switch] $Clean,
    # Where -Test writes its reports (xunit.trx, pester.xml); out/TestResults by default.
    [string] $ResultsDirectory
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

# @(...) around the if: a one-element result would otherwise be a string, and @runtimeArgs would splat its characters.
$runtimeArgs = @(if ($Runtime) { "-p:RuntimeIdentifier=$Runtime" })

if ($Clean) {
    dotnet clean LstmPort.PowerShell.sln -c $Configuration @runtimeArgs
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue ./out
    return
}

if ($Runtime) {
    # Only the module for another platform: tests need this machine's natives.
    dotnet build src/LstmPort.PowerShell -c $Configuration @runtimeArgs
} else {
    dotnet build LstmPort.PowerShell.sln -c $Configuration
}
if ($LASTEXITCODE) { throw "dotnet build failed ($LASTEXITCODE)" }

if ($Test) {
    # Both suites run whatever the first one gives; the closing line counts both.
    $results = if ($ResultsDirectory) { $ResultsDirectory } else { Join-Path $PSScriptRoot 'out/TestResults' }
    New-Item -ItemType Directory -Force $results | Out-Null
    $trx = Join-Path $results 'xunit.trx'
    Remove-Item $trx -ErrorAction Ignore
    dotnet test LstmPort.PowerShell.sln -c $Configuration --no-build --logger 'console;verbosity=normal' --logger "trx;LogFileName=$trx" --results-directory $results
    $xunit = if (Test-Path $trx) {
        $counters = ([xml](Get-Content -Raw $trx)).TestRun.ResultSummary.Counters
        [pscustomobject]@{ Passed = [int]$counters.passed; Failed = [int]$counters.failed; Skipped = [int]$counters.total - [int]$counters.executed }
    } else {
        Write-Warning 'xunit wrote no test report (did the test host start?)'
        [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 }
    }
    "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped"

    $pester = & ./tests/Invoke-PesterSuite.ps1 -ResultFile (Join-Path $results 'pester.xml') -PassThru | Select-Object -Last 1
    $pesterFailed = $pester.FailedCount + $pester.FailedBlocksCount + $pester.FailedContainersCount

    $passed = $xunit.Passed + $pester.PassedCount
    $failed = $xunit.Failed + $pesterFailed
    "$passed passed, $failed failed, $($xunit.Skipped + $pester.SkippedCount) skipped"
    if ($failed) { exit 1 }
}
