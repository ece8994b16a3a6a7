//! Shared-memory segments and the reference-count protocol (docs/protocol.md is the specification).
//!
//! One process per generation copies the db's committed image into `<dir>/covec.<db_id>.<generation>`
//! (loaded under a temporary name, published by rename: a final name only ever names a complete
//! segment). Every process maps it read-only. `<dir>/covec.<db_id>.ref` records which live processes
//! hold which generation; all changes to it, loading included, happen under its exclusive `flock`, and
//! whoever leaves a segment without a live slot unlinks it.

/// Public for the fuzz targets (fuzz/): decoding arbitrary bytes must never panic.
pub mod header;
mod slots;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use nix::errno::Errno;
use nix::sys::stat::FileStat;

use crate::error::{Error, Result};
use header::{Header, HeaderError, HEADER_LEN, READY, READY_AT};
use slots::RefFile;

/// A committed image of one generation of a db, as the store offers it to the loader.
pub trait ImageSource {
    /// The db's identity: 16 lowercase hex characters, stable for the life of the db file.
    fn db_id(&self) -> &str;
    fn generation(&self) -> u64;
    /// Distinguishes two different images that claim the same generation (a recreated db).
    fn commit_id(&self) -> u64;
    /// Image length in bytes; asked only by a loader, so a source may work it out then.
    fn image_len(&self) -> Result<u64>;
    /// Passes the image to `out` in order, in pieces: exactly `image_len()` bytes in all.
    fn emit_image(&self, out: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()>;
}

/// Where segments live and who may read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShmConfig {
    /// A tmpfs directory (sticky, like /dev/shm) shared by every process of one pid namespace.
    pub dir: PathBuf,
    /// Share segments (0640) and reference files (0660) with this group instead of owner-only (0600).
    pub group: Option<u32>,
}

impl ShmConfig {
    /// `$COVEC_SHM_DIR`, or /dev/shm; owner-only.
    pub fn from_env() -> ShmConfig {
        let dir = std::env::var_os("COVEC_SHM_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/dev/shm"));
        ShmConfig { dir, group: None }
    }
}

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

/// A read-only mapping of one complete segment; dropping it detaches.
pub struct Attachment {
    map: Mmap,
    image_len: usize,
    image_hash: u64,
    loaded_by: u32,
    generation: u64,
    name: String,
    cfg: ShmConfig,
    db_id: String,
    /// The process that holds the slot; a forked child inherits the mapping but not the slot.
    pid: u32,
    start: u64,
    attached: bool,
}

