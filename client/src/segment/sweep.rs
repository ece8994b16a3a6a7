//! Collecting what dead processes left: dead slots, dead loaders' temp files, segments no live slot
//! holds and empty reference files (`finish_locked` under one db's lock, `sweep` for the whole dir,
//! `sweep_others_if_due` for the caller's other dbs when it attaches), and `status`, the read-only
//! picture of the dir.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::names::{list, ref_path, Entry, Name};
use super::slots::{self, RefFile};
use super::trust::{owned_by_caller, remove_ours};
use super::ShmConfig;
use crate::error::{Error, Result};

/// A process sweeps the other dbs of a dir at its first attach there, then at most this often.
const SWEEP_OTHERS_EVERY: Duration = Duration::from_secs(60);

/// What one `sweep` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Slots of dead processes (or torn records) freed.
    pub dead_slots: usize,
    /// Temporary segments of loaders that died before publishing.
    pub temps_removed: usize,
    /// Segments no live process holds.
    pub segments_unlinked: usize,
    /// Reference files left with no slot.
    pub ref_files_removed: usize,
    /// Dbs skipped because their reference file is not trusted (another user's, too open, a link).
    pub untrusted: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub generation: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub pid: u32,
    pub generation: u64,
    pub count: u64,
}

/// One db's footprint in the shm dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSegments {
    pub db_id: String,
    /// Published segments, by generation.
    pub segments: Vec<SegmentInfo>,
    /// Slots of live processes.
    pub slots: Vec<SlotInfo>,
}

/// Under the exclusive lock, after the slots were swept: unlinks every segment of `db_id` that no
/// live slot holds, and the ref file when no slot is left. Returns (segments unlinked, ref removed).
pub(super) fn finish_locked(cfg: &ShmConfig, db_id: &str, rf: RefFile) -> Result<(usize, bool)> {
    let mut unlinked = 0;
    for entry in list(&cfg.dir)? {
        if let (id, Name::Segment(generation)) = (&entry.db_id, &entry.kind) {
            if id == db_id && !rf.slots().any(|s| s.generation == *generation) {
                unlinked += usize::from(remove_ours(cfg, &cfg.dir.join(&entry.file))?);
            }
        }
    }
    if rf.slots().next().is_none() {
        rf.remove()?;
        return Ok((unlinked, true));
    }
    Ok((unlinked, false))
}

pub(super) fn remove_temps(cfg: &ShmConfig, db_id: &str) -> Result<usize> {
    let mut removed = 0;
    for entry in list(&cfg.dir)? {
        if entry.db_id == db_id && matches!(entry.kind, Name::Temp) {
            removed += usize::from(remove_ours(cfg, &cfg.dir.join(&entry.file))?);
        }
    }
    Ok(removed)
}

/// Frees dead slots, removes dead loaders' temp files and unheld segments of every db in the dir,
/// including dbs whose ref file is gone (a segment is never left without one for long, but a crash
/// outside covec's control, or a manual delete, could).
pub fn sweep(cfg: &ShmConfig) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    let mut ids: Vec<String> = list(&cfg.dir)?.into_iter().map(|e| e.db_id).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        // One planted ref file must not stop the sweep of every other db.
        let rf = match RefFile::lock(&ref_path(&cfg.dir, &id), cfg.group, true) {
            Ok(Some(rf)) => rf,
            Ok(None) => continue,
            Err(Error::Untrusted { .. }) => {
                report.untrusted += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        sweep_locked(cfg, &id, rf, &mut report)?;
    }
    Ok(report)
}

/// One db's sweep, under its exclusive lock `rf`: dead slots, temps, unheld segments, an empty ref file.
fn sweep_locked(
    cfg: &ShmConfig,
    db_id: &str,
    mut rf: RefFile,
    report: &mut SweepReport,
) -> Result<()> {
    report.dead_slots += rf.sweep()?;
    report.temps_removed += remove_temps(cfg, db_id)?;
    let (unlinked, removed) = finish_locked(cfg, db_id, rf)?;
    report.segments_unlinked += unlinked;
    report.ref_files_removed += usize::from(removed);
    Ok(())
}

