//! Attaching: finding (or loading) a generation's publication under the db's reference-file lock,
//! holding a slot on it and mapping its segment read-only; detaching when the `Attachment` is dropped.
//!
//! A process maps each segment once and shares that mapping between its attachments: the mapping
//! reaches past the file's end, and tmpfs makes bytes appended later visible in it, so moving to a
//! generation appended to the same segment maps nothing and faults in no page it already had.
//!
//! Only a process's first attach of a db waits for the lock (`attach`). Moving to a newer generation
//! (`try_attach`) and moving off an old one (an `Attachment` marked `detach_without_waiting`) wait
//! about 2 ms at most (`Patience::Briefly`): a longer holder is loading a generation, so the caller reads
//! the db file meanwhile, or keeps its released slot in `DEFERRED` until its next lock of the db.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use memmap2::Mmap;

use super::load::load;
use super::names::{check_db_id, ref_path, segment_name};
use super::segfile::{published_meta, SegmentFile};
use super::slots::{self, Patience, Published, RefFile};
use super::sweep::{finish_locked, sweep_others_if_due};
use super::ShmConfig;
use crate::error::{Error, Result};
use crate::format::{Catalog, MetaSlot};

/// A committed generation of a db, as the store offers it to the loader.
pub trait ImageSource {
    /// The db's identity: 16 lowercase hex characters, stable for the life of the db file.
    fn db_id(&self) -> &str;
    /// The generation's root: generation, commit id (two histories that reach one generation number
    /// differ in it), where its catalog lies, its committed length.
    fn meta(&self) -> &MetaSlot;
    /// The generation's catalog; asked only by a loader, so a source may decode it then.
    fn catalog(&self) -> Result<&Catalog>;
    /// Reads `buf.len()` bytes of the generation's image at `offset` (below its committed length).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
}