impl Attachment {
    /// The db image, starting 4096 bytes into the mapping (page-aligned).
    pub fn image(&self) -> &[u8] {
        &self.map[HEADER_LEN..HEADER_LEN + self.image_len]
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The segment's file name inside the shm dir.
    pub fn segment_name(&self) -> &str {
        &self.name
    }

    /// The pid of the process that loaded this segment (from its header).
    pub fn loaded_by(&self) -> u32 {
        self.loaded_by
    }

    /// Bytes mapped: header plus image.
    pub fn mapped_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Checks the whole image against the checksum the loader stored (reads every byte; not done on attach).
    pub fn verify(&self) -> Result<()> {
        if xxhash_rust::xxh3::xxh3_64(self.image()) == self.image_hash {
            Ok(())
        } else {
            Err(Error::corrupt(
                self.cfg.dir.join(&self.name),
                "segment image checksum mismatch (the shared memory was modified after loading)",
            ))
        }
    }

    /// Detaches now, reporting errors that `Drop` has to swallow.
    pub fn detach(mut self) -> Result<()> {
        self.detach_once()
    }

    fn detach_once(&mut self) -> Result<()> {
        if !self.attached || std::process::id() != self.pid {
            return Ok(());
        }
        self.attached = false;
        let Some(mut rf) =
            RefFile::lock(&ref_path(&self.cfg.dir, &self.db_id), self.cfg.group, true)?
        else {
            return Ok(());
        };
        rf.release(self.pid, self.start, self.generation)?;
        rf.sweep()?;
        finish_locked(&self.cfg, &self.db_id, rf).map(drop)
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // Drop cannot report; a failed detach leaves a slot that the next sweep frees once we exit.
        let _ = self.detach_once();
    }
}

/// Maps generation `src.generation()` of the db read-only, loading it first if no process has.
pub fn attach(cfg: &ShmConfig, src: &dyn ImageSource) -> Result<Attachment> {
    let db_id = src.db_id();
    check_db_id(db_id)?;
    let generation = src.generation();
    let (pid, start) = slots::self_identity()?;
    let Some(mut rf) = RefFile::lock(&ref_path(&cfg.dir, db_id), cfg.group, true)? else {
        return Err(Error::Internal(
            "creating lock on the reference file returned nothing".into(),
        ));
    };
    rf.sweep()?;
    // Loaders hold this lock from creating their temp file to publishing it, so every temp file of this
    // db we can see now was left by a loader that died.
    remove_temps(cfg, db_id)?;
    let attached = attach_locked(cfg, src, &mut rf, pid, start);
    // Collecting garbage (other generations, an empty ref file) must not fail an attach that worked:
    // whatever stays is removed by the next detach or sweep.
    let _ = finish_locked(cfg, db_id, rf);
    let (map, h) = attached?;
    Ok(Attachment {
        image_len: h.image_len as usize,
        image_hash: h.image_hash,
        loaded_by: h.creator_pid,
        map,
        generation,
        name: segment_name(db_id, generation),
        cfg: cfg.clone(),
        db_id: db_id.to_string(),
        pid,
        start,
        attached: true,
    })
}

/// Under the exclusive lock: finds or loads the segment, maps it, and adds our slot.
fn attach_locked(
    cfg: &ShmConfig,
    src: &dyn ImageSource,
    rf: &mut RefFile,
    pid: u32,
    start: u64,
) -> Result<(Mmap, Header)> {
    let db_id = src.db_id();
    let generation = src.generation();
    let path = cfg.dir.join(segment_name(db_id, generation));
    match open_segment(&path, cfg, db_id, generation)? {
        Some((map, h)) if h.commit_id == src.commit_id() => {
            rf.add(pid, start, generation)?;
            return Ok((map, h));
        }
        Some((_, h)) => {
            let users: Vec<u32> = rf
                .slots()
                .filter(|s| s.generation == generation)
                .map(|s| s.pid)
                .collect();
            if !users.is_empty() {
                return Err(Error::corrupt(
                    &path,
                    format!(
                        "segment holds commit {} but generation {generation} of the db is commit {}; \
                         processes {users:?} still use the old one: stop them, or run `covec status`",
                        h.commit_id,
                        src.commit_id()
                    ),
                ));
            }
            // Nobody holds it: a stale image of a db recreated under the same id.
            remove_if_exists(&path)?;
        }
        None => {}
    }
    load(cfg, src, rf, pid, start, &path)?;
    let opened = open_segment(&path, cfg, db_id, generation).and_then(|m| match m {
        Some((map, h)) if h.commit_id == src.commit_id() => Ok((map, h)),
        _ => Err(Error::Internal(format!(
            "{} changed right after loading it",
            path.display()
        ))),
    });
    if opened.is_err() {
        rf.release(pid, start, generation)?;
    }
    opened
}

/// Copies the image into a temp segment and publishes it at `path`; our slot is written before the
/// rename, so a loader killed at any point leaves only things the next lock holder removes.
fn load(
    cfg: &ShmConfig,
    src: &dyn ImageSource,
    rf: &mut RefFile,
    pid: u32,
    start: u64,
    path: &Path,
) -> Result<()> {
    let db_id = src.db_id();
    let generation = src.generation();
    let image_len = src.image_len()?;
    let available = free_bytes(&cfg.dir)?;
    let needed = image_len.checked_add(HEADER_LEN as u64);
    let total = match needed {
        Some(n) if n <= available && libc::off_t::try_from(n).is_ok() => n,
        _ => {
            return Err(Error::ShmFull {
                dir: cfg.dir.clone(),
                needed: needed.unwrap_or(u64::MAX),
                available,
            })
        }
    };
    let tmp_path = cfg
        .dir
        .join(format!("covec.{db_id}.{generation}.tmp-{pid}"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp_path)
        .map_err(|e| Error::io(&tmp_path, e))?;
    let temp = TempFile(tmp_path);
    if let Some(g) = cfg.group {
        give_to_group(&file, &temp.0, g, 0o640)?;
    }
    // Every byte is written (no holes), so every page is backed before anyone maps the segment: on
    // tmpfs a hole would be allocated at a reader's first touch and could fail there with SIGBUS.
    // Writing through the file, not a fresh mapping, spares the kernel zeroing each page first.
    let shm_write = |at: u64, bytes: &[u8]| match file.write_all_at(bytes, at) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EFBIG)) => {
            Err(Error::ShmFull {
                dir: cfg.dir.clone(),
                needed: total,
                available: free_bytes(&cfg.dir)?,
            })
        }
        Err(e) => Err(Error::io(&temp.0, e)),
    };
    let mut image_hash = xxhash_rust::xxh3::Xxh3::new();
    let mut written = HEADER_LEN as u64;
    src.emit_image(&mut |piece| {
        shm_write(written, piece)?;
        image_hash.update(piece);
        written += piece.len() as u64;
        Ok(())
    })?;
    if written != total {
        return Err(Error::Internal(format!(
            "{} got {written} bytes, expected {total}",
            temp.0.display()
        )));
    }
    test_slow_load();
    let mut page = [0u8; HEADER_LEN];
    Header {
        db_id: db_id_bytes(db_id)?,
        generation,
        commit_id: src.commit_id(),
        image_len,
        image_hash: image_hash.digest(),
        creator_pid: pid,
    }
    .encode_unready(&mut page);
    shm_write(0, &page)?;
    // The ready mark goes in last. Readers only see the segment after the rename and our unlock, which
    // already order these writes; writing it separately keeps that true even for a reader of the temp.
    shm_write(READY_AT as u64, &READY)?;
    drop(file);
    rf.add(pid, start, generation)?;
    let renamed = nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        &temp.0,
        nix::fcntl::AT_FDCWD,
        path,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    );
    if let Err(e) = renamed {
        rf.release(pid, start, generation)?;
        return Err(Error::io(path, e.into()));
    }
    std::mem::forget(temp);
    Ok(())
}

