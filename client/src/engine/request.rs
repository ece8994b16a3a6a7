//! Where a call looks (`Scope`), what a read asks for (`OutputFields`, `SearchRequest`) and what a
//! search answers (`Hit`).

use crate::format::DEFAULT_DATABASE;
use crate::schema::Metric;
use crate::sparse::SparseVector;
use crate::value::{Pk, Row};

/// Where a call looks: a collection (or an alias of one) of a database and, for reads, deletes and
/// writes, the partitions it is confined to (empty: the whole collection; a write goes to the one
/// partition named, else to "_default" or where the partition key sends each row).
/// `"docs".into()` is collection "docs" of database "default".
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub db: &'a str,
    pub collection: &'a str,
    pub partitions: &'a [String],
}

impl<'a> Scope<'a> {
    pub fn new(db: &'a str, collection: &'a str) -> Scope<'a> {
        Scope {
            db,
            collection,
            partitions: &[],
        }
    }

    /// The same collection, confined to `partitions`.
    pub fn partitions(self, partitions: &'a [String]) -> Scope<'a> {
        Scope { partitions, ..self }
    }
}

impl<'a> From<&'a str> for Scope<'a> {
    fn from(collection: &'a str) -> Scope<'a> {
        Scope::new(DEFAULT_DATABASE, collection)
    }
}

impl<'a> From<&'a String> for Scope<'a> {
    fn from(collection: &'a String) -> Scope<'a> {
        Scope::from(collection.as_str())
    }
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
    /// `nq` query vectors of the searched field's type.
    pub vectors: QueryVectors,
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

/// The query vectors of a search, one after another, of the searched field's type: dense values
/// (float32, and the float16, bfloat16 and int8 fields' values as f32), binary vectors' bytes (dim/8
/// each), sparse vectors, or query texts (for a BM25 function's output field).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryVectors {
    Dense(Vec<f32>),
    Binary(Vec<u8>),
    Sparse(Vec<SparseVector>),
    Text(Vec<String>),
}

impl From<Vec<f32>> for QueryVectors {
    fn from(values: Vec<f32>) -> QueryVectors {
        QueryVectors::Dense(values)
    }
}
