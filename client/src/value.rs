//! Values as they cross the API: rows in, rows out. The engine coerces them to the field's type.

use crate::sparse::SparseVector;

/// A primary key: Milvus allows INT64 or VARCHAR primary keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pk {
    Int(i64),
    Str(String),
}

/// One field value. `Json` holds any JSON (JSON fields and dynamic keys); the vector variants hold a
/// vector of each vector type: float16 and bfloat16 as their bit patterns, binary vectors as their
/// bits packed 8 to a byte (bit k in bit `k % 8` of byte `k / 8`), sparse vectors checked as Milvus
/// checks them. Input is loose (a JSON array of numbers is accepted for a dense vector field, f32 values
/// for a float16 or bfloat16 field, a vector for a JSON field, a JSON array for an ARRAY field, ISO 8601
/// text for a TIMESTAMPTZ field, WKT text for a GEOMETRY field); output always uses the variant of the
/// field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Json(serde_json::Value),
    FloatVector(Vec<f32>),
    Float16Vector(Vec<u16>),
    BFloat16Vector(Vec<u16>),
    Int8Vector(Vec<i8>),
    BinaryVector(Vec<u8>),
    SparseFloatVector(SparseVector),
    /// An ARRAY field's elements (Bool, Int, Float or Str values).
    Array(Vec<Value>),
    /// A TIMESTAMPTZ value: microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A GEOMETRY value as its WKB (docs/format.md); the Python binding shows it as WKT.
    Geometry(Vec<u8>),
}

/// A row: field names with their values, in output order (primary key first, then schema order, then
/// dynamic keys).
pub type Row = Vec<(String, Value)>;

impl From<Pk> for Value {
    fn from(pk: Pk) -> Value {
        match pk {
            Pk::Int(i) => Value::Int(i),
            Pk::Str(s) => Value::Str(s),
        }
    }
}

impl std::fmt::Display for Pk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pk::Int(i) => write!(f, "{i}"),
            Pk::Str(s) => write!(f, "{s:?}"),
        }
    }
}