/// Test hook (tests/test_crash_matrix.py): `COVEC_TEST_SLOW_LOAD_MS=N` sleeps N ms (at most 10 s)
/// between copying the image into the temp segment and writing its header, so a SIGKILL can land
/// while a half-made segment exists. Unset (always, outside tests), it costs one env lookup per load.
fn test_slow_load() {
    if let Some(ms) = std::env::var("COVEC_TEST_SLOW_LOAD_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
    }
}

/// A temp segment removed on every early return of `load`.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Opens and maps a published segment read-only after checking who owns it and what its header says.
/// `None`: there is no such file.
fn open_segment(
    path: &Path,
    cfg: &ShmConfig,
    db_id: &str,
    generation: u64,
) -> Result<Option<(Mmap, Header)>> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::Untrusted {
                path: path.to_path_buf(),
                reason: "it is a symbolic link".into(),
            })
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let st = nix::sys::stat::fstat(file.as_fd()).map_err(|e| Error::io(path, e.into()))?;
    check_trusted(path, &st, cfg.group, false)?;
    let size = st.st_size as u64;
    if size < HEADER_LEN as u64 {
        return Err(Error::NotCovec {
            path: path.to_path_buf(),
            reason: format!("{size} bytes, shorter than a segment header"),
        });
    }
    // SAFETY: the file is ours (checked above), complete (it has its final name), and never written or
    // truncated after publication; unlinking it leaves this mapping valid.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let h = Header::decode(&map).map_err(|e| match e {
        HeaderError::NotSegment(reason) => Error::NotCovec {
            path: path.to_path_buf(),
            reason,
        },
        HeaderError::Newer(found) => Error::NewerVersion {
            path: path.to_path_buf(),
            found,
            supported: header::VERSION,
        },
        HeaderError::Corrupt(reason) => Error::corrupt(path, reason),
    })?;
    let expected = h.image_len.checked_add(HEADER_LEN as u64);
    if h.db_id != db_id_bytes(db_id)? || h.generation != generation || expected != Some(size) {
        return Err(Error::corrupt(
            path,
            format!(
                "header names db {} generation {} with {} image bytes, but the file is {size} bytes \
                 and named for db {db_id} generation {generation}",
                String::from_utf8_lossy(&h.db_id),
                h.generation,
                h.image_len
            ),
        ));
    }
    if usize::try_from(h.image_len).is_err() {
        return Err(Error::corrupt(path, "image larger than the address space"));
    }
    Ok(Some((map, h)))
}

