//! Collecting what is no longer used: dead slots, publications no live slot holds (their segment pages
//! given back, a segment with none left unlinked), a dead loader's bytes and unpublished segments, and
//! empty reference files (`finish_locked` under one db's lock, `sweep` for the whole dir,
//! `sweep_others_if_due` for the caller's other dbs when it attaches); `status`, the read-only picture
//! of the dir; and the protocol-1 files of earlier covecs, swept under their own rules.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::header::HEADER_LEN;
use super::names::{legacy_ref_path, list, ref_path, Entry, Name};
use super::pages::dead_pages;
use super::segfile::SegmentFile;
use super::slots::{self, Patience, Published, RefFile};
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
    /// Segments a dead loader left unpublished (and protocol-1 temp files).
    pub temps_removed: usize,
    /// Segments no live process holds a generation of.
    pub segments_unlinked: usize,
    /// Reference files left with no slot.
    pub ref_files_removed: usize,
    /// Dbs skipped because their reference file is not trusted (another user's, too open, a link).
    pub untrusted: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The file's name in the shm dir.
    pub name: String,
    /// The generations published in it (protocol 1: the one its name gives).
    pub generations: Vec<u64>,
    /// Memory it takes: the pages tmpfs has allocated for it.
    pub bytes: u64,
    /// Its length: the end of the newest generation appended to it.
    pub length: u64,
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
    /// Its segment files, by name.
    pub segments: Vec<SegmentInfo>,
    /// Slots of live processes.
    pub slots: Vec<SlotInfo>,
}

/// Under the exclusive lock, after dead slots were freed: forgets every publication no slot holds,
/// giving back the pages of its segment that no held generation uses, and unlinks a segment left with
/// no publication. With `scan` (a dead slot or torn record was freed: a loader may have died mid-load),
/// also gives back every page of a segment outside held generations and unlinks this db's segment
/// files nothing publishes. Removes the ref file when no slot is left.
/// Returns (segments unlinked, unpublished segments removed, ref file removed).
pub(super) fn finish_locked(
    cfg: &ShmConfig,
    db_id: &str,
    mut rf: RefFile,
    scan: bool,
) -> Result<(usize, usize, bool)> {
    let mut by_segment: BTreeMap<u64, (Vec<Published>, Vec<Published>)> = BTreeMap::new();
    for p in rf.published() {
        let (held, released) = by_segment.entry(p.segment).or_default();
        if rf.is_held(p) { held } else { released }.push(*p);
    }
    let mut unlinked = 0;
    for (&id, (held, released)) in &by_segment {
        if held.is_empty() {
            let path = cfg.dir.join(super::names::segment_name(db_id, id));
            unlinked += usize::from(remove_ours(cfg, &path)?);
        } else if !released.is_empty() || scan {
            give_back(cfg, db_id, id, held, released, scan);
        }
        // Forgotten only once its pages are given back: a crash in between leaves the publication,
        // and the next lock holder gives them back again.
        for p in released {
            rf.forget(p)?;
        }
    }
    let mut removed = 0;
    if scan {
        let published: BTreeSet<u64> = rf.published().map(|p| p.segment).collect();
        for entry in list(&cfg.dir)? {
            if let (true, Name::Segment(id)) = (entry.db_id == db_id, &entry.kind) {
                if !published.contains(id) {
                    removed += usize::from(remove_ours(cfg, &cfg.dir.join(&entry.file))?);
                }
            }
        }
    }
    if rf.slots().next().is_none() {
        rf.remove()?;
        return Ok((unlinked, removed, true));
    }
    Ok((unlinked, removed, false))
}

/// Gives back the pages of segment `id` that the `released` generations (with `everything`: any byte
/// past the header) use and no `held` one does. Best effort, and nothing when a held generation's ranges
/// cannot be read: a page is given back only when it is known that no held generation uses it.
fn give_back(
    cfg: &ShmConfig,
    db_id: &str,
    id: u64,
    held: &[Published],
    released: &[Published],
    everything: bool,
) {
    let Ok(Some(seg)) = SegmentFile::open(cfg, db_id, id, true) else {
        return;
    };
    let Ok(live) = held
        .iter()
        .map(|p| seg.ranges_of(p))
        .collect::<Result<Vec<_>>>()
    else {
        return;
    };
    let live: Vec<_> = live.into_iter().flatten().collect();
    let mut dead: Vec<(u64, u64)> = released
        .iter()
        .filter_map(|p| seg.ranges_of(p).ok())
        .flatten()
        .map(|s| (s.offset, s.offset.saturating_add(s.len)))
        .collect();
    if everything {
        if let Ok(len) = seg.len() {
            dead.push((HEADER_LEN as u64, len));
        }
    }
    seg.punch(&dead_pages(&live, &dead));
}

