//! Waiting for a vSphere task: its `info` is read until the task succeeds (its result) or fails
//! (its error's message). The first read is at once, then the wait between reads doubles from
//! 50 ms up to 1 s: a short task costs one or two round trips.

use std::time::{Duration, Instant};

use forge_core::{Error, Result};

use crate::client::Client;
use crate::soap::{localized_fault, Moref, Node};

/// The end of a task that succeeded.
#[derive(Clone, Debug)]
pub struct TaskResult {
    /// `info.result`, when the task returns something (a clone's new VM).
    pub result: Option<Node>,
}

impl TaskResult {
    /// The result as a managed object reference.
    pub fn moref(&self) -> Option<Moref> {
        self.result.as_ref().and_then(Node::as_moref)
    }
}

impl Client {
    /// The tasks queued or running on `entity`, from the task manager's recent tasks (none when
    /// the server has no task manager).
    pub async fn running_tasks_on(&self, entity: &Moref) -> Result<Vec<Moref>> {
        let Some(tm) = self.content().task_manager.clone() else {
            return Ok(Vec::new());
        };
        let recent: Vec<Moref> = self
            .retrieve_one(&tm, &["recentTask"])
            .await?
            .get("recentTask")
            .map(|n| n.children.iter().filter_map(Node::as_moref).collect())
            .unwrap_or_default();
        if recent.is_empty() {
            return Ok(recent);
        }
        let infos = self
            .retrieve(&recent, &["info.entity", "info.state"])
            .await?;
        Ok(infos
            .into_iter()
            .filter(|o| o.moref("info.entity").as_ref() == Some(entity))
            .filter(|o| matches!(o.text("info.state"), Some("queued" | "running")))
            .map(|o| o.obj)
            .collect())
    }

    /// Waits up to `timeout` for `task` to end. A failed task is an error with the server's
    /// message and fault type, naming the task and the object it ran on.
    pub async fn wait_for_task(&self, task: &Moref, timeout: Duration) -> Result<TaskResult> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(50);
        loop {
            let o = self.retrieve_one(task, &["info"]).await?;
            let info = o.get("info").ok_or_else(|| {
                Error::msg(format!("task {}: the server returned no info", task.value))
            })?;
            let what = describe(task, info);
            match info.text_of("state").unwrap_or_default() {
                "success" => {
                    return Ok(TaskResult {
                        result: info.child("result").cloned(),
                    })
                }
                "error" => {
                    let why = info
                        .child("error")
                        .map(localized_fault)
                        .unwrap_or_else(|| "no error given".to_string());
                    return Err(Error::msg(format!("{what} failed: {why}")));
                }
                state => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Error::msg(format!(
                            "{what} did not finish within {} s (it is {})",
                            timeout.as_secs(),
                            if state.is_empty() {
                                "in an unknown state"
                            } else {
                                state
                            }
                        )));
                    }
                    tokio::time::sleep(pause.min(deadline - now)).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// `task PowerOffVM_Task (task-12) on DC0_H0_VM0`.
fn describe(task: &Moref, info: &Node) -> String {
    let name = info
        .text_of("descriptionId")
        .or_else(|| info.text_of("name"))
        .filter(|n| !n.is_empty())
        .map(|n| format!("{n} ({})", task.value))
        .unwrap_or_else(|| task.value.clone());
    match info.text_of("entityName").filter(|n| !n.is_empty()) {
        Some(e) => format!("task {name} on {e}"),
        None => format!("task {name}"),
    }
}
