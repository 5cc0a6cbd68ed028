//! The resource journal: every step that creates something outside forge records it here,
//! fsynced, *before* creating it, and marks it deleted afterwards. A run that dies (kill -9,
//! power loss) leaves its journal behind, and `forge cleanup` reclaims what it lists.
//!
//! One JSON-lines file per run, `<state dir>/runs/<run id>.jsonl`:
//! `{"op":"run","run":..,"pid":..,"start_ticks":..,"time":..,"cwd":..,"template":{..}}` first
//! (`template`: where the configuration came from, a [`TemplateSource`]), then
//! `{"op":"create","seq":N,"build":..,"kind":..,"id":..,"data":{..}}`,
//! `{"op":"update","seq":N,"id":..,"data":{..}}` (an id learnt after creation) and
//! `{"op":"delete","seq":N}`. A run that ends with nothing left removes its file.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::events::Events;
use crate::redact::Redactor;

/// Records the id a journaled resource got once it exists (a step's `intend`, then this).
pub fn created(ctx: &crate::plugin::BuildCtx, r: &mut Resource, id: &str) {
    r.id = id.to_string();
    ctx.journal.update(r.seq, id, r.data.clone());
}

/// Records that a journaled resource is gone.
pub fn gone(ctx: &crate::plugin::BuildCtx, r: &Resource) {
    ctx.journal.deleted(r.seq);
}

/// The resource a step's cleanup should remove: none when the step created nothing, or when
/// the build keeps its resources (`-on-error=abort`).
pub fn to_clean_up(ctx: &crate::plugin::BuildCtx, slot: &mut Option<Resource>) -> Option<Resource> {
    let r = slot.take()?;
    (!ctx.keep_resources.load(std::sync::atomic::Ordering::SeqCst)).then_some(r)
}

/// One thing a run created (or was about to create).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resource {
    /// Order of creation within the run.
    pub seq: u64,
    /// The build that created it.
    pub build: String,
    /// What it is: `file`, `dir`, `process`, or a plugin's kind (`docker.container`, ...).
    pub kind: String,
    /// Its identity for the kind (a path, a pid, an instance id); may be empty until known.
    pub id: String,
    /// Whatever else reclaiming it needs.
    #[serde(default)]
    pub data: Value,
}

/// Where a run's configuration came from, so that `forge cleanup` can evaluate it again and
/// reach the clouds with the credentials the build used. Paths and variable names only: a
/// `-var` value may be a secret, so cleanup is given it again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TemplateSource {
    /// The template file or directory, absolute.
    pub path: PathBuf,
    /// `-var-file`s, absolute, in order.
    #[serde(default)]
    pub var_files: Vec<PathBuf>,
    /// The names of the `-var` flags (not their values).
    #[serde(default)]
    pub vars: Vec<String>,
    /// The `PKR_VAR_*` environment variables that were set (names only).
    #[serde(default)]
    pub env_vars: Vec<String>,
}

/// The state directory: `FORGE_STATE_DIR`, else `$XDG_STATE_HOME/forge`, else
/// `~/.local/state/forge`.
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FORGE_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("forge");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".local/state/forge")
}

/// The journal of the running process.
pub struct Journal {
    run_id: String,
    path: PathBuf,
    file: Mutex<Option<File>>,
    state: Mutex<JournalState>,
    events: Arc<Events>,
    redactor: Arc<Redactor>,
}

#[derive(Default)]
struct JournalState {
    next: u64,
    live: BTreeMap<u64, Resource>,
}

impl Journal {
    /// Starts the journal of run `run_id` under `dir/runs`, built from `source`.
    pub fn open(
        dir: &Path,
        run_id: &str,
        source: Option<&TemplateSource>,
        events: Arc<Events>,
        redactor: Arc<Redactor>,
    ) -> std::io::Result<Arc<Journal>> {
        let runs = dir.join("runs");
        std::fs::create_dir_all(&runs)?;
        let path = runs.join(format!("{run_id}.jsonl"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let j = Journal {
            run_id: run_id.to_string(),
            path,
            file: Mutex::new(Some(file)),
            state: Mutex::new(JournalState::default()),
            events,
            redactor,
        };
        let pid = std::process::id();
        j.append(&json!({
            "op": "run",
            "run": run_id,
            "pid": pid,
            "start_ticks": process_start_ticks(pid),
            "time": chrono::Utc::now().to_rfc3339(),
            "cwd": std::env::current_dir().ok(),
            "template": source,
        }))?;
        Ok(Arc::new(j))
    }

    /// A journal that records nothing on disk (unit tests of steps).
    pub fn in_memory(run_id: &str) -> Arc<Journal> {
        Arc::new(Journal {
            run_id: run_id.to_string(),
            path: PathBuf::new(),
            file: Mutex::new(None),
            state: Mutex::new(JournalState::default()),
            events: Events::disabled(),
            redactor: Redactor::new(),
        })
    }

    /// The run id (also the tag cloud resources carry).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, rec: &Value) -> std::io::Result<()> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = f.as_mut() {
            let line = self.redactor.redact(&rec.to_string());
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_data()?;
        }
        Ok(())
    }