/// Whether a live process other than this one holds a generation of db `db_id` (a shared lock; no
/// reference file: no). A lock still held when `patience` runs out also answers no: its holder is
/// loading, and whoever next needs the generation loads what is left.
pub(crate) fn held_elsewhere(cfg: &ShmConfig, db_id: &str, patience: Patience) -> Result<bool> {
    let me = std::process::id();
    let rf = RefFile::lock_with(&ref_path(&cfg.dir, db_id), cfg.group, false, patience)?;
    Ok(rf.is_some_and(|rf| rf.slots().any(|s| s.pid != me && slots::is_alive(s))))
}

/// Frees dead slots and removes what no live process holds for every db in the dir, including dbs
/// whose ref file is gone (never left so by covec, but a manual delete could), and the protocol-1 files
/// of earlier covecs under their own lock and rules.
pub fn sweep(cfg: &ShmConfig) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    // Per db id: (has protocol-2 files, has protocol-1 files).
    let mut ids: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for e in list(&cfg.dir)? {
        let legacy = matches!(
            e.kind,
            Name::LegacyRef | Name::LegacySegment(_) | Name::LegacyTemp
        );
        let seen = ids.entry(e.db_id).or_default();
        seen.0 |= !legacy;
        seen.1 |= legacy;
    }
    for (id, (current, legacy)) in ids {
        // One planted ref file must not stop the sweep of every other db.
        if current {
            match RefFile::lock(&ref_path(&cfg.dir, &id), cfg.group, true) {
                Ok(Some(rf)) => sweep_locked(cfg, &id, rf, &mut report)?,
                Ok(None) => {}
                Err(Error::Untrusted { .. }) => report.untrusted += 1,
                Err(e) => return Err(e),
            }
        }
        if legacy {
            match sweep_legacy(cfg, &id, &mut report) {
                Err(Error::Untrusted { .. }) => report.untrusted += 1,
                other => other?,
            }
        }
    }
    Ok(report)
}

/// One db's sweep, under its exclusive lock `rf`.
fn sweep_locked(
    cfg: &ShmConfig,
    db_id: &str,
    mut rf: RefFile,
    report: &mut SweepReport,
) -> Result<()> {
    super::attach::release_deferred(cfg, db_id, &mut rf)?;
    report.dead_slots += rf.sweep()?;
    let (unlinked, removed, ref_removed) = finish_locked(cfg, db_id, rf, true)?;
    report.segments_unlinked += unlinked;
    report.temps_removed += removed;
    report.ref_files_removed += usize::from(ref_removed);
    Ok(())
}