/// One process's read-only mapping of one segment, shared by its attachments.
struct SegmentMap {
    map: Mmap,
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// Every segment this process maps, so attachments to generations of one segment share a mapping.
static MAPS: Mutex<Vec<Weak<SegmentMap>>> = Mutex::new(Vec::new());

/// Beyond what the generation needs, a new mapping reaches this far (at least): the segment's
/// growth it will see without mapping again. Address space only; no memory.
fn reach(len: u64) -> Option<usize> {
    let total = len.checked_add(len.max(64 << 20))?;
    usize::try_from(total.div_ceil(4096).checked_mul(4096)?)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
}

/// The mapping of publication `p`'s segment, reused when this process already maps that file far
/// enough; otherwise the file is opened (trusted, its header naming it) and mapped anew.
fn map_segment(cfg: &ShmConfig, db_id: &str, p: &Published) -> Result<Arc<SegmentMap>> {
    let path = cfg.dir.join(segment_name(db_id, p.segment));
    let end = published_meta(p, &path)?.committed_len;
    // The loader wrote every byte up to the end of the catalog: a shorter file is not this generation's.
    let short = |len: u64| {
        Error::corrupt(
            &path,
            format!(
                "segment is {len} bytes but generation {} ends at {end}",
                p.generation
            ),
        )
    };
    if let Ok(st) = std::fs::symlink_metadata(&path) {
        let mut maps = MAPS.lock().map_err(|_| poisoned())?;
        maps.retain(|w| w.strong_count() > 0);
        let cached = maps.iter().filter_map(Weak::upgrade).find(|m| {
            m.path == path && m.dev == st.dev() && m.ino == st.ino() && m.map.len() as u64 >= end
        });
        if let Some(m) = cached {
            return if st.len() >= end {
                Ok(m)
            } else {
                Err(short(st.len()))
            };
        }
    }
    // Opened and mapped without holding the list's lock (a fork meanwhile must not inherit it locked);
    // two threads may map the same segment, which is only wasteful.
    let seg = SegmentFile::open(cfg, db_id, p.segment, false)?
        .ok_or_else(|| Error::io(&path, std::io::ErrorKind::NotFound.into()))?;
    let meta = seg.file().metadata().map_err(|e| Error::io(&path, e))?;
    if meta.len() < end {
        return Err(short(meta.len()));
    }
    let len =
        reach(end).ok_or_else(|| Error::corrupt(&path, "image larger than the address space"))?;
    // SAFETY: the file is ours (checked by `open`) and its bytes below the end of any held generation
    // are never written again, nor the file truncated (docs/protocol.md, invariants 2 and 5); attachments
    // read only the ranges of their generation, all written before it was published. The mapping
    // reaches past the end of the file; nothing reads there.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(seg.file()) }
        .map_err(|e| Error::io(&path, e))?;
    let m = Arc::new(SegmentMap {
        map,
        path,
        dev: meta.dev(),
        ino: meta.ino(),
    });
    MAPS.lock()
        .map_err(|_| poisoned())?
        .push(Arc::downgrade(&m));
    Ok(m)
}

fn poisoned() -> Error {
    Error::Internal("a thread panicked while holding the segment map list".into())
}

/// A slot this process no longer uses but could not release without waiting for the lock (held by a
/// loader): released at its next lock of the db. It keeps its generation's pages meanwhile (memory only).
struct Deferred {
    dir: PathBuf,
    db_id: String,
    pid: u32,
    start: u64,
    generation: u64,
    commit_id: u64,
}

static DEFERRED: Mutex<Vec<Deferred>> = Mutex::new(Vec::new());

/// Under db `db_id`'s exclusive lock `rf`: releases the slots this process deferred (a forked child
/// drops its parent's entries: those slots are the parent's); how many.
pub(super) fn release_deferred(cfg: &ShmConfig, db_id: &str, rf: &mut RefFile) -> Result<usize> {
    let pid = std::process::id();
    let mine: Vec<Deferred> = {
        let mut deferred = DEFERRED.lock().map_err(|_| poisoned())?;
        deferred.retain(|d| d.pid == pid);
        let (mine, rest) = std::mem::take(&mut *deferred)
            .into_iter()
            .partition(|d| d.dir == cfg.dir && d.db_id == db_id);
        *deferred = rest;
        mine
    };
    for d in &mine {
        rf.release(d.pid, d.start, d.generation, d.commit_id)?;
    }
    Ok(mine.len())
}

/// Whether this process has deferred a release of db `db_id` in `cfg`'s dir.
fn has_deferred(cfg: &ShmConfig, db_id: &str) -> bool {
    let pid = std::process::id();
    DEFERRED.lock().is_ok_and(|deferred| {
        deferred
            .iter()
            .any(|d| d.pid == pid && d.dir == cfg.dir && d.db_id == db_id)
    })
}

/// Waits for db `db_id`'s lock and releases the slots this process deferred (a db being closed: nothing
/// of it should outlive the process's last use).
pub(crate) fn release_deferred_now(cfg: &ShmConfig, db_id: &str) -> Result<()> {
    if !has_deferred(cfg, db_id) {
        return Ok(());
    }
    match RefFile::lock(&ref_path(&cfg.dir, db_id), cfg.group, true)? {
        Some(rf) => release_and_finish(cfg, db_id, rf),
        None => Ok(()),
    }
}

/// Under db `db_id`'s exclusive lock `rf`, after a detach: releases the slots this process deferred,
/// frees dead slots and finishes (`finish_locked`), unlocking.
fn release_and_finish(cfg: &ShmConfig, db_id: &str, mut rf: RefFile) -> Result<()> {
    release_deferred(cfg, db_id, &mut rf)?;
    let freed = rf.sweep()?;
    finish_locked(cfg, db_id, rf, freed > 0).map(drop)
}

/// A held generation in a read-only mapping of its segment; dropping it detaches.
pub struct Attachment {
    map: Arc<SegmentMap>,
    published: Published,
    meta: MetaSlot,
    cfg: ShmConfig,
    db_id: String,
    /// The process that holds the slot; a forked child inherits the mapping but not the slot.
    pid: u32,
    start: u64,
    attached: bool,
    /// Set when the process has moved to a newer generation: the detach then waits for no loader.
    without_waiting: AtomicBool,
}

impl Attachment {
    /// The generation's image at the db file's offsets: its sections and catalog lie where its catalog
    /// says; the bytes between them are other generations' or holes, and are never read.
    pub fn image(&self) -> &[u8] {
        &self.map.map[..self.meta.committed_len as usize]
    }

    /// The generation's root (its live bytes are not recorded: 0).
    pub fn meta(&self) -> &MetaSlot {
        &self.meta
    }

    pub fn generation(&self) -> u64 {
        self.published.generation
    }

    /// The segment's file name inside the shm dir.
    pub fn segment_name(&self) -> String {
        segment_name(&self.db_id, self.published.segment)
    }

    /// The pid of the process that loaded this generation into its segment.
    pub fn loaded_by(&self) -> u32 {
        self.published.loaded_by
    }

    /// Detaches now, reporting errors that `Drop` has to swallow.
    pub fn detach(mut self) -> Result<()> {
        self.detach_once()
    }