/// Refuses a file another user could have written or may read: it must be a regular file owned by us
/// (or, when sharing with `group`, carrying that group), with no bits for others, and group bits only
/// for `group` (write only where members must write: the ref file).
fn check_trusted(
    path: &Path,
    st: &FileStat,
    group: Option<u32>,
    group_may_write: bool,
) -> Result<()> {
    let untrusted = |reason: String| {
        Err(Error::Untrusted {
            path: path.to_path_buf(),
            reason,
        })
    };
    let mode = st.st_mode;
    if mode & libc::S_IFMT != libc::S_IFREG {
        return untrusted("it is not a regular file".into());
    }
    let perms = mode & 0o7777;
    if perms & 0o007 != 0 {
        return untrusted(format!("other users may access it (mode {perms:o})"));
    }
    let euid = nix::unistd::geteuid().as_raw();
    let our_group = group.is_some_and(|g| g == st.st_gid);
    if st.st_uid != euid && !our_group {
        return untrusted(format!(
            "it is owned by uid {} (we are uid {euid})",
            st.st_uid
        ));
    }
    if perms & 0o070 != 0 && !our_group {
        return untrusted(format!(
            "group {} may access it (mode {perms:o}) but covec shares with {}",
            st.st_gid,
            group.map_or("no group".to_string(), |g| format!("group {g}"))
        ));
    }
    if perms & 0o020 != 0 && !group_may_write {
        return untrusted(format!("its group may write it (mode {perms:o})"));
    }
    Ok(())
}

/// Hands a file we created to `group` with `mode` (chown first, so no moment exposes it to the
/// creator's default group).
fn give_to_group(f: &File, path: &Path, group: u32, mode: u32) -> Result<()> {
    nix::unistd::fchown(f.as_fd(), None, Some(nix::unistd::Gid::from_raw(group)))
        .map_err(|e| Error::io(path, e.into()))?;
    slots::set_mode(f, path, mode)
}

fn free_bytes(dir: &Path) -> Result<u64> {
    let v = nix::sys::statvfs::statvfs(dir).map_err(|e| Error::io(dir, e.into()))?;
    Ok((v.blocks_available() as u64).saturating_mul(v.fragment_size() as u64))
}

/// Under the exclusive lock, after the slots were swept: unlinks every segment of `db_id` that no
/// live slot holds, and the ref file when no slot is left. Returns (segments unlinked, ref removed).
fn finish_locked(cfg: &ShmConfig, db_id: &str, rf: RefFile) -> Result<(usize, bool)> {
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

fn remove_temps(cfg: &ShmConfig, db_id: &str) -> Result<usize> {
    let mut removed = 0;
    for entry in list(&cfg.dir)? {
        if entry.db_id == db_id && matches!(entry.kind, Name::Temp) {
            removed += usize::from(remove_ours(cfg, &cfg.dir.join(&entry.file))?);
        }
    }
    Ok(removed)
}

/// Unlinks a file under a covec name only if it is ours (our uid, or our sharing group): another
/// user's file under our names was planted, and is refused, never deleted (in a sticky dir we could
/// not, and an error there must not stop a sweep of everything else; as root we must not either).
fn remove_ours(cfg: &ShmConfig, path: &Path) -> Result<bool> {
    let st = match nix::sys::stat::lstat(path) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(Error::io(path, e.into())),
    };
    let ours =
        st.st_uid == nix::unistd::geteuid().as_raw() || cfg.group.is_some_and(|g| g == st.st_gid);
    if !ours {
        return Ok(false);
    }
    remove_if_exists(path)
}

