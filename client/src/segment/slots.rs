//! The reference file: an array of 64-byte records, each rewritten by one `pwrite` under the file's
//! exclusive `flock`, plus process liveness from /proc.
//!
//! Two kinds of record (little-endian; docs/protocol.md, "Files"):
//! - a slot, b"CVSL" | pid u32 | start time u64 | generation u64 | count u64 | commit id u64 | 16 zero
//!   bytes | xxh3-64 of bytes [0, 56): one process's hold on one generation;
//! - a publication, b"CVGN" | loader pid u32 | generation u64 | commit id u64 | segment id u64 |
//!   catalog offset u64 | committed length u64 | catalog xxh3 u64 | xxh3-64 of bytes [0, 56): where a
//!   complete generation lies, written after every byte of it is in its segment.
//!
//! All zeros is a free record. Anything else that fails the checksum is torn: only the lock holder
//! writes, and it writes either its own slot, a publication nobody can hold yet (its own slot names it,
//! but it is unpublished until the write completes), or zeros over a dead process's slot or a
//! publication no live slot holds; so a torn record is never something a live process relies on, and
//! it is freed like a dead one.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::stat::fstat;

use super::trust::{check_trusted, create_new_private, give_to_group};
use crate::error::{Error, Result};

pub const RECORD_LEN: usize = 64;
const SLOT_MAGIC: [u8; 4] = *b"CVSL";
const PUBLISHED_MAGIC: [u8; 4] = *b"CVGN";
const HASHED: usize = 56;

/// A process's hold on one generation. `start` (clock ticks after boot, /proc/<pid>/stat field 22)
/// tells a live process from a later one that reuses the pid. A slot whose generation is not published
/// belongs to a loader (it is written before the copy starts); since loaders hold the lock until they
/// publish, any such slot another lock holder sees is a dead loader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub pid: u32,
    pub start: u64,
    pub generation: u64,
    pub commit_id: u64,
    pub count: u64,
}

impl Slot {
    pub fn holds(&self, p: &Published) -> bool {
        self.generation == p.generation && self.commit_id == p.commit_id
    }
}

/// A published generation: its image lies in segment `segment` at the db file's own offsets, every
/// section its catalog names and the catalog itself ([catalog_offset, committed_len)) complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub loaded_by: u32,
    pub generation: u64,
    pub commit_id: u64,
    pub segment: u64,
    pub catalog_offset: u64,
    pub committed_len: u64,
    pub catalog_xxh3: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Free,
    Torn,
    Slot(Slot),
    Published(Published),
}

fn u64_at(r: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&r[at..at + 8]);
    u64::from_le_bytes(a)
}

fn u32_at(r: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&r[at..at + 4]);
    u32::from_le_bytes(a)
}

fn sealed(magic: [u8; 4], word: u32, fields: [u64; 6]) -> [u8; RECORD_LEN] {
    let mut r = [0u8; RECORD_LEN];
    r[0..4].copy_from_slice(&magic);
    r[4..8].copy_from_slice(&word.to_le_bytes());
    for (i, f) in fields.iter().enumerate() {
        r[8 + i * 8..16 + i * 8].copy_from_slice(&f.to_le_bytes());
    }
    let sum = xxhash_rust::xxh3::xxh3_64(&r[..HASHED]);
    r[HASHED..].copy_from_slice(&sum.to_le_bytes());
    r
}

pub fn encode(record: &Record) -> [u8; RECORD_LEN] {
    match record {
        Record::Free | Record::Torn => [0u8; RECORD_LEN],
        Record::Slot(s) => sealed(
            SLOT_MAGIC,
            s.pid,
            [s.start, s.generation, s.count, s.commit_id, 0, 0],
        ),
        Record::Published(p) => sealed(
            PUBLISHED_MAGIC,
            p.loaded_by,
            [
                p.generation,
                p.commit_id,
                p.segment,
                p.catalog_offset,
                p.committed_len,
                p.catalog_xxh3,
            ],
        ),
    }
}