    /// Makes the detach (when the last user drops this) wait for no loader: if the lock stays held past
    /// `Patience::Briefly`, the slot is released at this process's next lock of the db.
    pub fn detach_without_waiting(&self) {
        self.without_waiting.store(true, Ordering::Relaxed);
    }

    fn detach_once(&mut self) -> Result<()> {
        if !self.attached || std::process::id() != self.pid {
            return Ok(());
        }
        self.attached = false;
        let path = ref_path(&self.cfg.dir, &self.db_id);
        let p = &self.published;
        let patience = match self.without_waiting.load(Ordering::Relaxed) {
            true => Patience::Briefly,
            false => Patience::Wait,
        };
        let locked = RefFile::lock_with(&path, self.cfg.group, true, patience)?;
        let Some(mut rf) = locked else {
            DEFERRED.lock().map_err(|_| poisoned())?.push(Deferred {
                dir: self.cfg.dir.clone(),
                db_id: self.db_id.clone(),
                pid: self.pid,
                start: self.start,
                generation: p.generation,
                commit_id: p.commit_id,
            });
            return Ok(());
        };
        rf.release(self.pid, self.start, p.generation, p.commit_id)?;
        release_and_finish(&self.cfg, &self.db_id, rf)
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // Drop cannot report; a failed detach leaves a slot that the next sweep frees once we exit.
        let _ = self.detach_once();
    }
}

/// Maps generation `src.meta()` of the db read-only, loading it first if no process has, waiting for
/// the reference file's lock as long as another process holds it.
pub fn attach(cfg: &ShmConfig, src: &dyn ImageSource) -> Result<Attachment> {
    try_attach(cfg, src, Patience::Wait, &|_| true)?.ok_or_else(|| {
        Error::Internal("creating lock on the reference file returned nothing".into())
    })
}

/// `attach`, but None when another process holds the reference file's lock longer than `patience`
/// (loading a generation), or when the generation is not published and `may_load` refuses the bytes
/// its load would write (asked then, under the lock: another process is to load them): the caller reads
/// the db file meanwhile and tries again later, instead of waiting for that load or making it itself.
pub fn try_attach(
    cfg: &ShmConfig,
    src: &dyn ImageSource,
    patience: Patience,
    may_load: &dyn Fn(u64) -> bool,
) -> Result<Option<Attachment>> {
    let db_id = src.db_id();
    check_db_id(db_id)?;
    let (pid, start) = slots::self_identity()?;
    // Before taking our own lock: the other dbs' locks are only ever tried, never waited for.
    sweep_others_if_due(cfg, db_id);
    let path = ref_path(&cfg.dir, db_id);
    let Some(mut rf) = RefFile::lock_with(&path, cfg.group, true, patience)? else {
        return Ok(None);
    };
    release_deferred(cfg, db_id, &mut rf)?;
    let freed = rf.sweep()?;
    let attached = attach_locked(cfg, src, &mut rf, pid, start, may_load);
    // Collecting garbage (released generations, a dead loader's bytes, an empty ref file) must not
    // fail an attach that worked: whatever stays is removed by the next detach or sweep.
    let _ = finish_locked(cfg, db_id, rf, freed > 0);
    let Some((map, published)) = attached? else {
        return Ok(None);
    };
    let meta = published_meta(&published, &map.path)?;
    Ok(Some(Attachment {
        map,
        published,
        meta,
        cfg: cfg.clone(),
        db_id: db_id.to_string(),
        pid,
        start,
        attached: true,
        without_waiting: AtomicBool::new(false),
    }))
}

/// Under the exclusive lock: finds the publication or (if `may_load` allows the bytes) loads it, adds
/// our slot, maps its segment.
fn attach_locked(
    cfg: &ShmConfig,
    src: &dyn ImageSource,
    rf: &mut RefFile,
    pid: u32,
    start: u64,
    may_load: &dyn Fn(u64) -> bool,
) -> Result<Option<(Arc<SegmentMap>, Published)>> {
    let m = src.meta();
    let published = match rf.find_published(m.generation, m.commit_id) {
        Some(p) => {
            rf.add(pid, start, p.generation, p.commit_id)?;
            p
        }
        None => match load(cfg, src, rf, pid, start, may_load)? {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    match map_segment(cfg, src.db_id(), &published) {
        Ok(map) => Ok(Some((map, published))),
        Err(e) => {
            rf.release(pid, start, published.generation, published.commit_id)?;
            Err(e)
        }
    }
}
