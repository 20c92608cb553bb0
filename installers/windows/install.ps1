<#
.SYNOPSIS
    Unattended install (or upgrade) of the Mask Rationing Pharmacy Agent on one Windows PC.

.DESCRIPTION
    1. writes C:\ProgramData\mask-agent\agent.toml (pharmacy code, server URL, token, CA) in a
       folder only SYSTEM, Administrators and the service account can read;
    2. runs the MSI silently (msiexec /qn); the MSI never overwrites an existing agent.toml, so the
       config written here is the one the service uses;
    3. adds -CounterUsers to the local group "Mask Counter" (created by the MSI; its members may
       use the counter screen, everyone else is refused by the agent's pipe);
    4. restarts the MaskAgent service and runs "mask-agent doctor".
    Run from an elevated PowerShell, e.g. through your software-distribution tool.

.PARAMETER PharmacyCode
    The pharmacy's 10-character NHI institution code, e.g. 5901012345.
.PARAMETER Token
    The API token issued for this pharmacy by the central office.
.PARAMETER ServerUrl
    The central API, e.g. https://mask-api.example.gov.tw (only this host and port must be reachable).
.PARAMETER CaCert
    Optional PEM file of the CA that signs the central API's certificate; copied next to the config
    and pinned (only it is trusted).
.PARAMETER Msi
    The MSI to install. Default: the newest mask-agent-*.msi next to this script.
.PARAMETER ServiceAccount
    LocalService (default, least privilege) or LocalSystem.
.PARAMETER CounterUsers
    Accounts that may use the counter screen (mask-terminal), e.g. 'PHARMACY\alice','bob': added to
    the local group "Mask Counter" that the MSI creates. Others can be added later with
    net localgroup "Mask Counter" <user> /add (the user signs out and in again afterwards).
.PARAMETER SkipDoctor
    Do not run "mask-agent doctor" after installing.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1 -PharmacyCode 5901012345 -Token "<token>" -ServerUrl https://mask-api.example.gov.tw

.NOTES
    Exit codes: 0 installed and doctor passed; 1 not installed (bad parameter or msiexec failed,
    see the msiexec log named in the message); 2 installed but doctor reported a problem.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)] [string] $PharmacyCode,
    [Parameter(Mandatory = $true)] [string] $Token,
    [Parameter(Mandatory = $true)] [string] $ServerUrl,
    [string] $CaCert,
    [string] $Msi,
    [ValidateSet('LocalService', 'LocalSystem')] [string] $ServiceAccount = 'LocalService',
    [string[]] $CounterUsers = @(),
    [switch] $SkipDoctor
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Fail([string] $Message) {
    Write-Error $Message -ErrorAction Continue
    exit 1
}

# A TOML basic string: backslash and double quote escaped; control characters refused.
function ConvertTo-TomlString([string] $Name, [string] $Value) {
    if ($Value -match '[\x00-\x1f\x7f]') { Fail "$Name contains a control character." }
    return '"' + ($Value -replace '\\', '\\' -replace '"', '\"') + '"'
}

# --- checks -----------------------------------------------------------------------------------
$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Fail 'Run this script from an elevated (Administrator) PowerShell.'
}
$PharmacyCode = $PharmacyCode.Trim().ToUpperInvariant()
if ($PharmacyCode -notmatch '^[0-9A-Z]{10}$') {
    Fail "PharmacyCode '$PharmacyCode' must be the 10-character NHI institution code (digits and capital letters)."
}
if ([string]::IsNullOrWhiteSpace($Token)) { Fail 'Token is empty.' }
if ($ServerUrl -notmatch '^https://[^/\s]+') { Fail "ServerUrl '$ServerUrl' must start with https://" }
if ($CaCert -and -not (Test-Path -LiteralPath $CaCert -PathType Leaf)) { Fail "CaCert '$CaCert' does not exist." }
if (-not $Msi) {
    $Msi = Get-ChildItem -Path $PSScriptRoot -Filter 'mask-agent-*.msi' |
        Sort-Object LastWriteTime -Descending | Select-Object -First 1 -ExpandProperty FullName
    if (-not $Msi) { Fail "No mask-agent-*.msi next to $PSCommandPath; pass -Msi." }
}
if (-not (Test-Path -LiteralPath $Msi -PathType Leaf)) { Fail "MSI '$Msi' does not exist." }

