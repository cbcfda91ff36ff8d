#requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and cleans LstmPort.
.DESCRIPTION
    Builds the solution, which assembles the importable module in out/LstmPort (or
    out/<runtime>/LstmPort for another runtime). -Test runs the xunit suite, then the Pester suite
    in tests/ when Pester 5 is installed. -Docs regenerates en-US MAML help from docs/*.md with
    PlatyPS 1.0 when it is installed (the build itself converts docs/*.md without PlatyPS).
.EXAMPLE
    ./build.ps1 -Test
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
    [switch] $Docs,
    [switch] $Clean
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

$runtimeArgs = if ($Runtime) { @("-p:RuntimeIdentifier=$Runtime") } else { @() }

if ($Clean) {
    dotnet clean LstmPort.PowerShell.sln -c $Configuration @runtimeArgs
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue ./out
    return
}

if ($Docs) {
    if (-not (Get-Module -ListAvailable Microsoft.PowerShell.PlatyPS)) {
        Write-Warning 'Microsoft.PowerShell.PlatyPS is not installed; the build converts docs/*.md itself.'
    } else {
        Import-Module Microsoft.PowerShell.PlatyPS
        $help = Get-ChildItem ./docs -Filter *-*.md | Import-MarkdownCommandHelp
        # PlatyPS names the file after the module (LstmPort-Help.xml; older builds put it in a LstmPort folder);
        # PowerShell looks for it under the cmdlet assembly's name.
        $maml = $help | Export-MamlCommandHelp -OutputFolder ./out/maml -Force | Select-Object -First 1
        if (-not $maml) { $maml = Get-ChildItem ./out/maml -Recurse -Filter *-Help.xml | Select-Object -First 1 }
        Copy-Item $maml.FullName ./en-US/LstmPort.PowerShell.dll-Help.xml -Force
    }
}

if ($Runtime) {
    # Only the module for another platform: tests need this machine's natives.
    dotnet build src/LstmPort.PowerShell -c $Configuration @runtimeArgs
} else {
    dotnet build LstmPort.PowerShell.sln -c $Configuration
}
if ($LASTEXITCODE) { throw "dotnet build failed ($LASTEXITCODE)" }

if ($Test) {
    dotnet test LstmPort.PowerShell.sln -c $Configuration --no-build
    if ($LASTEXITCODE) { throw "xunit tests failed ($LASTEXITCODE)" }
    if (Get-Module -ListAvailable Pester | Where-Object Version -GE '5.0') {
        $result = Invoke-Pester ./tests -PassThru -Output Detailed
        if ($result.FailedCount) { throw "$($result.FailedCount) Pester tests failed" }
    } else {
        Write-Warning 'Pester 5 is not installed; skipped tests/*.Tests.ps1 (Install-Module Pester).'
    }
}
