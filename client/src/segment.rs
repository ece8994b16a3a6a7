//! Shared-memory segments and the reference-count protocol (docs/protocol.md is the specification).
//!
//! One process per generation copies the db's committed image into `<dir>/covec.<db_id>.<generation>`
//! (loaded under a temporary name, published by rename: a final name only ever names a complete
//! segment). Every process maps it read-only. `<dir>/covec.<db_id>.ref` records which live processes
//! hold which generation; all changes to it, loading included, happen under its exclusive `flock`, and
//! whoever leaves a segment without a live slot unlinks it.
//!
//! | module   | concern                                                                           |
//! |----------|-----------------------------------------------------------------------------------|
//! | `attach` | `attach` and `Attachment`: find or load a generation, map it, hold a slot; detach   |
//! | `load`   | the copy into a temp segment and its publication by rename                         |
//! | `sweep`  | removing what dead processes left (one db under its lock, or the whole dir); status |
//! | `trust`  | which files covec may open, map and unlink in a dir other users share               |
//! | `names`  | the file names in the dir: building, parsing, listing                               |
//! | `slots`  | the reference-count file's records and process liveness                            |
//! | `header` | the segment header's bytes                                                          |

pub(crate) mod attach;
pub(crate) mod header;
mod load;
mod names;
mod slots;
mod sweep;
mod trust;

use std::path::PathBuf;

pub(crate) use attach::{attach, Attachment, ImageSource};
pub use sweep::{status, sweep, DbSegments, SegmentInfo, SlotInfo, SweepReport};

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