pub fn decode(r: &[u8]) -> Record {
    if r.len() != RECORD_LEN {
        return Record::Torn;
    }
    if r.iter().all(|&b| b == 0) {
        return Record::Free;
    }
    if u64_at(r, HASHED) != xxhash_rust::xxh3::xxh3_64(&r[..HASHED]) {
        return Record::Torn;
    }
    let word = u32_at(r, 4);
    match [r[0], r[1], r[2], r[3]] {
        SLOT_MAGIC if r[40..HASHED].iter().all(|&b| b == 0) => Record::Slot(Slot {
            pid: word,
            start: u64_at(r, 8),
            generation: u64_at(r, 16),
            count: u64_at(r, 24),
            commit_id: u64_at(r, 32),
        }),
        PUBLISHED_MAGIC => Record::Published(Published {
            loaded_by: word,
            generation: u64_at(r, 8),
            commit_id: u64_at(r, 16),
            segment: u64_at(r, 24),
            catalog_offset: u64_at(r, 32),
            committed_len: u64_at(r, 40),
            catalog_xxh3: u64_at(r, 48),
        }),
        _ => Record::Torn,
    }
}

/// (state, start time) from the text of /proc/<pid>/stat. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after the last ')'.
fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 3 is the state; field 22, the start time, is 19 fields later.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The text of /proc/<pid>/stat in one read (it is a few hundred bytes; every attach and detach reads
/// it for each slot, so the usual read-to-end's growing reads would cost more than the rest of the lock
/// session).
fn read_stat(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let mut f = File::open(path)?;
    let n = f.read(&mut buf)?;
    if n == buf.len() {
        let mut text = String::from_utf8_lossy(&buf).into_owned();
        f.read_to_string(&mut text)?;
        return Ok(text);
    }
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// This process's (pid, start time), read once per process (a forked child reads its own). Fails,
/// rather than guessing, when /proc is missing or belongs to another pid namespace: every liveness
/// decision would then be wrong.
pub fn self_identity() -> Result<(u32, u64)> {
    static KNOWN: std::sync::Mutex<Option<(u32, u64)>> = std::sync::Mutex::new(None);
    let pid = std::process::id();
    if let Ok(Some((p, start))) = KNOWN.lock().as_deref() {
        if *p == pid {
            return Ok((pid, *start));
        }
    }
    let path = Path::new("/proc/self/stat");
    let text = read_stat(path).map_err(|e| Error::io(path, e))?;
    let stat_pid: Option<u32> = text.split_whitespace().next().and_then(|p| p.parse().ok());
    match (stat_pid, parse_stat(&text)) {
        (Some(p), Some((_, start))) if p == pid => {
            if let Ok(mut known) = KNOWN.lock() {
                *known = Some((pid, start));
            }
            Ok((pid, start))
        }
        _ => Err(Error::Internal(format!(
            "/proc/self/stat does not describe this process (pid {pid}); covec needs /proc of its own pid namespace"
        ))),
    }
}

/// How long a process this one has seen alive (its start time read from /proc) is then known by its pid
/// alone: `kill(pid, 0)`, which tells a gone pid at once, stands in for reading /proc/<pid>/stat (every
/// attach and detach checks every slot, and that read is most of a lock session's cost). A zombie, or a
/// new process that took the pid meanwhile, passes for the old one until this time is over: a dead
/// process's slot is kept that much longer, never a live one dropped.
const SEEN_ALIVE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the process that wrote `slot` still runs. A zombie has already dropped its mappings, so it
/// counts as dead. When /proc hides other processes (hidepid), `kill(pid, 0)` decides, and an existing
/// pid whose start time cannot be read is kept: wrongly keeping a segment costs memory, wrongly
/// dropping one would not, but it would break the protocol's promise.
pub fn is_alive(slot: &Slot) -> bool {
    use std::collections::HashMap;
    use std::time::Instant;
    static SEEN: std::sync::Mutex<Option<HashMap<(u32, u64), Instant>>> =
        std::sync::Mutex::new(None);
    let key = (slot.pid, slot.start);
    let exists = || {
        let pid = nix::unistd::Pid::from_raw(slot.pid as i32);
        !matches!(nix::sys::signal::kill(pid, None), Err(Errno::ESRCH))
    };
    let recently = SEEN.lock().ok().and_then(|seen| {
        seen.as_ref()?
            .get(&key)
            .map(|at| at.elapsed() < SEEN_ALIVE_FOR)
    });
    if recently == Some(true) {
        return exists();
    }
    let alive = match read_stat(Path::new(&format!("/proc/{}/stat", slot.pid))) {
        Ok(text) => match parse_stat(&text) {
            Some((state, start)) => start == slot.start && state != 'Z' && state != 'X',
            None => true,
        },
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(_) => exists(),
    };
    if let Ok(mut seen) = SEEN.lock() {
        let seen = seen.get_or_insert_with(HashMap::new);
        seen.retain(|_, at| at.elapsed() < SEEN_ALIVE_FOR);
        if alive {
            seen.insert(key, Instant::now());
        }
    }
    alive
}

/// How long to wait for a reference file's lock. It is free, or held for microseconds, unless its
/// holder is loading a generation, which takes as long as copying what the generation adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// As long as it is held.
    Wait,
    /// About 2 ms (a few tries with short sleeps): longer only behind a load.
    Briefly,
    /// One try.
    None,
}

/// A reference file held under `flock`: shared for reading (`status`), exclusive for everything else.
pub struct RefFile {
    file: Flock<File>,
    path: PathBuf,
    records: Vec<Record>,
}

impl RefFile {
    /// Opens and locks `path`. With `create`, a missing file is created (0600, or 0660 with `group`:
    /// group members write their slots too) and the lock is exclusive; without, a missing file is
    /// `None` and the lock is shared. Retries when the locked inode is no longer the one at `path`: the
    /// last detacher unlinks the file, and a lock on an unlinked file protects nothing.
    pub fn lock(path: &Path, group: Option<u32>, create: bool) -> Result<Option<RefFile>> {
        RefFile::open_locked(path, group, create, true)
    }

    /// `lock` without waiting: `None` also when another process holds a lock that conflicts.
    pub fn try_lock(path: &Path, group: Option<u32>, create: bool) -> Result<Option<RefFile>> {
        RefFile::open_locked(path, group, create, false)
    }

    /// `lock`, waiting as `patience` says: `None` also when the lock stayed held that long.
    pub fn lock_with(
        path: &Path,
        group: Option<u32>,
        create: bool,
        patience: Patience,
    ) -> Result<Option<RefFile>> {
        let pauses: &[u64] = match patience {
            Patience::Wait => return RefFile::lock(path, group, create),
            Patience::Briefly => &[250, 500, 1000],
            Patience::None => &[],
        };
        for &pause_us in pauses {
            if let Some(rf) = RefFile::try_lock(path, group, create)? {
                return Ok(Some(rf));
            }
            std::thread::sleep(std::time::Duration::from_micros(pause_us));
        }
        RefFile::try_lock(path, group, create)
    }

    fn open_locked(
        path: &Path,
        group: Option<u32>,
        create: bool,
        wait: bool,
    ) -> Result<Option<RefFile>> {
        loop {
            let file = match open_ref(path, group, create)? {
                Some(f) => f,
                None => return Ok(None),
            };
            let st = fstat(file.as_fd()).map_err(|e| Error::io(path, e.into()))?;
            check_trusted(path, &st, group, true)?;
            let arg = match (create, wait) {
                (true, true) => FlockArg::LockExclusive,
                (false, true) => FlockArg::LockShared,
                (true, false) => FlockArg::LockExclusiveNonblock,
                (false, false) => FlockArg::LockSharedNonblock,
            };
            let locked = match lock_retrying(file, arg) {
                Ok(locked) => locked,
                Err(Errno::EWOULDBLOCK) if !wait => return Ok(None),
                Err(e) => return Err(Error::io(path, e.into())),
            };
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.ino() == st.st_ino as u64 && m.dev() == st.st_dev as u64 => {
                    let mut rf = RefFile {
                        file: locked,
                        path: path.to_path_buf(),
                        records: Vec::new(),
                    };
                    rf.read()?;
                    return Ok(Some(rf));
                }
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(path, e)),
            }
        }
    }

    fn read(&mut self) -> Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut bytes = Vec::new();
        let f: &mut File = &mut self.file;
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io(&self.path, e))?;
        // A trailing partial record can only come from a torn append; the next append overwrites it.
        self.records = bytes.chunks_exact(RECORD_LEN).map(decode).collect();
        Ok(())
    }

    fn write(&mut self, index: usize, record: &Record) -> Result<()> {
        let offset = (index * RECORD_LEN) as libc::off_t;
        let bytes = encode(record);
        // One pwrite of 64 bytes at a 64-aligned offset never straddles a page, so it lands whole or
        // (on error) not at all.
        match nix::sys::uio::pwrite(self.file.as_fd(), &bytes, offset) {
            Ok(n) if n == RECORD_LEN => {}
            Ok(n) => {
                return Err(Error::Internal(format!(
                    "short write of {n} bytes to record {index} of {}",
                    self.path.display()
                )))
            }
            Err(e) => return Err(Error::io(&self.path, e.into())),
        }
        let decoded = decode(&bytes);
        match self.records.get_mut(index) {
            Some(r) => *r = decoded,
            None => self.records.push(decoded),
        }
        Ok(())
    }

    /// Writes `record` into the first free record (or a new one at the end).
    fn write_free(&mut self, record: &Record) -> Result<()> {
        let free = self.records.iter().position(|r| *r == Record::Free);
        self.write(free.unwrap_or(self.records.len()), record)
    }

    /// Whether `sweep` would free a record: a dead process's slot, or a torn record.
    pub fn has_dead(&self) -> bool {
        self.records.iter().any(is_dead)
    }

    /// Frees every dead slot and torn record; returns how many.
    pub fn sweep(&mut self) -> Result<usize> {
        let mut freed = 0;
        for i in 0..self.records.len() {
            if is_dead(&self.records[i]) {
                self.write(i, &Record::Free)?;
                freed += 1;
            }
        }
        Ok(freed)
    }

    fn find_slot(&self, pid: u32, start: u64, generation: u64, commit_id: u64) -> Option<usize> {
        self.records.iter().position(|r| {
            matches!(r, Record::Slot(s) if s.pid == pid && s.start == start
                && s.generation == generation && s.commit_id == commit_id)
        })
    }

    /// Adds one hold of (`pid`, `start`) on (`generation`, `commit_id`).
    pub fn add(&mut self, pid: u32, start: u64, generation: u64, commit_id: u64) -> Result<()> {
        let found = self.find_slot(pid, start, generation, commit_id);
        let count = match found.map(|i| self.records[i]) {
            Some(Record::Slot(s)) => s.count.saturating_add(1),
            _ => 1,
        };
        let slot = Record::Slot(Slot {
            pid,
            start,
            generation,
            commit_id,
            count,
        });
        match found {
            Some(i) => self.write(i, &slot),
            None => self.write_free(&slot),
        }
    }

    /// Drops one hold of (`pid`, `start`) on (`generation`, `commit_id`); a missing slot (already
    /// swept) is not an error.
    pub fn release(&mut self, pid: u32, start: u64, generation: u64, commit_id: u64) -> Result<()> {
        let Some(i) = self.find_slot(pid, start, generation, commit_id) else {
            return Ok(());
        };
        match self.records[i] {
            Record::Slot(s) if s.count > 1 => self.write(
                i,
                &Record::Slot(Slot {
                    count: s.count - 1,
                    ..s
                }),
            ),
            _ => self.write(i, &Record::Free),
        }
    }

    /// Records that generation `p` is complete in its segment.
    pub fn publish(&mut self, p: &Published) -> Result<()> {
        self.write_free(&Record::Published(*p))
    }

    /// Frees the publication `p` (its generation no longer held; its segment pages already released).
    pub fn forget(&mut self, p: &Published) -> Result<()> {
        match self
            .records
            .iter()
            .position(|r| *r == Record::Published(*p))
        {
            Some(i) => self.write(i, &Record::Free),
            None => Ok(()),
        }
    }

    /// Slots as last read or written (after `sweep`, the live ones).
    pub fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.records.iter().filter_map(|r| match r {
            Record::Slot(s) => Some(s),
            _ => None,
        })
    }

    /// Publications as last read or written.
    pub fn published(&self) -> impl Iterator<Item = &Published> {
        self.records.iter().filter_map(|r| match r {
            Record::Published(p) => Some(p),
            _ => None,
        })
    }

    /// The publication of (`generation`, `commit_id`), if any.
    pub fn find_published(&self, generation: u64, commit_id: u64) -> Option<Published> {
        self.published()
            .find(|p| p.generation == generation && p.commit_id == commit_id)
            .copied()
    }

    /// Whether a slot (after `sweep`, a live one) holds `p`.
    pub fn is_held(&self, p: &Published) -> bool {
        self.slots().any(|s| s.holds(p))
    }

    /// Unlinks the file while still holding its lock, so a waiter wakes on an unlinked inode and retries.
    pub fn remove(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }
}