    /// Records that `build` is about to create a `kind` resource; call before creating it.
    pub fn intend(
        &self,
        build: &str,
        kind: &str,
        id: &str,
        data: Value,
    ) -> crate::Result<Resource> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.next += 1;
        let r = Resource {
            seq: st.next,
            build: build.to_string(),
            kind: kind.to_string(),
            id: id.to_string(),
            data,
        };
        let mut rec = serde_json::to_value(&r).unwrap_or(Value::Null);
        rec["op"] = json!("create");
        self.append(&rec).map_err(|e| {
            crate::Error::msg(format!(
                "recording {kind} {id} in the resource journal {}: {e}",
                self.path.display()
            ))
        })?;
        st.live.insert(r.seq, r.clone());
        drop(st);
        self.events.emit(
            "resource.created",
            Some(build),
            json!({"seq": r.seq, "kind": kind, "id": id}),
        );
        Ok(r)
    }

    /// Records what was learnt about a resource after creating it (its cloud id).
    pub fn update(&self, seq: u64, id: &str, data: Value) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = st.live.get_mut(&seq) {
            r.id = id.to_string();
            r.data = data.clone();
        }
        drop(st);
        if let Err(e) = self.append(&json!({"op":"update","seq":seq,"id":id,"data":data})) {
            tracing::error!("journal update failed: {e}");
        }
    }

    /// Records that the resource is gone.
    pub fn deleted(&self, seq: u64) {
        let r = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.live.remove(&seq)
        };
        if let Err(e) = self.append(&json!({"op":"delete","seq":seq})) {
            tracing::error!("journal delete failed: {e}");
        }
        if let Some(r) = r {
            self.events.emit(
                "resource.deleted",
                Some(&r.build),
                json!({"seq": seq, "kind": r.kind, "id": r.id}),
            );
        }
    }

    /// Resources created and not yet deleted, newest first; of one build when `build` is set.
    pub fn live(&self, build: Option<&str>) -> Vec<Resource> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.live
            .values()
            .rev()
            .filter(|r| build.is_none_or(|b| r.build == b))
            .cloned()
            .collect()
    }

    /// Ends the journal: removes the file when nothing is left, else keeps it for
    /// `forge cleanup`.
    pub fn finish(&self) {
        let left = self.live(None).len();
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if f.take().is_some() && left == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A journal read back from disk.
#[derive(Debug, Clone)]
pub struct RunJournal {
    /// The file.
    pub path: PathBuf,
    /// The run id.
    pub run_id: String,
    /// The forge process that wrote it.
    pub pid: u32,
    /// That process's start time in clock ticks since boot (guards against pid reuse).
    pub start_ticks: Option<u64>,
    /// When the run started (RFC 3339).
    pub time: String,
    /// The directory the run was started in.
    pub cwd: Option<PathBuf>,
    /// Where its configuration came from.
    pub source: Option<TemplateSource>,
    /// Resources created and not deleted, newest first.
    pub live: Vec<Resource>,
}

impl RunJournal {
    /// Reads a journal file; a torn last line (power loss) is ignored.
    pub fn read(path: &Path) -> std::io::Result<RunJournal> {
        let f = File::open(path)?;
        let mut j = RunJournal {
            path: path.to_path_buf(),
            run_id: String::new(),
            pid: 0,
            start_ticks: None,
            time: String::new(),
            cwd: None,
            source: None,
            live: Vec::new(),
        };
        let mut live: BTreeMap<u64, Resource> = BTreeMap::new();
        for line in std::io::BufReader::new(f).lines() {
            let line = line?;
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            match v["op"].as_str() {
                Some("run") => {
                    j.run_id = v["run"].as_str().unwrap_or_default().to_string();
                    j.pid = v["pid"].as_u64().unwrap_or(0) as u32;
                    j.start_ticks = v["start_ticks"].as_u64();
                    j.time = v["time"].as_str().unwrap_or_default().to_string();
                    j.cwd = v["cwd"].as_str().map(PathBuf::from);
                    j.source = serde_json::from_value(v["template"].clone()).ok();
                }
                Some("create") => {
                    if let Ok(r) = serde_json::from_value::<Resource>(v.clone()) {
                        live.insert(r.seq, r);
                    }
                }
                Some("update") => {
                    if let Some(r) = v["seq"].as_u64().and_then(|s| live.get_mut(&s)) {
                        r.id = v["id"].as_str().unwrap_or_default().to_string();
                        r.data = v["data"].clone();
                    }
                }
                Some("delete") => {
                    if let Some(s) = v["seq"].as_u64() {
                        live.remove(&s);
                    }
                }
                _ => {}
            }
        }
        j.live = live.into_values().rev().collect();
        Ok(j)
    }

    /// Whether the process that wrote this journal is still running.
    pub fn is_alive(&self) -> bool {
        process_alive(self.pid, self.start_ticks)
    }

    /// Appends a delete record for `seq` (after `forge cleanup` reclaimed it).
    pub fn mark_deleted(&self, seq: u64) -> std::io::Result<()> {
        let mut f = OpenOptions::new().append(true).open(&self.path)?;
        writeln!(f, "{}", json!({"op":"delete","seq":seq}))?;
        f.sync_data()
    }
}

/// Every journal under `dir/runs`, newest run first.
pub fn list(dir: &Path) -> Vec<RunJournal> {
    let Ok(rd) = std::fs::read_dir(dir.join("runs")) else {
        return Vec::new();
    };
    let mut out: Vec<RunJournal> = rd
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| RunJournal::read(&e.path()).ok())
        .collect();
    out.sort_by(|a, b| b.time.cmp(&a.time));
    out
}

