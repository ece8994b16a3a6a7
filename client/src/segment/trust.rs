//! Trust in the shared dir: which files covec may open, map and unlink. The dir is shared with other
//! users, so a file is used only when it is ours (or our sharing group's) and nobody else may access it,
//! and unlinked only when it is ours (docs/protocol.md, "Trust").

use std::fs::File;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::{fchmod, FileStat, Mode};

use super::ShmConfig;
use crate::error::{Error, Result};

/// Refuses a file another user could have written or may read: it must be a regular file owned by us
/// (or, when sharing with `group`, carrying that group), with no bits for others, and group bits only
/// for `group` (write only where members must write: the ref file).
pub(super) fn check_trusted(
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

/// Creates a new file at `path`, read-write and owner-only. `O_EXCL|O_NOFOLLOW`: a name that is taken,
/// by a file or a symbolic link, fails with `AlreadyExists` and is never followed or reused.
pub(super) fn create_new_private(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Hands a file we created to `group` with `mode` (chown first, so no moment exposes it to the
/// creator's default group).
pub(super) fn give_to_group(f: &File, path: &Path, group: u32, mode: u32) -> Result<()> {
    nix::unistd::fchown(f.as_fd(), None, Some(nix::unistd::Gid::from_raw(group)))
        .map_err(|e| Error::io(path, e.into()))?;
    set_mode(f, path, mode)
}

/// Unlinks a file under a covec name only if it is ours (our uid, or our sharing group): another
/// user's file under our names was planted, and is refused, never deleted (in a sticky dir we could
/// not, and an error there must not stop a sweep of everything else; as root we must not either).
pub(super) fn remove_ours(cfg: &ShmConfig, path: &Path) -> Result<bool> {
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

/// Whether `path` is owned by this process's effective uid (false when it is gone): the sweep on attach
/// touches a db only when every file of it is.
pub(super) fn owned_by_caller(path: &Path) -> bool {
    nix::sys::stat::lstat(path).is_ok_and(|st| st.st_uid == nix::unistd::geteuid().as_raw())
}

pub(super) fn remove_if_exists(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Sets `mode` exactly, whatever the umask did to the create mode.
fn set_mode(f: &File, path: &Path, mode: u32) -> Result<()> {
    fchmod(f.as_fd(), Mode::from_bits_truncate(mode)).map_err(|e| Error::io(path, e.into()))
}
