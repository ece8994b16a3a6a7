//! Loading a generation: its image copied into a temp segment, then published under its final name by
//! rename, so a final name only ever names a complete segment.

use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::header::{Header, HEADER_LEN, READY, READY_AT};
use super::names::{db_id_bytes, temp_name};
use super::slots::RefFile;
use super::trust::give_to_group;
use super::{ImageSource, ShmConfig};
use crate::error::{Error, Result};

/// Copies the image into a temp segment and publishes it at `path`; our slot is written before the
/// rename, so a loader killed at any point leaves only things the next lock holder removes.
pub(super) fn load(
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
    let tmp_path = cfg.dir.join(temp_name(db_id, generation, pid));
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

pub(super) fn free_bytes(dir: &Path) -> Result<u64> {
    let v = nix::sys::statvfs::statvfs(dir).map_err(|e| Error::io(dir, e.into()))?;
    Ok((v.blocks_available() as u64).saturating_mul(v.fragment_size() as u64))
}
