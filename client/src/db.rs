//! `Db`: the handle a program (or the daemon, or the Python binding) holds on one db file.
//!
//! Reads go to the current generation's segment (or, with `use_segment = false`, to a read-only map of
//! the db file itself). Before every call the handle checks, with one `stat`, whether a newer generation
//! was committed; if so it attaches to it and detaches from the old one. Writes take the db's writer
//! lock, commit durably, and publish the new generation when other processes are reading.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::schema::{CollectionSchema, IndexSpec, Metric};
use crate::value::{Pk, Row};

#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Where segments and reference files live; default `$COVEC_SHM_DIR` or `/dev/shm`.
    pub shm_dir: PathBuf,
    /// Map segments in shared memory (true), or map the db file itself read-only (false, the fallback for
    /// a small /dev/shm; also `COVEC_NO_SHM=1`).
    pub use_segment: bool,
    /// Give segments and reference files to this group (mode 0640/0660) instead of owner-only (0600).
    pub group: Option<u32>,
}

/// Which fields a read returns.
#[derive(Debug, Clone, Default)]
pub struct OutputFields {
    /// Field names (schema fields or dynamic keys); unknown names are left out, as in Milvus.
    pub names: Vec<String>,
    /// Every schema field (vectors included) and every dynamic key.
    pub all: bool,
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The vector field to search; None: the collection's only vector field.
    pub anns_field: Option<String>,
    /// `nq` query vectors, each of the field's dimension, one after another.
    pub vectors: Vec<f32>,
    pub nq: usize,
    pub limit: usize,
    pub offset: usize,
    /// Milvus filter expression; empty for none.
    pub filter: String,
    pub output: OutputFields,
    /// Overrides the index metric when given (must equal it, as in Milvus).
    pub metric: Option<Metric>,
    /// Search parameters (ef, ...), values JSON-encoded.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: Pk,
    pub distance: f32,
    pub entity: Row,
}

/// What `status` reports: enough to see which generation a process reads and where it lives.
#[derive(Debug, Clone)]
pub struct DbStatus {
    pub path: PathBuf,
    pub generation: u64,
    /// Segment name in the shm dir, or None when the db file is mapped directly.
    pub segment: Option<String>,
    pub mapped_bytes: u64,
}

/// A collection's description: schema, indexes, row count.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub name: String,
    pub schema: CollectionSchema,
    pub indexes: Vec<IndexSpec>,
    pub row_count: u64,
}

pub struct Db {}

impl Db {
    /// Opens the db at `path`, creating an empty one if there is no file. Errors if the path is not a
    /// covec db (a Milvus Lite directory gets a message pointing at `covec import`).
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Db> {
        let _ = (path, options);
        todo!()
    }

    pub fn path(&self) -> &Path {
        todo!()
    }
    pub fn status(&self) -> Result<DbStatus> {
        todo!()
    }

    // Collections. Every mutating call is one durable commit: when it returns, the change is on disk.
    pub fn create_collection(
        &self,
        name: &str,
        schema: CollectionSchema,
        indexes: Vec<IndexSpec>,
    ) -> Result<()> {
        let _ = (name, schema, indexes);
        todo!()
    }
    /// Dropping a missing collection is not an error (as in Milvus).
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        let _ = name;
        todo!()
    }
    pub fn rename_collection(&self, old: &str, new: &str) -> Result<()> {
        let _ = (old, new);
        todo!()
    }
    pub fn list_collections(&self) -> Result<Vec<String>> {
        todo!()
    }
    pub fn has_collection(&self, name: &str) -> Result<bool> {
        let _ = name;
        todo!()
    }
    pub fn describe_collection(&self, name: &str) -> Result<CollectionInfo> {
        let _ = name;
        todo!()
    }

    // Indexes.
    pub fn create_index(&self, collection: &str, spec: IndexSpec) -> Result<()> {
        let _ = (collection, spec);
        todo!()
    }
    pub fn drop_index(&self, collection: &str, index_name: &str) -> Result<()> {
        let _ = (collection, index_name);
        todo!()
    }

    // Rows.
    /// Inserts rows (last write wins on a duplicate primary key); returns their primary keys in order.
    pub fn insert(&self, collection: &str, rows: Vec<Row>) -> Result<Vec<Pk>> {
        let _ = (collection, rows);
        todo!()
    }
    /// Replaces rows by primary key (or, with `partial`, merges the given fields into the stored row).
    pub fn upsert(&self, collection: &str, rows: Vec<Row>, partial: bool) -> Result<Vec<Pk>> {
        let _ = (collection, rows, partial);
        todo!()
    }
    /// Deletes by primary key; returns how many rows existed and were deleted.
    pub fn delete_ids(&self, collection: &str, ids: &[Pk]) -> Result<u64> {
        let _ = (collection, ids);
        todo!()
    }
    pub fn delete_filter(&self, collection: &str, filter: &str) -> Result<u64> {
        let _ = (collection, filter);
        todo!()
    }

    // Reads, from the current generation.
    /// Rows for these keys, in the order asked; missing keys are left out.
    pub fn get(&self, collection: &str, ids: &[Pk], output: &OutputFields) -> Result<Vec<Row>> {
        let _ = (collection, ids, output);
        todo!()
    }
    /// Rows matching `filter` in primary-key order, after `offset`, at most `limit`.
    pub fn query(
        &self,
        collection: &str,
        filter: &str,
        output: &OutputFields,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Row>> {
        let _ = (collection, filter, output, limit, offset);
        todo!()
    }
    pub fn count(&self, collection: &str, filter: &str) -> Result<u64> {
        let _ = (collection, filter);
        todo!()
    }
    /// One list of hits per query vector, best first.
    pub fn search(&self, collection: &str, request: &SearchRequest) -> Result<Vec<Vec<Hit>>> {
        let _ = (collection, request);
        todo!()
    }
}
