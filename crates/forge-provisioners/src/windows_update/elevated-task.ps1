# Runs a command as a scheduled task (with the highest privileges its account has), shows
# what it writes while it runs, and exits with its result.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
trap {
    Write-Output "ERROR: $_"
    ($_.ScriptStackTrace -split '\r?\n') | ForEach-Object { Write-Output "ERROR: $_" }
    Exit 1
}
$name = "{{.TaskName}}"
$log = "$env:SystemRoot\Temp\$name.out"
$service = New-Object -ComObject 'Schedule.Service'
$service.Connect()
$task = $service.NewTask($null)
$task.XmlText = @'
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>{{.TaskDescription}}</Description>
  </RegistrationInfo>
  <Principals>
    <Principal id="Author">
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>false</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT24H</ExecutionTimeLimit>
    <Priority>4</Priority>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>cmd</Command>
      <Arguments>/c {{.Command}} &gt;%SYSTEMROOT%\Temp\{{.TaskName}}.out 2&gt;&amp;1</Arguments>
    </Exec>
  </Actions>
</Task>
'@
$username = "{{.Username}}"
$password = "{{.Password}}"
if (!$password) {
    $password = $null
}
$folder = $service.GetFolder('\')
# 6: create or update the task; 1: log on with the password (none for service accounts).
$folder.RegisterTaskDefinition($name, $task, 6, $username, $password, 1, $null) | Out-Null
$task = $folder.GetTask("\$name")
$task.Run($null) | Out-Null
# Give the task up to ten seconds to reach the running state (4).
for ($i = 0; ($i -lt 10) -and ($task.State -ne 4); ++$i) {
    Start-Sleep -Seconds 1
}
$shown = 0
function Show-NewLines {
    if (Test-Path $log) {
        $lines = @(Get-Content $log)
        for (; $script:shown -lt $lines.Count; ++$script:shown) {
            Write-Output $lines[$script:shown]
        }
    }
}
$lastReport = Get-Date
# Until the task is ready (3) again, that is, it has finished.
while ($task.State -ne 3) {
    Start-Sleep -Seconds 5
    Show-NewLines
    if (((Get-Date) - $lastReport).TotalMinutes -ge 1) {
        $lastReport = Get-Date
        Write-Output 'Waiting for the operation to complete...'
    }
}
Show-NewLines
$result = $task.LastTaskResult
Remove-Item $log -Force -ErrorAction SilentlyContinue | Out-Null
$folder.DeleteTask("\$name", 0)
[System.Runtime.Interopservices.Marshal]::ReleaseComObject($service) | Out-Null
exit $result