/// A record `sweep` frees: a dead process's slot, or a torn record (never one a live process relies on:
/// see the module doc). Publications are freed by `forget`, once no live slot holds them.
fn is_dead(r: &Record) -> bool {
    match r {
        Record::Free | Record::Published(_) => false,
        Record::Torn => true,
        Record::Slot(s) => !is_alive(s),
    }
}

fn lock_retrying(mut file: File, arg: FlockArg) -> std::result::Result<Flock<File>, Errno> {
    loop {
        match Flock::lock(file, arg) {
            Ok(l) => return Ok(l),
            Err((f, Errno::EINTR)) => file = f,
            Err((_, e)) => return Err(e),
        }
    }
}

fn open_ref(path: &Path, group: Option<u32>, create: bool) -> Result<Option<File>> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true)
        .write(create)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    loop {
        match opts.open(path) {
            Ok(f) => return Ok(Some(f)),
            Err(e) if e.kind() == ErrorKind::NotFound && !create => return Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::Untrusted {
                    path: path.to_path_buf(),
                    reason: "it is a symbolic link".into(),
                })
            }
            Err(e) => return Err(Error::io(path, e)),
        }
        match create_new_private(path) {
            Ok(f) => {
                if let Some(g) = group {
                    give_to_group(&f, path, g, 0o660)?;
                }
                return Ok(Some(f));
            }
            // Another process created it between our two opens: open theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        Slot {
            pid: 4242,
            start: 987654,
            generation: 3,
            commit_id: 0xfeed,
            count: 2,
        }
    }

    #[test]
    fn records_round_trip_and_zero_is_free() {
        let p = Published {
            loaded_by: 7,
            generation: 9,
            commit_id: 11,
            segment: 0xdead_beef_0bad_f00d,
            catalog_offset: 8192,
            committed_len: 9000,
            catalog_xxh3: 5,
        };
        for r in [Record::Slot(slot()), Record::Published(p)] {
            assert_eq!(decode(&encode(&r)), r);
        }
        assert_eq!(decode(&[0u8; RECORD_LEN]), Record::Free);
    }

    #[test]
    fn a_protocol_1_slot_reads_as_a_slot_of_commit_0() {
        // Protocol 1 wrote the same slot without a commit id (zeros there).
        let mut r = encode(&Record::Slot(Slot {
            commit_id: 0,
            ..slot()
        }));
        assert_eq!(r[32..56], [0u8; 24]);
        assert!(matches!(decode(&r), Record::Slot(s) if s.commit_id == 0 && s.count == 2));
        r[45] = 1;
        assert_eq!(decode(&r), Record::Torn);
    }

    #[test]
    fn half_written_record_is_torn() {
        let new = encode(&Record::Slot(slot()));
        let mut torn = [0u8; RECORD_LEN];
        torn[..20].copy_from_slice(&new[..20]);
        assert_eq!(decode(&torn), Record::Torn);
    }

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let mut fields: Vec<String> = (3..=52).map(|i| i.to_string()).collect();
        fields[0] = "S".into();
        let text = format!("77 (a) b (c)) {}", fields.join(" "));
        assert_eq!(parse_stat(&text), Some(('S', 22)));
        assert_eq!(parse_stat("77 (truncated"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let (pid, start) = self_identity().expect("own identity");
        let me = Slot {
            pid,
            start,
            generation: 0,
            commit_id: 0,
            count: 1,
        };
        assert!(is_alive(&me));
        assert!(!is_alive(&Slot {
            start: start + 1,
            ..me
        }));
    }
}
