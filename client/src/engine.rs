//! The engine: one committed generation as views over its image bytes, the reads and searches over it,
//! and the planning of mutations into the sections a commit appends. One concern per module:
//!
//! | module    | concern                                                                                |
//! |-----------|----------------------------------------------------------------------------------------|
//! | `read`    | `Snapshot` (a generation's catalog over its image), `CollectionView`: get, query, count |
//! | `search`  | search: each part planned once per call (filter, graph or exact scan), range bounds, an iterator's cursor, top-k, grouping |
//! | `chain`   | function chains (Milvus's L2 rerank stage) checked and run on one query's hits       |
//! | `rerank`  | every search's entry; boosts, the merge of a hybrid search's routes (RRF, weighted, decay), the page cut |
//! | `part`    | the part codec: rows encoded into a part's sections, sections decoded as views          |
//! | `coerce`  | values between the API's forms and the stored forms                                      |
//! | `write`   | `plan_*`: a mutation as the next catalog                                                 |
//! | `merge`   | the merge policy: which parts a commit rewrites, when graphs are built or grown        |
//! | `ann`     | which indexes get graphs, their Milvus parameters, a part's graphs and row order        |
//! | `request` | what a read asks for and what a search answers                                           |
//!
//! Invariant kept by every write: a primary key has at most one live (not deleted) row in a
//! collection. A later write of the same key marks the older row deleted, so reads never deduplicate.

mod ann;
mod chain;
mod coerce;
mod merge;
mod part;
mod read;
mod request;
mod rerank;
mod search;
mod write;

pub use read::{CollectionView, RowId, Snapshot};
pub use request::{
    Boost, ChainArg, ChainFunction, ChainOp, Combine, Decay, DecayFunction, FunctionChain, GroupBy,
    Hit, HybridRequest, Merge, NumCombine, OutputFields, QueryVectors, Range, Rerank, ScoreMode,
    SearchRequest,
};
pub use search::Cursor;
pub use write::{
    check_new_schema, plan_create_collection, plan_create_index, plan_delete, plan_drop_collection,
    plan_drop_index, plan_index_pending, plan_rename_collection, plan_write, Deletion, WriteMode,
};

use crate::error::Error;

/// What errors name: views see an image, not the file it came from (`Snapshot::open_at` names the file).
const IMAGE_NAME: &str = "<image>";

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt(IMAGE_NAME, reason)
}

/// The cores this process may run on (exact scans and the locality order split their work by it).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
