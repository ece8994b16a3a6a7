//! Shared-memory segments and the reference-count protocol (docs/protocol.md is the specification).
//!
//! A db's generations live in segments `<dir>/covec.<db_id>.seg.<random id>`, at the db file's own
//! offsets. One process per generation loads it: into the db's newest segment when that segment already
//! holds what the generation shares with the ones there (then only the rest is written: a small commit
//! is a small copy), else into a new segment. `<dir>/covec.<db_id>.refs` publishes where each
//! complete generation lies and records which live processes hold which generation; all changes to it,
//! loading included, happen under its exclusive `flock`. Every process maps a segment once, read-only,
//! and its attachments share that mapping. A generation no live slot holds is forgotten: the pages
//! only it used are given back to tmpfs, and a segment with no generation left is unlinked.
//!
//! | module    | concern                                                                          |
//! |-----------|----------------------------------------------------------------------------------|
//! | `attach`  | `attach` and `Attachment`: find or load a generation, hold a slot, map; detach     |
//! | `load`    | where a generation's bytes go (append or a new segment) and their copy            |
//! | `pages`   | which byte ranges a generation uses; what an append writes; which pages are dead |
//! | `segfile` | one segment file under the lock: create, open, read catalogs, write, punch       |
//! | `sweep`   | collecting what is no longer used (one db, the whole dir, protocol 1); status     |
//! | `trust`   | which files covec may open, map and unlink in a dir other users share              |
//! | `names`   | the file names in the dir: building, parsing, listing                             |
//! | `slots`   | the reference file's records (slots, publications) and process liveness           |
//! | `header`  | the segment header's bytes                                                         |

pub(crate) mod attach;
pub(crate) mod header;
mod load;
mod names;
mod pages;
mod segfile;
mod slots;
mod sweep;
mod trust;

use std::path::PathBuf;

pub(crate) use attach::{release_deferred_now, try_attach, Attachment, ImageSource};
pub(crate) use slots::Patience;
pub(crate) use sweep::held_elsewhere;
pub use sweep::{status, sweep, DbSegments, SegmentInfo, SlotInfo, SweepReport};

/// Where segments live and who may read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShmConfig {
    /// A tmpfs directory (sticky, like /dev/shm) shared by every process of one pid namespace.
    pub dir: PathBuf,
    /// Share segments and reference files (0660: members load and append too) with this group instead
    /// of owner-only (0600).
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
