//! One committed generation as views over its image bytes (`Snapshot`, `CollectionView`), the reads
//! (get, query, count, search), and in `write` the planning of mutations into new parts.
//!
//! Invariant kept by every write: a primary key has at most one live (not deleted) row in a
//! collection. A later write of the same key marks the older row deleted, so reads never deduplicate.

mod ann;
mod coerce;
mod part;
mod read;
mod request;
mod search;
mod write;

pub use read::{CollectionView, RowId, Snapshot};
pub use request::{Hit, OutputFields, SearchRequest};
pub use write::{
    plan_create_collection, plan_create_index, plan_delete, plan_drop_collection, plan_drop_index,
    plan_index_pending, plan_rename_collection, plan_write, Deletion, WriteMode,
};

use crate::error::Error;

const IMAGE_NAME: &str = "<image>";

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt(IMAGE_NAME, reason)
}

/// The cores this process may run on.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
