//! The engine: one committed generation as views over its image bytes, the reads and searches over it,
//! and the planning of mutations into the sections a commit appends. One concern per module:
//!
//! | module    | concern                                                                                |
//! |-----------|----------------------------------------------------------------------------------------|
//! | `read`    | `Snapshot` (a generation's catalog over its image), `CollectionView`: get, query, count |
//! | `catalog` | lookups by name, and mutations of the catalog alone (databases, aliases, partitions, ...) |
//! | `route`   | partition-key routing by the Milvus server's hash                                        |
//! | `search`  | search: each part planned once per call (filter, partition scope, graph or exact scan), range bounds, an iterator's cursor, top-k, grouping, BM25 queries |
//! | `chain`   | function chains (Milvus's L2 rerank stage) checked and run on one query's hits       |
//! | `rerank`  | every search's entry; boosts, the merge of a hybrid search's routes (RRF, weighted, decay), the page cut |
//! | `part`    | the part codec: rows encoded into a part's sections, sections decoded as views          |
//! | `coerce`  | values between the API's forms and the stored forms                                      |
//! | `write`   | `plan_*`: a mutation of collections and rows as the next catalog                         |
//! | `merge`   | the merge policy: which parts a commit rewrites, when graphs are built or grown        |
//! | `build`   | a graph build prepared outside the writer lock, kept under it if what it read still holds |
//! | `ann`     | which indexes get graphs, their Milvus parameters, a part's graphs and row order        |
//! | `request` | what a read asks for and what a search answers                                           |
//!
//! Invariant kept by every write: a primary key has at most one live (not deleted) row in a
//! collection. A later write of the same key marks the older row deleted, so reads never deduplicate.

mod ann;
mod build;
mod catalog;
mod chain;
mod coerce;
mod merge;
mod part;
mod read;
mod request;
mod rerank;
mod route;
mod search;
mod write;

pub use ann::MAX_TAIL_ROWS;
pub use build::{
    build_need, plan_take_build, prepare_index_pending, BuildNeed, BuildScope, PreparedBuild,
};
pub use catalog::{
    alias_target, database, entry, list_aliases, plan_add_field, plan_alter_alias,
    plan_alter_collection_properties, plan_alter_database_properties, plan_alter_field,
    plan_create_alias, plan_create_database, plan_create_partition, plan_drop_alias,
    plan_drop_database,
};
pub use merge::SEAL_ROWS;
pub use read::{CollectionView, RowId, Snapshot};
pub use request::{
    Boost, ChainArg, ChainFunction, ChainOp, Combine, Decay, DecayFunction, FunctionChain, GroupBy,
    Hit, HybridRequest, Merge, NumCombine, OutputFields, QueryVectors, Range, RequestTime, Rerank,
    Scope, ScoreMode, SearchRequest,
};
pub use search::Cursor;
pub use write::{
    check_new_schema, plan_compact, plan_create_collection, plan_create_index,
    plan_create_scalar_index, plan_delete, plan_drop_collection, plan_drop_index,
    plan_drop_partition, plan_index_pending, plan_rename_collection, plan_truncate, plan_write,
    Deletion, NewCollection, WriteMode,
};

use crate::error::Error;

/// What errors name: views see an image, not the file it came from (`Snapshot::open_at` names the file).
const IMAGE_NAME: &str = "<image>";

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt(IMAGE_NAME, reason)
}

/// `err` naming the file at `path` where a view named the image it read.
pub fn on_file(err: Error, path: &std::path::Path) -> Error {
    match err {
        Error::Corrupt {
            path: image,
            reason,
        } if image.as_os_str() == IMAGE_NAME => Error::corrupt(path, reason),
        other => other,
    }
}

/// An error from reading a section (a graph, SQ8 codes, a sparse column or index) as the engine reports it.
/// A section whose header claims a newer layout than this build reads is damage, not a newer file: a
/// newer layout comes with a newer catalog revision, which opening the generation already refused.
fn section_error(e: Error) -> Error {
    match e {
        Error::NewerVersion {
            path,
            found,
            supported,
        } => corrupt(format!(
            "{} claims layout version {found}, but this catalog revision has only up to {supported}",
            path.display()
        )),
        e => e,
    }
}

/// The cores this process may run on (exact scans and the locality order split their work by it).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
