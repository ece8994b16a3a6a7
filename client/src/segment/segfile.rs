//! One segment file, as the lock holder uses it: created under a fresh random name, opened by the id a
//! publication names, its generations' ranges read from their catalogs, bytes written, dead pages
//! given back to tmpfs. Mapping for readers is `attach`'s.

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{fallocate, FallocateFlags};

use super::header::{self, Header, HeaderError, HEADER_LEN};
use super::names::{db_id_bytes, segment_name};
use super::pages::generation_ranges;
use super::slots::Published;
use super::trust::{check_trusted, create_new_private, give_to_group};
use super::ShmConfig;
use crate::error::{Error, Result};
use crate::format::{self, MetaSlot, Section};
use crate::random::random_u64;

/// How many random names a create tries before giving up: each is taken only by a planted file or a
/// 2^-64 collision, so failing them all means something else is wrong.
const CREATE_TRIES: usize = 16;

pub(super) struct SegmentFile {
    file: File,
    pub(super) path: PathBuf,
    pub(super) id: u64,
}

/// The root of a published generation as a meta slot (live bytes unknown: 0), after checking that its
/// numbers describe a possible image: catalog aligned, after the header, at most the catalog limit,
/// ending at the committed length.
pub(super) fn published_meta(p: &Published, path: &Path) -> Result<MetaSlot> {
    let meta = MetaSlot {
        generation: p.generation,
        commit_id: p.commit_id,
        catalog_offset: p.catalog_offset,
        catalog_len: p.committed_len.saturating_sub(p.catalog_offset),
        catalog_xxh3: p.catalog_xxh3,
        committed_len: p.committed_len,
        live_bytes: 0,
    };
    if p.committed_len <= p.catalog_offset || !format::meta_is_plausible(&meta, p.committed_len) {
        return Err(Error::corrupt(
            path,
            format!(
                "reference file publishes generation {} with catalog at {} and length {}",
                p.generation, p.catalog_offset, p.committed_len
            ),
        ));
    }
    Ok(meta)
}

impl SegmentFile {
    /// Creates a segment of `db_id` under a random name nobody can have planted a file at in advance
    /// (`O_EXCL|O_NOFOLLOW`: a name that is taken, by anything, is skipped for another) and writes its
    /// header page. Owner-only, or the sharing group's (0660: members append to it).
    pub(super) fn create(cfg: &ShmConfig, db_id: &str, pid: u32) -> Result<SegmentFile> {
        let db_id_b = db_id_bytes(db_id)?;
        for _ in 0..CREATE_TRIES {
            let id = random_u64();
            let path = cfg.dir.join(segment_name(db_id, id));
            let file = match create_new_private(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            let seg = SegmentFile { file, path, id };
            let made = cfg
                .group
                .map_or(Ok(()), |g| give_to_group(&seg.file, &seg.path, g, 0o660))
                .and_then(|_| {
                    let page = Header {
                        db_id: db_id_b,
                        segment: id,
                        creator_pid: pid,
                    }
                    .encode();
                    seg.write_at(cfg, 0, &page, HEADER_LEN as u64)
                });
            if let Err(e) = made {
                let _ = std::fs::remove_file(&seg.path);
                return Err(e);
            }
            return Ok(seg);
        }
        Err(Error::Internal(format!(
            "{CREATE_TRIES} random segment names in {} were all taken",
            cfg.dir.display()
        )))
    }

    /// Opens segment `id` of `db_id` (for writing too with `write`): no symbolic link, trusted (Trust in
    /// docs/protocol.md), with a header that names this db and this segment. `None`: no such file.
    pub(super) fn open(
        cfg: &ShmConfig,
        db_id: &str,
        id: u64,
        write: bool,
    ) -> Result<Option<SegmentFile>> {
        let path = cfg.dir.join(segment_name(db_id, id));
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::Untrusted {
                    path,
                    reason: "it is a symbolic link".into(),
                })
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let st = nix::sys::stat::fstat(file.as_fd()).map_err(|e| Error::io(&path, e.into()))?;
        check_trusted(&path, &st, cfg.group, true)?;
        let mut page = vec![0u8; HEADER_LEN];
        let read = file
            .read_at(&mut page, 0)
            .map_err(|e| Error::io(&path, e))?;
        let h = Header::decode(&page[..read]).map_err(|e| match e {
            HeaderError::NotSegment(reason) => Error::NotCovec {
                path: path.clone(),
                reason,
            },
            HeaderError::Newer(found) => Error::NewerVersion {
                path: path.clone(),
                found,
                supported: header::VERSION,
            },
            HeaderError::Corrupt(reason) => Error::corrupt(&path, reason),
        })?;
        if h.db_id != db_id_bytes(db_id)? || h.segment != id {
            return Err(Error::corrupt(
                &path,
                format!(
                    "header names db {} segment {:016x}",
                    String::from_utf8_lossy(&h.db_id),
                    h.segment
                ),
            ));
        }
        Ok(Some(SegmentFile { file, path, id }))
    }

    pub(super) fn file(&self) -> &File {
        &self.file
    }

    /// The file's length (its highest byte written, plus one).
    pub(super) fn len(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Every range generation `p` uses in this segment, read from its catalog (checked against its
    /// checksum and the generation's length).
    pub(super) fn ranges_of(&self, p: &Published) -> Result<Vec<Section>> {
        let meta = published_meta(p, &self.path)?;
        let mut catalog = vec![0u8; meta.catalog_len as usize];
        self.file
            .read_exact_at(&mut catalog, meta.catalog_offset)
            .map_err(|e| Error::io(&self.path, e))?;
        let decoded =
            format::decode_catalog(&catalog, meta.catalog_xxh3, meta.committed_len, &self.path)?;
        let catalog_range = Section {
            offset: meta.catalog_offset,
            len: meta.catalog_len,
            xxh3: meta.catalog_xxh3,
        };
        Ok(generation_ranges(&decoded, catalog_range))
    }

    /// Writes `bytes` at `offset`; a full tmpfs is `ShmFull` (the load as a whole needed `needed`).
    /// Every byte is written, never left a hole: tmpfs allocates each page here, so a reader's first
    /// touch never meets an unbacked page (and SIGBUS).
    pub(super) fn write_at(
        &self,
        cfg: &ShmConfig,
        offset: u64,
        bytes: &[u8],
        needed: u64,
    ) -> Result<()> {
        match self.file.write_all_at(bytes, offset) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EFBIG)) => {
                Err(Error::ShmFull {
                    dir: cfg.dir.clone(),
                    needed,
                    available: free_bytes(&cfg.dir)?,
                })
            }
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    /// Gives pages back to tmpfs (`FALLOC_FL_PUNCH_HOLE`). Best effort: a file system without holes
    /// (a `COVEC_SHM_DIR` that is not tmpfs) keeps the pages, which costs memory, never correctness.
    pub(super) fn punch(&self, spans: &[(u64, u64)]) {
        let flags = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
        for &(a, b) in spans {
            let (Ok(at), Ok(len)) = (libc::off_t::try_from(a), libc::off_t::try_from(b - a)) else {
                continue;
            };
            if fallocate(self.file.as_fd(), flags, at, len).is_err() {
                return;
            }
        }
    }
}

pub(super) fn free_bytes(dir: &Path) -> Result<u64> {
    let v = nix::sys::statvfs::statvfs(dir).map_err(|e| Error::io(dir, e.into()))?;
    Ok((v.blocks_available() as u64).saturating_mul(v.fragment_size() as u64))
}
