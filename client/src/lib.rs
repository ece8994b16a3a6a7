//! covec: one shared-memory copy of a vector database for any number of processes.
//!
//! A db is one file (`format`, `store`). The first process that needs a generation of it copies the
//! committed image into one named segment in /dev/shm (`segment`); every process maps that segment
//! read-only and searches it in place (`engine`, `kernels`, `filter`). A reference-count file keeps each
//! segment alive while a live process uses it and unlinks it after the last one is gone (`segment`).
//! `Db` is the handle programs use; the `python` module is its PyO3 binding.

pub mod db;
pub mod engine;
pub mod error;
pub mod filter;
pub mod format;
pub mod hnsw;
pub mod kernels;
pub mod rowview;
pub mod schema;
pub mod search_params;
pub mod segment;
pub mod sparse;
pub mod store;
pub mod text;
pub mod value;

#[cfg(feature = "python")]
mod python;

pub use db::{CollectionInfo, Db, DbStatus, Hit, OpenOptions, OutputFields, SearchRequest};
pub use error::{ClientCheck, Error, Result};
pub use schema::{
    CollectionSchema, DataType, DefaultValue, FieldSchema, IndexKind, IndexSpec, Metric,
};
pub use search_params::SearchParams;
pub use value::{Pk, Row, Value};