# --- config -----------------------------------------------------------------------------------
$dataDir = Join-Path $env:ProgramData 'mask-agent'
$config = Join-Path $dataDir 'agent.toml'
New-Item -ItemType Directory -Force -Path $dataDir | Out-Null
# Lock the folder before the token is written: SYSTEM and Administrators full, the service
# account (LocalService, S-1-5-19) modify; no inheritance from ProgramData (where Users can read).
# SIDs, not names: account names are localised on zh-TW Windows.
& icacls.exe $dataDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-19:(OI)(CI)M' /Q | Out-Null
if ($LASTEXITCODE -ne 0) { Fail "icacls could not restrict $dataDir (exit $LASTEXITCODE)." }

if (Test-Path -LiteralPath $config) {
    Copy-Item -LiteralPath $config -Destination "$config.bak" -Force
}
$lines = @(
    '# Written by install.ps1 on ' + (Get-Date -Format 'yyyy-MM-dd HH:mm') + '. Restart-Service MaskAgent after editing.',
    'site_code = ' + (ConvertTo-TomlString 'PharmacyCode' $PharmacyCode),
    'server_url = ' + (ConvertTo-TomlString 'ServerUrl' $ServerUrl),
    'token = ' + (ConvertTo-TomlString 'Token' $Token),
    'data_dir = ' + (ConvertTo-TomlString 'data dir' $dataDir)
)
if ($CaCert) {
    $caDest = Join-Path $dataDir 'ca.pem'
    Copy-Item -LiteralPath $CaCert -Destination $caDest -Force
    $lines += 'ca_cert = ' + (ConvertTo-TomlString 'CaCert' $caDest)
}
# UTF-8 without BOM (Set-Content -Encoding UTF8 would add one on Windows PowerShell 5).
[System.IO.File]::WriteAllText($config, (($lines -join "`r`n") + "`r`n"), (New-Object System.Text.UTF8Encoding $false))
Write-Host "Wrote $config"

# --- MSI --------------------------------------------------------------------------------------
$account = if ($ServiceAccount -eq 'LocalSystem') { 'LocalSystem' } else { 'NT AUTHORITY\LocalService' }
$msiLog = Join-Path $env:TEMP ('mask-agent-install-' + (Get-Date -Format 'yyyyMMdd-HHmmss') + '.log')
$arguments = @('/i', "`"$Msi`"", '/qn', '/norestart', '/l*v', "`"$msiLog`"", "SERVICEACCOUNT=`"$account`"")
Write-Host "Installing $Msi (log: $msiLog)"
$process = Start-Process -FilePath msiexec.exe -ArgumentList $arguments -Wait -PassThru
# 0 = success, 3010 = success, reboot required (never forced: /norestart).
if ($process.ExitCode -ne 0 -and $process.ExitCode -ne 3010) {
    Fail "msiexec failed with exit code $($process.ExitCode); see $msiLog"
}

# --- counter screen users ---------------------------------------------------------------------
# The MSI's "service configure" step created the group; create it here too if an older MSI did not.
# net.exe writes to stderr when the group is missing or a user is already a member; Windows
# PowerShell would turn that into a terminating error under 'Stop', so 'Continue' here.
$group = 'Mask Counter'
$ErrorActionPreference = 'Continue'
& net.exe localgroup $group *> $null
if ($LASTEXITCODE -ne 0) {
    & net.exe localgroup $group /add *> $null
    if ($LASTEXITCODE -ne 0) { Fail "Could not create the local group '$group' (exit $LASTEXITCODE)." }
}
foreach ($user in $CounterUsers) {
    # Exit 2 with error 1378 means the account is already a member: fine on a re-run.
    $out = (& net.exe localgroup $group $user /add 2>&1) | Out-String
    if ($LASTEXITCODE -ne 0 -and $out -notmatch '1378') {
        Fail "Could not add '$user' to '$group': $out"
    }
    Write-Host "Counter screen: $user may use mask-terminal (after signing in again)."
}
$ErrorActionPreference = 'Stop'

# --- start and verify ---------------------------------------------------------------------------
Restart-Service -Name MaskAgent -ErrorAction SilentlyContinue
$exe = Join-Path ${env:ProgramFiles} 'MaskAgent\mask-agent.exe'
Get-Service -Name MaskAgent | Format-Table -AutoSize Name, Status, StartType
if ($SkipDoctor) { exit 0 }
& $exe --config $config doctor
if ($LASTEXITCODE -ne 0) {
    Write-Warning "mask-agent doctor reported a problem (exit $LASTEXITCODE); the agent is installed. Fix the item above and run: & '$exe' --config '$config' doctor"
    exit 2
}
exit 0
