//! What a read asks for (`OutputFields`, `SearchRequest`) and what a search answers (`Hit`).

use crate::schema::Metric;
use crate::sparse::SparseVector;
use crate::value::{Pk, Row};

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