/// Protocol 1 (earlier covecs): under `covec.<id>.ref`'s lock, frees dead slots, removes temp files,
/// unlinks segments `covec.<id>.<generation>` whose generation no live slot names, and removes the ref
/// file when empty: what those covecs' own sweep does, so a process of theirs still running is safe.
fn sweep_legacy(cfg: &ShmConfig, db_id: &str, report: &mut SweepReport) -> Result<()> {
    let Some(mut rf) = RefFile::lock(&legacy_ref_path(&cfg.dir, db_id), cfg.group, true)? else {
        return Ok(());
    };
    report.dead_slots += rf.sweep()?;
    for entry in list(&cfg.dir)?.into_iter().filter(|e| e.db_id == db_id) {
        let path = cfg.dir.join(&entry.file);
        match entry.kind {
            Name::LegacyTemp => report.temps_removed += usize::from(remove_ours(cfg, &path)?),
            Name::LegacySegment(g) if !rf.slots().any(|s| s.generation == g) => {
                report.segments_unlinked += usize::from(remove_ours(cfg, &path)?);
            }
            _ => {}
        }
    }
    if rf.slots().next().is_none() {
        rf.remove()?;
        report.ref_files_removed += 1;
    }
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

/// Sweeps every db but `own` that is the caller's (its ref file is the caller's uid's; without one,
/// some segment file of it is) and shows something to free to a look under a shared lock taken without
/// waiting (`has_leftovers`); such a db is then swept under its exclusive lock, also taken without
/// waiting. A db whose lock is held is skipped: its holder is a live covec process, which sweeps it
/// before it lets go. Another user's files under the db's names are never unlinked (`remove_ours`), so
/// planting one does not stop the sweep. docs/protocol.md, "Sweep on attach", gives the argument that
/// this never unlinks a held segment nor touches another user's file.
pub(super) fn sweep_others(cfg: &ShmConfig, own: &str) -> Result<SweepReport> {
    let mut dbs: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for entry in list(&cfg.dir)? {
        if matches!(entry.kind, Name::Ref | Name::Segment(_)) {
            dbs.entry(entry.db_id.clone()).or_default().push(entry);
        }
    }
    let mut report = SweepReport::default();
    for (id, files) in dbs {
        let ref_file = files.iter().find(|e| matches!(e.kind, Name::Ref));
        let callers = match ref_file {
            Some(r) => owned_by_caller(&cfg.dir.join(&r.file)),
            None => files
                .iter()
                .any(|e| owned_by_caller(&cfg.dir.join(&e.file))),
        };
        if id == own || !callers {
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

/// Whether db `id`, whose protocol-2 files in the dir are `files`, holds something a sweep would remove:
/// segments with no ref file, a dead slot or torn record, no live slot, a publication no slot holds, or
/// a segment nothing publishes. Looks under a shared lock taken without waiting; false when it is held
/// exclusively (its holder sweeps).
fn has_leftovers(cfg: &ShmConfig, id: &str, files: &[Entry]) -> Result<bool> {
    let segments = files.iter().filter_map(|e| match e.kind {
        Name::Segment(s) => Some(s),
        _ => None,
    });
    if !files.iter().any(|e| matches!(e.kind, Name::Ref)) {
        return Ok(segments.count() > 0);
    }
    let Some(rf) = RefFile::try_lock(&ref_path(&cfg.dir, id), cfg.group, false)? else {
        return Ok(false);
    };
    if rf.has_dead() || rf.slots().next().is_none() || rf.published().any(|p| !rf.is_held(p)) {
        return Ok(true);
    }
    let published: BTreeSet<u64> = rf.published().map(|p| p.segment).collect();
    Ok(segments.into_iter().any(|s| !published.contains(&s)))
}

/// Segments and live slots of every db in the dir, by db id. Reads under shared locks; changes nothing.
pub fn status(cfg: &ShmConfig) -> Result<Vec<DbSegments>> {
    let mut dbs: BTreeMap<String, DbSegments> = BTreeMap::new();
    let mut generations: BTreeMap<(String, u64), Vec<u64>> = BTreeMap::new();
    let entries = list(&cfg.dir)?;
    for entry in &entries {
        let db = dbs
            .entry(entry.db_id.clone())
            .or_insert_with(|| DbSegments {
                db_id: entry.db_id.clone(),
                segments: Vec::new(),
                slots: Vec::new(),
            });
        if let Name::Ref | Name::LegacyRef = entry.kind {
            let path = cfg.dir.join(&entry.file);
            if let Some(rf) = RefFile::lock(&path, cfg.group, false)? {
                db.slots
                    .extend(rf.slots().filter(|s| slots::is_alive(s)).map(|s| SlotInfo {
                        pid: s.pid,
                        generation: s.generation,
                        count: s.count,
                    }));
                for p in rf.published() {
                    generations
                        .entry((entry.db_id.clone(), p.segment))
                        .or_default()
                        .push(p.generation);
                }
            }
        }
    }
    for entry in entries {
        let published = match entry.kind {
            Name::Segment(id) => generations
                .remove(&(entry.db_id.clone(), id))
                .unwrap_or_default(),
            Name::LegacySegment(g) => vec![g],
            _ => continue,
        };
        let path = cfg.dir.join(&entry.file);
        let (bytes, length) = match std::fs::symlink_metadata(&path) {
            Ok(m) => (m.blocks().saturating_mul(512), m.len()),
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        if let Some(db) = dbs.get_mut(&entry.db_id) {
            let mut generations = published;
            generations.sort_unstable();
            db.segments.push(SegmentInfo {
                name: entry.file,
                generations,
                bytes,
                length,
            });
        }
    }
    let mut out: Vec<DbSegments> = dbs.into_values().collect();
    for db in &mut out {
        db.segments.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(out)
}
