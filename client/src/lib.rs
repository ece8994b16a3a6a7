//! covec: one shared-memory copy of a vector database for any number of processes.
//!
//! A db is one file (`format`, `store`). The first process that needs a generation of it copies the
//! committed image into one named segment in /dev/shm (`segment`); every process maps that segment
//! read-only and searches it in place (`engine`, `kernels`, `filter`). A reference-count file keeps each
//! segment alive while a live process uses it and unlinks it after the last one is gone (`segment`).
//! `Db` is the handle programs use (it follows its path from generation to generation through
//! `follow`); the `python` module is its PyO3 binding.
//!
//! The public API is what programs use: `Db` and `OpenOptions`, the request, hit, row, value, schema,
//! search-parameter and error types, and what covecd runs (`Follower`, `start_builder`, and
//! `segment`'s sweep and status of the shm dir). Every other module is private. The tests in
//! client/tests, the bench, the fuzz targets and covecd's test hook reach them through `internals`,
//! which is hidden from the docs and is not API: it changes whenever the code does. A cargo feature was the other way; it would not work here: an
//! integration test cannot turn on a feature of its own crate (only `required-features`, which skips
//! the test, silently, whenever the feature is off), and cargo unifies features across a workspace
//! build, so a feature the bench turned on would expose the internals to covecd all the same.

mod builder;
mod db;
mod dense;
mod engine;
mod error;
mod filter;
mod follow;
mod format;
mod fulltext;
mod geometry;
mod hnsw;
mod kernels;
mod pin;
mod random;
mod rowview;
mod schema;
mod search_params;
pub mod segment;
mod sparse;
mod store;
mod text;
mod timestamptz;
mod value;

#[cfg(feature = "python")]
mod python;

pub use builder::{start_builder, BuilderThread};
pub use db::{CollectionInfo, DatabaseInfo, Db};
pub use engine::{
    Boost, ChainArg, ChainFunction, ChainOp, Combine, Cursor, Decay, DecayFunction, FunctionChain,
    GroupBy, Hit, HybridRequest, Merge, NewCollection, NumCombine, OutputFields, QueryVectors,
    Range, RequestTime, Rerank, Scope, ScoreMode, SearchRequest,
};
pub use error::{ClientCheck, Error, Result};
pub use filter::{Filter, Params as FilterParams};
pub use follow::{DbStatus, Follower, OpenOptions};
pub use pin::{Pinned, QueryIter, SearchIter};
pub use schema::{
    CollectionSchema, DataType, DefaultValue, FieldSchema, FunctionKind, FunctionSpec, IndexKind,
    IndexRequest, IndexSpec, Metric, ScalarIndexSpec,
};
pub use search_params::{chain_of, rerank_of, SearchParams};
pub use sparse::SparseVector;
pub use text::Token;
pub use value::{Pk, Row, Value};

/// Not API: the crate's internals, for its own tests, the bench and the fuzz targets (see above).
#[doc(hidden)]
pub mod internals {
    pub mod builder {
        pub use crate::builder::{
            set_mid_build_hook, set_mid_compaction_hook, BuildLock, MidBuildHook,
        };
    }
    pub mod dense {
        pub use crate::dense::*;
    }
    pub mod engine {
        pub use crate::engine::*;
    }
    pub mod filter {
        pub use crate::filter::*;
    }
    pub mod format {
        pub use crate::format::*;
    }
    pub mod fulltext {
        pub use crate::fulltext::*;
    }
    pub mod geometry {
        pub use crate::geometry::*;
    }
    pub mod hnsw {
        pub use crate::hnsw::*;
    }
    pub mod kernels {
        pub use crate::kernels::*;
    }
    pub mod rowview {
        pub use crate::rowview::*;
    }
    pub mod segment {
        pub use crate::segment::attach::{attach, Attachment, ImageSource};
        pub use crate::segment::*;
        /// Decoding arbitrary bytes must never panic (fuzz/fuzz_targets/segment_header.rs).
        pub mod header {
            pub use crate::segment::header::*;
        }
    }
    pub mod sparse {
        pub use crate::sparse::*;
    }
    pub mod store {
        pub use crate::store::*;
    }
    pub mod text {
        pub use crate::text::*;
    }
    pub mod timestamptz {
        pub use crate::timestamptz::*;
    }
}