fn remove_if_exists(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
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
        let mut rf = match RefFile::lock(&ref_path(&cfg.dir, &id), cfg.group, true) {
            Ok(Some(rf)) => rf,
            Ok(None) => continue,
            Err(Error::Untrusted { .. }) => {
                report.untrusted += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        report.dead_slots += rf.sweep()?;
        report.temps_removed += remove_temps(cfg, &id)?;
        let (unlinked, removed) = finish_locked(cfg, &id, rf)?;
        report.segments_unlinked += unlinked;
        report.ref_files_removed += usize::from(removed);
    }
    Ok(report)
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

fn ref_path(dir: &Path, db_id: &str) -> PathBuf {
    dir.join(format!("covec.{db_id}.ref"))
}

fn segment_name(db_id: &str, generation: u64) -> String {
    format!("covec.{db_id}.{generation}")
}

fn check_db_id(db_id: &str) -> Result<()> {
    db_id_bytes(db_id).map(drop)
}

fn db_id_bytes(db_id: &str) -> Result<[u8; 16]> {
    let ok = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    match <[u8; 16]>::try_from(db_id.as_bytes()) {
        Ok(b) if b.iter().all(|&c| ok(c)) => Ok(b),
        _ => Err(Error::invalid(format!(
            "db id {db_id:?} is not 16 lowercase hex characters"
        ))),
    }
}

enum Name {
    Ref,
    Segment(u64),
    Temp,
}

struct Entry {
    file: String,
    db_id: String,
    kind: Name,
}

/// The covec files in `dir`: `covec.<id>.ref`, `covec.<id>.<gen>`, `covec.<id>.<gen>.tmp-<pid>`.
fn list(dir: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        if let Some((db_id, kind)) = parse_name(&file) {
            out.push(Entry {
                db_id: db_id.to_string(),
                file,
                kind,
            });
        }
    }
    Ok(out)
}

fn parse_name(file: &str) -> Option<(&str, Name)> {
    let rest = file.strip_prefix("covec.")?;
    let (db_id, tail) = rest.split_once('.')?;
    check_db_id(db_id).ok()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if tail == "ref" {
        return Some((db_id, Name::Ref));
    }
    if let Some((generation, pid)) = tail.split_once(".tmp-") {
        return (digits(generation) && digits(pid)).then_some((db_id, Name::Temp));
    }
    if digits(tail) {
        return Some((db_id, Name::Segment(tail.parse().ok()?)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const ID: &str = "00112233445566ff";

    struct Src {
        generation: u64,
        commit: u64,
        image: Vec<u8>,
    }

    impl ImageSource for Src {
        fn db_id(&self) -> &str {
            ID
        }
        fn generation(&self) -> u64 {
            self.generation
        }
        fn commit_id(&self) -> u64 {
            self.commit
        }
        fn image_len(&self) -> Result<u64> {
            Ok(self.image.len() as u64)
        }
        fn emit_image(&self, out: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
            out(&self.image)
        }
    }

    fn shm(tag: &str) -> ShmConfig {
        let dir = std::env::temp_dir().join(format!("covec-lies-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ShmConfig { dir, group: None }
    }

    /// Plants, owner-only, a segment for `src` whose checksummed header says what `lie` makes it say.
    fn plant(cfg: &ShmConfig, src: &Src, lie: impl FnOnce(&mut Header)) -> PathBuf {
        let mut h = Header {
            db_id: db_id_bytes(ID).unwrap(),
            generation: src.generation,
            commit_id: src.commit,
            image_len: src.image.len() as u64,
            image_hash: xxhash_rust::xxh3::xxh3_64(&src.image),
            creator_pid: 1,
        };
        lie(&mut h);
        let mut page = [0u8; HEADER_LEN];
        h.encode_unready(&mut page);
        page[READY_AT..READY_AT + 8].copy_from_slice(&READY);
        let mut bytes = page.to_vec();
        bytes.extend_from_slice(&vec![0xAB; src.image.len()]);
        let path = cfg.dir.join(segment_name(ID, src.generation));
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    #[test]
    fn a_checksummed_header_that_lies_is_refused_then_replaced() {
        let cfg = shm("lies");
        let src = Src {
            generation: 7,
            commit: 70,
            image: (0..5000u32).map(|i| i as u8).collect(),
        };
        type Lie = fn(&mut Header);
        let lies: [(&str, Lie); 3] = [
            ("generation", |h| h.generation = 8),
            ("image length", |h| h.image_len += 64),
            ("db id", |h| h.db_id = *b"ffffffffffffffff"),
        ];
        for (what, lie) in lies {
            let planted = plant(&cfg, &src, lie);
            let err = attach(&cfg, &src).err();
            assert!(
                matches!(err, Some(Error::Corrupt { .. })),
                "{what}: {err:?}"
            );
            assert!(!planted.exists(), "{what}: unheld and ours, it is removed");
            let a = attach(&cfg, &src).unwrap();
            assert_eq!(a.image(), &src.image[..], "{what}: a fresh load");
            drop(a);
        }
        // Another commit under the same generation, held by nobody: replaced at once.
        plant(&cfg, &src, |h| h.commit_id = 71);
        let a = attach(&cfg, &src).unwrap();
        assert_eq!(a.image(), &src.image[..]);
        a.verify().unwrap();
        drop(a);
        assert_eq!(std::fs::read_dir(&cfg.dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&cfg.dir).unwrap();
    }

    #[test]
    fn names_parse_back() {
        let id = "0123456789abcdef";
        assert!(matches!(
            parse_name(&segment_name(id, 12)),
            Some((i, Name::Segment(12))) if i == id
        ));
        assert!(matches!(
            parse_name("covec.0123456789abcdef.ref"),
            Some((_, Name::Ref))
        ));
        assert!(matches!(
            parse_name("covec.0123456789abcdef.3.tmp-99"),
            Some((_, Name::Temp))
        ));
        for other in [
            "covec.0123456789ABCDEF.1",
            "covec.0123.1",
            "covec.0123456789abcdef.x",
            "covec.0123456789abcdef.1.tmp-",
            "other.0123456789abcdef.1",
        ] {
            assert!(parse_name(other).is_none(), "{other}");
        }
    }
}
