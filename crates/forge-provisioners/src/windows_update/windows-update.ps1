# Installs Windows updates through the Windows Update Agent API, for forge's windows-update
# provisioner. Exit status: 0 when nothing is left to do, 101 when the machine must restart
# (run again afterwards), 1 on error.
#
# -SearchCriteria  the IUpdateSearcher::Search query.
# -Filters         "include:<expression>" or "exclude:<expression>"; the first whose
#                  expression ($_ is the update) is true decides; no match excludes.
# -UpdateLimit     installs at most this many updates in one run (then asks for a restart).
# -OnlyCheckForRebootRequired  only checks whether a restart is pending.
param(
    [string]$SearchCriteria = 'BrowseOnly=0 and IsInstalled=0',
    [string[]]$Filters = @('include:$true'),
    [int]$UpdateLimit = 1000,
    [switch]$OnlyCheckForRebootRequired = $false
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# The status PowerShell reports even when run with -File inside cmd.
function Stop-Script([int]$status) {
    $host.SetShouldExit($status)
    exit $status
}

trap {
    Write-Output "ERROR: $_"
    ($_.ScriptStackTrace -split '\r?\n') | ForEach-Object { Write-Output "ERROR: $_" }
    Stop-Script 1
}

$resultCodes = @{
    0 = 'NotStarted'
    1 = 'InProgress'
    2 = 'Succeeded'
    3 = 'SucceededWithErrors'
    4 = 'Failed'
    5 = 'Aborted'
}

function Get-ResultName([int]$code) {
    if ($resultCodes.ContainsKey($code)) {
        return $resultCodes[$code]
    }
    return "Unknown Code $code"
}

# Waits until the servicing worker (TiWorker) has been gone for fifteen seconds in a row.
function Wait-ServicingIdle {
    $quietSince = Get-Date
    while (((Get-Date) - $quietSince).TotalSeconds -lt 15) {
        Start-Sleep -Seconds 1
        if (@(Get-Process -Name TiWorker -ErrorAction SilentlyContinue).Count -gt 0) {
            $quietSince = Get-Date
        }
    }
}

# Exits with 101 when a restart is pending (or $pending says so).
function Exit-IfRestartPending([bool]$pending = $false) {
    if (!$pending) {
        $pending = (New-Object -ComObject 'Microsoft.Update.SystemInfo').RebootRequired
    }
    if (!$pending) {
        $key = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\PackagesPending'
        $pending = @(Get-ChildItem -Path $key -ErrorAction SilentlyContinue).Count -gt 0
    }
    if ($pending) {
        Write-Output 'Waiting for the Windows Modules Installer to exit...'
        Wait-ServicingIdle
        Stop-Script 101
    }
}

Exit-IfRestartPending

if ($OnlyCheckForRebootRequired) {
    Write-Output "$env:COMPUTERNAME restarted."
    Stop-Script 0
}

$rules = foreach ($filter in $Filters) {
    $action, $expression = $filter -split ':', 2
    [PSCustomObject]@{
        Action = $action
        Test   = [ScriptBlock]::Create($expression)
    }
}

function Test-Wanted($update) {
    foreach ($rule in $rules) {
        if (Where-Object -InputObject $update -FilterScript $rule.Test) {
            return $rule.Action -eq 'include'
        }
    }
    return $false
}

Write-Output 'Searching for Windows updates...'
$session = $null
$found = $null
while (!$found) {
    try {
        $session = New-Object -ComObject 'Microsoft.Update.Session'
        $session.ClientApplicationID = 'packer-windows-update'
        $result = $session.CreateUpdateSearcher().Search($SearchCriteria)
        if ($result.ResultCode -eq 2) {
            $found = $result
            break
        }
        $status = Get-ResultName $result.ResultCode
    } catch {
        $status = "$_"
    }
    Write-Output "Search for Windows updates failed with '$status'. Retrying..."
    Start-Sleep -Seconds 5
}

$restart = $false
$selected = New-Object -ComObject 'Microsoft.Update.UpdateColl'
$titles = @{}
$downloadSize = 0
foreach ($update in @($found.Updates)) {
    $title = $update.Title
    $size = $update.MaxDownloadSize
    $summary = 'Windows update ({0}; {1} MB): {2}' -f `
        $update.LastDeploymentChangeTime.ToString('yyyy-MM-dd'), ($size / 1MB).ToString('0.##'), $title
    if (!(Test-Wanted $update)) {
        Write-Output "Skipped (filter) $summary"
        continue
    }
    if ($update.InstallationBehavior.CanRequestUserInput) {
        Write-Output "Warning The update '$title' has the CanRequestUserInput flag set (if the install hangs, you might need to exclude it with the filter 'exclude:`$_.InstallationBehavior.CanRequestUserInput' or 'exclude:`$_.Title -like '*$title*'')"
    }
    if ($titles.ContainsKey($title)) {
        Write-Output "Warning, Skipping queueing the duplicated titled update '$title'."
        continue
    }
    $titles[$title] = $true
    Write-Output "Found $summary"
    $update.AcceptEula() | Out-Null
    $downloadSize += $size
    $selected.Add($update) | Out-Null
    if ($selected.Count -ge $UpdateLimit) {
        # The rest waits for the next run, after a restart.
        $restart = $true
        break
    }
}

if ($selected.Count -eq 0) {
    Exit-IfRestartPending $restart
    Write-Output 'No Windows updates found'
    Stop-Script 0
}

Write-Output ('Downloading Windows updates ({0} updates; {1} MB)...' -f $selected.Count, ($downloadSize / 1MB).ToString('0.##'))
$downloader = $session.CreateUpdateDownloader()
$os = [System.Environment]::OSVersion.Version
# Extra-high priority (4) exists from Windows 8 / Server 2012 (6.2) on; high (3) before.
if ($os -ge [Version]'6.2') {
    $downloader.Priority = 4
} else {
    $downloader.Priority = 3
}
$downloader.Updates = $selected
while ($true) {
    $download = $downloader.Download()
    if ($download.ResultCode -eq 2) {
        break
    }
    if ($download.ResultCode -eq 3) {
        Write-Output 'Download Windows updates succeeded with errors. Will retry after the next reboot.'
        $restart = $true
        break
    }
    Write-Output "Download Windows updates failed with $(Get-ResultName $download.ResultCode). Retrying..."
    Start-Sleep -Seconds 5
}

Write-Output 'Installing Windows updates...'
$installer = $session.CreateUpdateInstaller()
$installer.Updates = $selected
try {
    $restart = $installer.Install().RebootRequired -or $restart
} catch {
    Write-Warning 'Windows update installation failed with error:'
    Write-Warning $_.Exception.ToString()
    # Try again after a restart.
    $restart = $true
}
Exit-IfRestartPending $restart
Stop-Script 0
