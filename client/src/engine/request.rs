//! What a read asks for (`OutputFields`, `SearchRequest`) and what a search answers (`Hit`).

use crate::schema::Metric;
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