/// What `/proc/<pid>/stat` says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter (`R`, `S`, `Z` for a zombie, ...).
    pub state: char,
    /// The process group.
    pub pgrp: u32,
    /// The start time in clock ticks since boot.
    pub start_ticks: u64,
}

impl ProcStat {
    /// Reads a process's stat line; `None` when it does not exist.
    pub fn read(pid: u32) -> Option<ProcStat> {
        ProcStat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Parses a stat line. The command name may hold spaces and parentheses: fields resume after
    /// the last ')'.
    pub fn parse(stat: &str) -> Option<ProcStat> {
        let f: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
        Some(ProcStat {
            state: f.first()?.chars().next()?,
            pgrp: f.get(2)?.parse().ok()?,
            start_ticks: f.get(19)?.parse().ok()?,
        })
    }

    /// Whether the process is gone but for its exit status (a zombie waiting for a reaper).
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// A process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    ProcStat::read(pid).map(|s| s.start_ticks)
}

/// Whether `pid` runs (a zombie is as good as gone) and is the same process that started at
/// `start_ticks`.
pub fn process_alive(pid: u32, start_ticks: Option<u64>) -> bool {
    pid != 0
        && ProcStat::read(pid)
            .is_some_and(|s| !s.is_dead() && start_ticks.is_none_or(|t| t == s.start_ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 0 0";
        let s = ProcStat::parse(line).unwrap();
        assert_eq!((s.state, s.pgrp, s.start_ticks), ('S', 42, 777));
        let me = ProcStat::read(std::process::id()).unwrap();
        assert!(!me.is_dead());
    }

    #[test]
    fn journal_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let source = TemplateSource {
            path: "/t/x.pkr.hcl".into(),
            var_files: vec!["/t/v.pkrvars.hcl".into()],
            vars: vec!["secret_key".into()],
            env_vars: vec!["PKR_VAR_access_key".into()],
        };
        let j = Journal::open(
            dir.path(),
            "r1",
            Some(&source),
            Events::disabled(),
            Redactor::new(),
        )
        .unwrap();
        let a = j
            .intend("b", "file", "/x/a", json!({"path": "/x/a"}))
            .unwrap();
        let b = j
            .intend("b", "dir", "/x/d", json!({"path": "/x/d"}))
            .unwrap();
        j.deleted(a.seq);
        let back = RunJournal::read(j.path()).unwrap();
        assert_eq!(back.run_id, "r1");
        assert_eq!(back.pid, std::process::id());
        assert_eq!(back.source, Some(source));
        assert_eq!(back.cwd, std::env::current_dir().ok());
        assert!(back.is_alive());
        assert_eq!(back.live, vec![b.clone()]);
        j.deleted(b.seq);
        j.finish();
        assert!(!j.path().exists());
    }
}
