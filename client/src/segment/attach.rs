//! Attaching: mapping one generation's complete segment read-only (loading it first when nobody has)
//! under the db's reference-file lock, and detaching when the `Attachment` is dropped.

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use memmap2::Mmap;

use super::header::{self, Header, HeaderError, HEADER_LEN};
use super::load::load;
use super::names::{check_db_id, db_id_bytes, ref_path, segment_name};
use super::slots::{self, RefFile};
use super::sweep::{finish_locked, remove_temps, sweep_others_if_due};
use super::trust::{check_trusted, remove_if_exists};
use super::ShmConfig;
use crate::error::{Error, Result};

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
    // Before taking our own lock: the other dbs' locks are only ever tried, never waited for.
    sweep_others_if_due(cfg, db_id);
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::super::header::{READY, READY_AT};
    use super::*;

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
}