/// At attach (of db `own`, whose own lock holder sweeps it): sweeps the caller's other dbs in the dir
/// (`sweep_others`), at this process's first attach in the dir and then at most every
/// `SWEEP_OTHERS_EVERY`. A db deleted or moved while its last user died is attached by nobody again;
/// this is what removes its segment. Never waits and never fails the attach: what it cannot do now,
/// the next sweep does.
pub(super) fn sweep_others_if_due(cfg: &ShmConfig, own: &str) {
    static LAST: Mutex<BTreeMap<PathBuf, Instant>> = Mutex::new(BTreeMap::new());
    let now = Instant::now();
    {
        let Ok(mut last) = LAST.lock() else {
            return;
        };
        match last.get(&cfg.dir) {
            Some(&at) if now.duration_since(at) < SWEEP_OTHERS_EVERY => return,
            _ => last.insert(cfg.dir.clone(), now),
        };
    }
    let _ = sweep_others(cfg, own);
}

/// Sweeps every db but `own` all of whose files in the dir belong to the caller's uid and show
/// something to free to a look under a shared lock taken without waiting (`has_leftovers`); such a db
/// is then swept under its exclusive lock, also taken without waiting. A db whose lock is held is
/// skipped: its holder is a live covec process, which sweeps it before it lets go. docs/protocol.md,
/// "Sweep on attach", gives the argument that this never unlinks a held segment nor touches another
/// user's file.
pub(super) fn sweep_others(cfg: &ShmConfig, own: &str) -> Result<SweepReport> {
    let mut dbs: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for entry in list(&cfg.dir)? {
        dbs.entry(entry.db_id.clone()).or_default().push(entry);
    }
    let mut report = SweepReport::default();
    for (id, files) in dbs {
        if id == own
            || !files
                .iter()
                .all(|e| owned_by_caller(&cfg.dir.join(&e.file)))
        {
            continue;
        }
        // A db that cannot be looked at (untrusted, unreadable) is left to `sweep` and its users.
        if !has_leftovers(cfg, &id, &files).unwrap_or(false) {
            continue;
        }
        let Ok(Some(rf)) = RefFile::try_lock(&ref_path(&cfg.dir, &id), cfg.group, true) else {
            continue;
        };
        sweep_locked(cfg, &id, rf, &mut report)?;
    }
    Ok(report)
}

/// Whether db `id`, whose files in the dir are `files`, holds something a sweep would remove: a temp
/// file, a segment with no ref file, a dead or torn slot, a segment no live slot holds, or a ref file
/// with no live slot. Looks under a shared lock taken without waiting; false when it is held
/// exclusively (its holder sweeps).
fn has_leftovers(cfg: &ShmConfig, id: &str, files: &[Entry]) -> Result<bool> {
    let mut segments = files.iter().filter_map(|e| match e.kind {
        Name::Segment(generation) => Some(generation),
        _ => None,
    });
    if files.iter().any(|e| matches!(e.kind, Name::Temp)) {
        return Ok(true);
    }
    if !files.iter().any(|e| matches!(e.kind, Name::Ref)) {
        return Ok(segments.next().is_some());
    }
    let Some(rf) = RefFile::try_lock(&ref_path(&cfg.dir, id), cfg.group, false)? else {
        return Ok(false);
    };
    if rf.has_dead() || rf.slots().next().is_none() {
        return Ok(true);
    }
    Ok(segments.any(|g| !rf.slots().any(|s| s.generation == g)))
}

/// Segments and live slots of every db in the dir, by db id. Reads under shared locks; changes nothing.
pub fn status(cfg: &ShmConfig) -> Result<Vec<DbSegments>> {
    let mut dbs: BTreeMap<String, DbSegments> = BTreeMap::new();
    for entry in list(&cfg.dir)? {
        let db = dbs
            .entry(entry.db_id.clone())
            .or_insert_with(|| DbSegments {
                db_id: entry.db_id.clone(),
                segments: Vec::new(),
                slots: Vec::new(),
            });
        match entry.kind {
            Name::Segment(generation) => {
                let path = cfg.dir.join(&entry.file);
                match std::fs::symlink_metadata(&path) {
                    Ok(m) => db.segments.push(SegmentInfo {
                        generation,
                        bytes: m.len(),
                    }),
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(path, e)),
                }
            }
            Name::Ref => {
                let path = cfg.dir.join(&entry.file);
                if let Some(rf) = RefFile::lock(&path, cfg.group, false)? {
                    db.slots
                        .extend(rf.slots().filter(|s| slots::is_alive(s)).map(|s| SlotInfo {
                            pid: s.pid,
                            generation: s.generation,
                            count: s.count,
                        }));
                }
            }
            Name::Temp => {}
        }
    }
    let mut out: Vec<DbSegments> = dbs.into_values().collect();
    for db in &mut out {
        db.segments.sort_by_key(|s| s.generation);
    }
    Ok(out)
}
