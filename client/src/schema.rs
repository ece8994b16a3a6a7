//! Collection schemas and index specifications, as stored in the catalog (bincode); the binding builds them
//! from Python objects directly (`python/convert`). The structs' serde shapes are the catalog's stored format
//! (docs/format.md): their field order is part of it, and they avoid what bincode cannot encode (no untagged
//! enums, no `serde_json::Value`, no skipped fields). The enums are stored by the frozen tags of
//! `format::tags`, not by their position here.

use serde::{Deserialize, Serialize};

use crate::error::{ClientCheck, Error, Result};
use crate::rowview::ElementKind;

/// Field types. The discriminants are Milvus's numbers (pymilvus `DataType`), for the API; what the catalog
/// stores is each variant's frozen tag (`format::tags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool = 1,
    Int8 = 2,
    Int16 = 3,
    Int32 = 4,
    Int64 = 5,
    Float = 10,
    Double = 11,
    VarChar = 21,
    Array = 22,
    Json = 23,
    Geometry = 24,
    Timestamptz = 26,
    BinaryVector = 100,
    FloatVector = 101,
    Float16Vector = 102,
    BFloat16Vector = 103,
    SparseFloatVector = 104,
    Int8Vector = 105,
}

impl DataType {
    pub fn from_milvus(code: i64) -> Result<DataType> {
        Ok(match code {
            1 => DataType::Bool,
            2 => DataType::Int8,
            3 => DataType::Int16,
            4 => DataType::Int32,
            5 => DataType::Int64,
            10 => DataType::Float,
            11 => DataType::Double,
            21 => DataType::VarChar,
            22 => DataType::Array,
            23 => DataType::Json,
            24 => DataType::Geometry,
            26 => DataType::Timestamptz,
            100 => DataType::BinaryVector,
            101 => DataType::FloatVector,
            102 => DataType::Float16Vector,
            103 => DataType::BFloat16Vector,
            104 => DataType::SparseFloatVector,
            105 => DataType::Int8Vector,
            other => {
                return Err(Error::invalid(format!(
                    "data type {} is not supported by covec",
                    milvus_type_name(other)
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        milvus_type_name(self as i64)
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
        )
    }

    pub fn is_vector(self) -> bool {
        matches!(
            self,
            DataType::FloatVector
                | DataType::BinaryVector
                | DataType::Float16Vector
                | DataType::BFloat16Vector
                | DataType::SparseFloatVector
                | DataType::Int8Vector
        )
    }

    /// The kind of a BOOL, integer, FLOAT, DOUBLE or VARCHAR value: the scalar types an ARRAY may hold and
    /// the fixed-width columns store; None for the others.
    pub fn element_kind(self) -> Option<ElementKind> {
        Some(match self {
            DataType::Bool => ElementKind::Bool,
            DataType::Int8 => ElementKind::Int8,
            DataType::Int16 => ElementKind::Int16,
            DataType::Int32 => ElementKind::Int32,
            DataType::Int64 => ElementKind::Int64,
            DataType::Float => ElementKind::Float,
            DataType::Double => ElementKind::Double,
            DataType::VarChar => ElementKind::VarChar,
            _ => return None,
        })
    }

    /// Bytes per row of a fixed-width scalar column, or None for variable-length and vector columns.
    pub fn fixed_width(self) -> Option<usize> {
        match self {
            DataType::Bool | DataType::Int8 => Some(1),
            DataType::Int16 => Some(2),
            DataType::Int32 | DataType::Float => Some(4),
            DataType::Int64 | DataType::Double => Some(8),
            DataType::VarChar
            | DataType::Timestamptz
            | DataType::Array
            | DataType::Json
            | DataType::Geometry
            | DataType::BinaryVector
            | DataType::FloatVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::SparseFloatVector
            | DataType::Int8Vector => None,
        }
    }
}

fn milvus_type_name(code: i64) -> &'static str {
    match code {
        1 => "BOOL",
        2 => "INT8",
        3 => "INT16",
        4 => "INT32",
        5 => "INT64",
        10 => "FLOAT",
        11 => "DOUBLE",
        20 => "STRING",
        21 => "VARCHAR",
        22 => "ARRAY",
        23 => "JSON",
        24 => "GEOMETRY",
        25 => "TEXT",
        26 => "TIMESTAMPTZ",
        100 => "BINARY_VECTOR",
        101 => "FLOAT_VECTOR",
        102 => "FLOAT16_VECTOR",
        103 => "BFLOAT16_VECTOR",
        104 => "SPARSE_FLOAT_VECTOR",
        105 => "INT8_VECTOR",
        _ => "UNKNOWN",
    }
}

/// Distance metrics. L2 is squared Euclidean (as Milvus reports it); IP and COSINE are similarities;
/// HAMMING and JACCARD are binary-vector distances; BM25 scores sparse text vectors (a similarity).
/// Stored by frozen tag (`format::tags`); `accepts` says which metric fits which vector type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    L2 = 0,
    Ip = 1,
    Cosine = 2,
    Hamming = 3,
    Jaccard = 4,
    Bm25 = 5,
}

impl Metric {
    pub fn parse(s: &str) -> Result<Metric> {
        match s.to_ascii_uppercase().as_str() {
            "L2" => Ok(Metric::L2),
            "IP" => Ok(Metric::Ip),
            "COSINE" => Ok(Metric::Cosine),
            "HAMMING" => Ok(Metric::Hamming),
            "JACCARD" => Ok(Metric::Jaccard),
            "BM25" => Ok(Metric::Bm25),
            _ => Err(Error::invalid(format!(
                "metric_type must be one of COSINE/L2/IP (dense vectors), HAMMING/JACCARD (binary \
                 vectors) or IP/BM25 (sparse vectors), got '{s}'"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "L2",
            Metric::Ip => "IP",
            Metric::Cosine => "COSINE",
            Metric::Hamming => "HAMMING",
            Metric::Jaccard => "JACCARD",
            Metric::Bm25 => "BM25",
        }
    }

    /// Whether Milvus allows this metric on a vector field of type `dtype`: L2, IP and COSINE on dense
    /// vectors, HAMMING and JACCARD on binary ones, IP and BM25 on sparse ones.
    pub fn accepts(self, dtype: DataType) -> bool {
        match dtype {
            DataType::FloatVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::Int8Vector => matches!(self, Metric::L2 | Metric::Ip | Metric::Cosine),
            DataType::BinaryVector => matches!(self, Metric::Hamming | Metric::Jaccard),
            DataType::SparseFloatVector => matches!(self, Metric::Ip | Metric::Bm25),
            _ => false,
        }
    }

    /// True when a larger distance is a better hit.
    pub fn higher_is_better(self) -> bool {
        match self {
            Metric::Ip | Metric::Cosine | Metric::Bm25 => true,
            Metric::L2 | Metric::Hamming | Metric::Jaccard => false,
        }
    }
}

/// A scalar default value (JSON defaults are kept as JSON text). Stored by frozen tag (`format::tags`).
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    JsonText(String),
}

/// One field of a collection. Build it with `FieldSchema::new` and set what differs from the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// Milvus's field id: 100, 101, ... in schema order at creation; an added field takes the schema's
    /// `next_field_id`. Assigned by create_collection, whatever the caller set.
    pub id: i64,
    pub name: String,
    pub dtype: DataType,
    pub description: String,
    pub is_primary: bool,
    pub auto_id: bool,
    /// VARCHAR, and the elements of ARRAY<VARCHAR>: the limit in characters (None: unlimited, as Milvus
    /// Lite allows).
    pub max_length: Option<u32>,
    /// Dense vectors: the dimension (BINARY_VECTOR: in bits).
    pub dim: Option<u32>,
    pub nullable: bool,
    pub default_value: Option<DefaultValue>,
    /// ARRAY: the elements' type.
    pub element_type: Option<DataType>,
    /// ARRAY: the most elements a row may hold.
    pub max_capacity: Option<u32>,
    pub is_partition_key: bool,
    pub is_clustering_key: bool,
    /// Filled by a function (BM25's sparse output): never given by the user.
    pub is_function_output: bool,
    /// Milvus's other type parameters by name (enable_analyzer, analyzer_params, enable_match,
    /// multi_analyzer_params, mmap.enabled, ...), values as pymilvus sends them to a server: a string as
    /// it is, anything else as JSON text.
    pub type_params: Vec<(String, String)>,
}

impl FieldSchema {
    /// A field of `name` and `dtype` with every other property at Milvus's default: not a key, not
    /// nullable, no default, no limits, no type parameters.
    pub fn new(name: impl Into<String>, dtype: DataType) -> FieldSchema {
        FieldSchema {
            id: 0,
            name: name.into(),
            dtype,
            description: String::new(),
            is_primary: false,
            auto_id: false,
            max_length: None,
            dim: None,
            nullable: false,
            default_value: None,
            element_type: None,
            max_capacity: None,
            is_partition_key: false,
            is_clustering_key: false,
            is_function_output: false,
            type_params: Vec::new(),
        }
    }

    /// The value of type parameter `key` (JSON text), if set.
    pub fn type_param(&self, key: &str) -> Option<&str> {
        self.type_params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Functions Milvus runs on input fields to fill output fields. Stored by frozen tag (`format::tags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    /// VARCHAR text -> its BM25 sparse vector (Milvus's FunctionType.BM25).
    Bm25,
}

/// A schema function (pymilvus's `Function`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub name: String,
    pub description: String,
    pub kind: FunctionKind,
    pub input_fields: Vec<String>,
    pub output_fields: Vec<String>,
    /// Parameters as given, values JSON text.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSchema {
    pub fields: Vec<FieldSchema>,
    pub description: String,
    pub enable_dynamic_field: bool,
    pub functions: Vec<FunctionSpec>,
    /// The id the next added field takes (ids are never reused).
    pub next_field_id: i64,
}

/// Milvus's first field id; the ones before are its system fields (row id, timestamp).
pub const FIRST_FIELD_ID: i64 = 100;

/// The most elements an ARRAY field may hold (Milvus's limit).
pub const MAX_ARRAY_CAPACITY: u32 = 4096;

/// Names Milvus reserves; a field may not be called this.
pub const RESERVED_FIELD_NAMES: [&str; 5] = ["$meta", "_partition", "_seq", "count(*)", "*"];

impl CollectionSchema {
    /// A schema of `fields` (ids numbered from 100 in order) without functions.
    pub fn new(
        fields: Vec<FieldSchema>,
        description: impl Into<String>,
        enable_dynamic_field: bool,
    ) -> CollectionSchema {
        let mut schema = CollectionSchema {
            fields,
            description: description.into(),
            enable_dynamic_field,
            functions: Vec::new(),
            next_field_id: FIRST_FIELD_ID,
        };
        schema.number_fields();
        schema
    }

    /// Gives the fields ids 100, 101, ... in order, as Milvus does at creation.
    pub fn number_fields(&mut self) {
        for (f, id) in self.fields.iter_mut().zip(FIRST_FIELD_ID..) {
            f.id = id;
        }
        self.next_field_id = FIRST_FIELD_ID + self.fields.len() as i64;
    }

    pub fn primary(&self) -> &FieldSchema {
        self.fields
            .iter()
            .find(|f| f.is_primary)
            .expect("validated schema has a primary key")
    }

    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn vector_fields(&self) -> impl Iterator<Item = &FieldSchema> {
        self.fields.iter().filter(|f| f.dtype.is_vector())
    }

    /// The partition-key field and its schema position, if the collection has one.
    pub fn partition_key(&self) -> Option<(usize, &FieldSchema)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.is_partition_key)
    }

    /// Milvus's rules for partition and clustering keys: at most one of each; a partition key is an
    /// INT64 or VARCHAR field other than the primary key, and not nullable (the server's messages,
    /// code 1100).
    fn validate_keys(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::invalid_code(1100, message));
        let keys: Vec<&FieldSchema> = self.fields.iter().filter(|f| f.is_partition_key).collect();
        if let [first, second, ..] = keys[..] {
            return invalid(format!(
                "there are more than one partition key, field name = {}, {}",
                first.name, second.name
            ));
        }
        if let Some(key) = keys.first() {
            if key.is_primary {
                return invalid("the partition key field must not be primary field".into());
            }
            if !matches!(key.dtype, DataType::Int64 | DataType::VarChar) {
                return invalid("the data type of partition key should be Int64 or VarChar".into());
            }
            if key.nullable {
                return invalid("partition key field not support nullable".into());
            }
        }
        let clustering: Vec<&FieldSchema> =
            self.fields.iter().filter(|f| f.is_clustering_key).collect();
        if let [first, second, ..] = clustering[..] {
            return invalid(format!(
                "there are more than one clustering key, field name = {}, {}",
                first.name, second.name
            ));
        }
        Ok(())
    }

    /// Checks the rules Milvus applies at create time; errors name the field and the rule.
    pub fn validate(&self) -> Result<()> {
        // pymilvus checks the primary key on the client (CollectionSchema.verify), with these messages.
        let primaries: Vec<&FieldSchema> = self.fields.iter().filter(|f| f.is_primary).collect();
        match primaries.len() {
            0 => {
                return Err(Error::ClientSide {
                    check: ClientCheck::PrimaryKey,
                    message: "Schema must have a primary key field.".into(),
                })
            }
            1 => {}
            _ => {
                return Err(Error::ClientSide {
                    check: ClientCheck::PrimaryKey,
                    message: format!(
                        "Expected only one primary key field, got [{}, {}, ...].",
                        primaries[0].name, primaries[1].name
                    ),
                })
            }
        }
        let pk = primaries[0];
        if !matches!(pk.dtype, DataType::Int64 | DataType::VarChar) {
            return Err(Error::ClientSide {
                check: ClientCheck::PrimaryKey,
                message: "Primary key type must be DataType.INT64 or DataType.VARCHAR.".into(),
            });
        }
        if pk.auto_id && pk.dtype != DataType::Int64 {
            return Err(Error::invalid(format!(
                "auto_id primary key '{}' must be INT64, got {}",
                pk.name,
                pk.dtype.name()
            )));
        }
        if pk.nullable {
            return Err(Error::invalid(format!(
                "primary key '{}' cannot be nullable",
                pk.name
            )));
        }
        if self.vector_fields().next().is_none() {
            return Err(Error::invalid("schema has no vector field (FLOAT_VECTOR)"));
        }
        self.validate_keys()?;
        let mut seen = std::collections::HashSet::new();
        for f in &self.fields {
            if f.name.is_empty() || f.name.len() > 255 {
                return Err(Error::invalid(format!(
                    "field name '{}' must be 1 to 255 bytes",
                    f.name
                )));
            }
            if RESERVED_FIELD_NAMES.contains(&f.name.as_str()) {
                return Err(Error::invalid(format!(
                    "field name '{}' is reserved",
                    f.name
                )));
            }
            if !seen.insert(f.name.as_str()) {
                return Err(Error::invalid(format!("duplicate field name '{}'", f.name)));
            }
            if f.dtype == DataType::Array {
                match f.max_capacity {
                    Some(c) if (1..=MAX_ARRAY_CAPACITY).contains(&c) => {}
                    Some(c) => {
                        return Err(Error::invalid(format!(
                            "ARRAY field '{}': max_capacity must be between 1 and {MAX_ARRAY_CAPACITY}, got {c}",
                            f.name
                        )))
                    }
                    None => {
                        return Err(Error::invalid(format!(
                            "type param(max_capacity) should be specified for ARRAY field '{}'",
                            f.name
                        )))
                    }
                }
                if f.element_type.and_then(DataType::element_kind).is_none() {
                    return Err(Error::invalid(format!(
                        "ARRAY field '{}': element_type must be BOOL, INT8, INT16, INT32, INT64, FLOAT, DOUBLE or VARCHAR, got {}",
                        f.name,
                        f.element_type.map_or("none", DataType::name)
                    )));
                }
            }
            match (f.dtype, f.dim) {
                (DataType::SparseFloatVector, Some(_)) => {
                    return Err(Error::invalid(format!(
                        "dim should not be specified for sparse vector field '{}'; a sparse vector \
                         has any number of dimensions",
                        f.name
                    )))
                }
                (DataType::BinaryVector, Some(d))
                    if d % 8 != 0 || !(8..=32768 * 8).contains(&d) =>
                {
                    return Err(Error::invalid(format!(
                        "binary vector field '{}' requires dim (in bits) to be a multiple of 8 \
                         between 8 and 262144, got {d}",
                        f.name
                    )))
                }
                (DataType::BinaryVector, None) => {
                    return Err(Error::invalid(format!(
                        "binary vector field '{}' requires dim (in bits, a multiple of 8)",
                        f.name
                    )))
                }
                (DataType::BinaryVector | DataType::SparseFloatVector, _) => {}
                (t, Some(d)) if t.is_vector() && !(1..=32768).contains(&d) => {
                    return Err(Error::invalid(format!(
                        "vector field '{}' requires dim between 1 and 32768, got {d}",
                        f.name
                    )))
                }
                (t, None) if t.is_vector() => {
                    return Err(Error::invalid(format!(
                        "vector field '{}' requires dim > 0",
                        f.name
                    )))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Index types covec builds. Other Milvus names are mapped to one of these (see docs/compatibility.md).
/// Stored by frozen tag (`format::tags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Exact search over the vectors (FLAT, BRUTE_FORCE).
    Flat = 0,
    /// An HNSW graph built at commit time (HNSW, AUTOINDEX and the other ANN names).
    Hnsw = 1,
    /// HNSW walked on SQ8 codes, hits re-ranked with the f32 rows (HNSW_SQ).
    HnswSq8 = 2,
    /// An inverted index of sparse vectors (SPARSE_INVERTED_INDEX, SPARSE_WAND; BM25 outputs): the part's
    /// `TextIndex` sections.
    SparseInverted = 3,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSpec {
    pub field: String,
    pub index_name: String,
    /// The Milvus name the user asked for (HNSW, AUTOINDEX, ...), reported back by describe_index.
    pub index_type: String,
    pub kind: IndexKind,
    pub metric: Metric,
    /// Build parameters as given, values JSON-encoded (M=16 is ("M", "16")).
    pub params: Vec<(String, String)>,
}

/// Milvus's vector index types and the kind covec builds for each: FLAT and BRUTE_FORCE are exact, HNSW_SQ
/// walks SQ8 codes, and every other approximate type is served by an HNSW graph (docs/compatibility.md).
const VECTOR_INDEX_TYPES: [(&str, IndexKind); 13] = [
    ("AUTOINDEX", IndexKind::Hnsw),
    ("FLAT", IndexKind::Flat),
    ("BRUTE_FORCE", IndexKind::Flat),
    ("HNSW", IndexKind::Hnsw),
    ("HNSW_SQ", IndexKind::HnswSq8),
    ("HNSW_PQ", IndexKind::Hnsw),
    ("HNSW_PRQ", IndexKind::Hnsw),
    ("IVF_FLAT", IndexKind::Hnsw),
    ("IVF_SQ8", IndexKind::Hnsw),
    ("IVF_PQ", IndexKind::Hnsw),
    ("IVF_RABITQ", IndexKind::Hnsw),
    ("DISKANN", IndexKind::Hnsw),
    ("SCANN", IndexKind::Hnsw),
];

/// Milvus's scalar index types. They only speed up Milvus's filters; covec's filters evaluate the
/// columns, so such an index is kept, described, listed and dropped, and nothing is built.
const SCALAR_INDEX_TYPES: [&str; 6] = [
    "AUTOINDEX",
    "INVERTED",
    "STL_SORT",
    "BITMAP",
    "TRIE",
    "NGRAM",
];

/// Whether the scalar index type `index_type` takes a field of type `dtype`: Milvus's rules, within the
/// types Milvus Lite indexes (no JSON, ARRAY or GEOMETRY).
fn scalar_index_takes(index_type: &str, dtype: DataType) -> bool {
    use DataType::*;
    let indexable = matches!(
        dtype,
        Bool | Int8 | Int16 | Int32 | Int64 | Float | Double | VarChar | Timestamptz
    );
    indexable
        && match index_type {
            "STL_SORT" => dtype != Bool,
            "BITMAP" => !matches!(dtype, Float | Double | Timestamptz),
            "TRIE" | "NGRAM" => dtype == VarChar,
            _ => true,
        }
}

/// Milvus's index types for binary vectors: exact search serves both (BIN_IVF_FLAT's answer at
/// recall 1).
const BINARY_INDEX_TYPES: [(&str, IndexKind); 3] = [
    ("AUTOINDEX", IndexKind::Flat),
    ("BIN_FLAT", IndexKind::Flat),
    ("BIN_IVF_FLAT", IndexKind::Flat),
];

/// Milvus's index types for sparse vectors: both are the part's inverted index (docs/sparse.md), which
/// finds the exact top k (SPARSE_WAND's answer at recall 1).
const SPARSE_INDEX_TYPES: [(&str, IndexKind); 3] = [
    ("AUTOINDEX", IndexKind::SparseInverted),
    ("SPARSE_INVERTED_INDEX", IndexKind::SparseInverted),
    ("SPARSE_WAND", IndexKind::SparseInverted),
];

impl IndexKind {
    /// What covec builds for a Milvus index type (any case) on a vector field of type `dtype`.
    pub fn of_index_type(index_type: &str, dtype: DataType) -> Result<IndexKind> {
        let upper = index_type.to_ascii_uppercase();
        let table: &[(&str, IndexKind)] = match dtype {
            DataType::BinaryVector => &BINARY_INDEX_TYPES,
            DataType::SparseFloatVector => &SPARSE_INDEX_TYPES,
            _ => &VECTOR_INDEX_TYPES,
        };
        if let Some(&(_, kind)) = table.iter().find(|(t, _)| *t == upper) {
            return Ok(kind);
        }
        let mut known: Vec<&str> = table.iter().map(|(t, _)| *t).collect();
        known.sort_unstable();
        let all = VECTOR_INDEX_TYPES
            .iter()
            .chain(&BINARY_INDEX_TYPES)
            .chain(&SPARSE_INDEX_TYPES);
        let what = if all.map(|(t, _)| *t).any(|t| t == upper) {
            format!("index_type '{upper}' does not fit a {} field", dtype.name())
        } else {
            format!("unknown index_type: '{index_type}'")
        };
        Err(Error::invalid_code(
            1,
            format!(
                "{what}; supported for {}: {}",
                dtype.name(),
                known.join(", ")
            ),
        ))
    }
}

/// A scalar index as Milvus keeps it: named, described, listed and dropped like a vector index. covec
/// builds nothing for it (`SCALAR_INDEX_TYPES`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalarIndexSpec {
    pub field: String,
    pub index_name: String,
    /// The Milvus name the user asked for (INVERTED, STL_SORT, ...).
    pub index_type: String,
    /// Parameters as given, values JSON-encoded.
    pub params: Vec<(String, String)>,
}

/// One index of a create_index request.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexRequest {
    Vector(IndexSpec),
    Scalar(ScalarIndexSpec),
}

impl IndexRequest {
    /// An index request as pymilvus makes it: `index_type` and `metric_type` by Milvus's names (any
    /// case; an empty type is AUTOINDEX), `params` the other build parameters, values JSON-encoded. The
    /// index is named after its field unless `index_name` is given.
    pub fn from_milvus(
        schema: &CollectionSchema,
        field: &str,
        index_type: &str,
        index_name: &str,
        metric_type: Option<&str>,
        params: Vec<(String, String)>,
    ) -> Result<IndexRequest> {
        let f = schema.field(field).ok_or_else(|| {
            Error::invalid(format!(
                "cannot create index on non-existent field '{field}'"
            ))
        })?;
        let index_type = match index_type.to_ascii_uppercase() {
            t if t.is_empty() => "AUTOINDEX".to_string(),
            t => t,
        };
        let index_name = if index_name.is_empty() {
            field
        } else {
            index_name
        }
        .to_string();
        if !f.dtype.is_vector() {
            check_scalar_index(f, &index_type, metric_type)?;
            return Ok(IndexRequest::Scalar(ScalarIndexSpec {
                field: field.to_string(),
                index_name,
                index_type,
                params,
            }));
        }
        let kind = IndexKind::of_index_type(&index_type, f.dtype)?;
        let metric = metric_type.ok_or_else(|| {
            Error::invalid("create_index missing required 'metric_type' parameter")
        })?;
        let metric = Metric::parse(metric)?;
        check_metric(f, metric)?;
        Ok(IndexRequest::Vector(IndexSpec {
            field: field.to_string(),
            index_name,
            index_type,
            kind,
            metric,
            params,
        }))
    }
}

impl IndexSpec {
    /// A vector index request as `IndexRequest::from_milvus` reads it; None for a scalar field's.
    pub fn from_milvus(
        schema: &CollectionSchema,
        field: &str,
        index_type: &str,
        index_name: &str,
        metric_type: Option<&str>,
        params: Vec<(String, String)>,
    ) -> Result<Option<IndexSpec>> {
        let request =
            IndexRequest::from_milvus(schema, field, index_type, index_name, metric_type, params)?;
        Ok(match request {
            IndexRequest::Vector(spec) => Some(spec),
            IndexRequest::Scalar(_) => None,
        })
    }
}

/// Refuses a scalar index Milvus would refuse on field `f`: a type it does not know, a vector index
/// type, a field type the index type does not take, or a metric (a scalar index has none: "NONE").
pub fn check_scalar_index(
    f: &FieldSchema,
    index_type: &str,
    metric_type: Option<&str>,
) -> Result<()> {
    if !SCALAR_INDEX_TYPES.contains(&index_type) {
        return Err(Error::invalid(format!(
            "index_type '{index_type}' cannot index scalar field '{}' of type {}; supported scalar \
             index_type: {}",
            f.name,
            f.dtype.name(),
            SCALAR_INDEX_TYPES.join(", ")
        )));
    }
    if !scalar_index_takes(index_type, f.dtype) {
        return Err(Error::invalid(format!(
            "field type {} does not support scalar index {index_type} (field '{}')",
            f.dtype.name(),
            f.name
        )));
    }
    match metric_type {
        Some(m) if !m.eq_ignore_ascii_case("NONE") => Err(Error::invalid(format!(
            "metric_type '{m}' does not apply to scalar index on field '{}'",
            f.name
        ))),
        _ => Ok(()),
    }
}

/// A collection's indexes as (field, index name): its vector indexes, then its scalar ones.
pub fn index_names<'a>(
    vector: &'a [IndexSpec],
    scalar: &'a [ScalarIndexSpec],
) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
    let vector = vector
        .iter()
        .map(|i| (i.field.as_str(), i.index_name.as_str()));
    vector.chain(
        scalar
            .iter()
            .map(|i| (i.field.as_str(), i.index_name.as_str())),
    )
}

/// The position of the index a name means among a collection's indexes, given as (field, index name):
/// the one of that name, else, as in Milvus Lite (which names every index after its field and resolves
/// "<field>_idx" to it), the index on `<field>` of a name `<field>_idx`.
pub fn resolve_index_name<'a>(
    indexes: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    name: &str,
) -> Option<usize> {
    if let Some(at) = indexes.clone().position(|(_, n)| n == name) {
        return Some(at);
    }
    let field = name.strip_suffix("_idx")?;
    indexes.into_iter().position(|(f, _)| f == field)
}

/// Refuses a metric Milvus does not allow on field `f` (by its type; BM25 only on a BM25 function's
/// output), naming the ones it allows.
pub fn check_metric(f: &FieldSchema, metric: Metric) -> Result<()> {
    let allowed: Vec<&str> = [
        Metric::L2,
        Metric::Ip,
        Metric::Cosine,
        Metric::Hamming,
        Metric::Jaccard,
        Metric::Bm25,
    ]
    .into_iter()
    .filter(|m| m.accepts(f.dtype))
    .map(Metric::name)
    .collect();
    if !metric.accepts(f.dtype) {
        return Err(Error::invalid_code(
            1,
            format!(
                "metric type {} is not valid for {} field '{}'; use one of {}",
                metric.name(),
                f.dtype.name(),
                f.name,
                allowed.join(", ")
            ),
        ));
    }
    if f.is_function_output && metric != Metric::Bm25 {
        return Err(Error::invalid_code(
            1100,
            format!(
                "field '{}' is the output of a BM25 function: use metric_type BM25, got {}",
                f.name,
                metric.name()
            ),
        ));
    }
    if metric == Metric::Bm25 && !f.is_function_output {
        return Err(Error::invalid_code(
            1,
            format!(
                "metric type BM25 is only for the output field of a BM25 function; '{}' is a plain \
                 sparse field: use IP",
                f.name
            ),
        ));
    }
    Ok(())
}

/// Collection names and aliases follow Milvus: 1 to 255 bytes.
pub fn validate_collection_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 255 {
        return Err(Error::invalid(format!(
            "collection name '{name}' must be 1 to 255 bytes"
        )));
    }
    Ok(())
}

/// Why `name` breaks the Milvus server's rule for database and partition names (1 to 255 bytes, an
/// ASCII letter or underscore, then ASCII letters, digits or underscores), in the server's words for
/// a `what` name.
fn identifier_problem(name: &str, what: &str) -> Option<String> {
    let mut bytes = name.bytes();
    match bytes.next() {
        None => Some(format!("{what} name couldn't be empty")),
        _ if name.len() > 255 => Some(format!(
            "the length of a {what} name must be less than 255 characters"
        )),
        Some(first) if first != b'_' && !first.is_ascii_alphabetic() => Some(format!(
            "the first character of a {what} name must be an underscore or letter"
        )),
        _ if !bytes.all(|c| c == b'_' || c.is_ascii_alphanumeric()) => Some(format!(
            "{what} name can only contain numbers, letters and underscores"
        )),
        _ => None,
    }
}

/// Database names follow the Milvus server (which Milvus Lite does not check): code 802.
pub fn validate_database_name(name: &str) -> Result<()> {
    match identifier_problem(name, "database") {
        Some(why) => Err(Error::invalid_code(
            802,
            format!("{why}: invalid database name[database={name}]"),
        )),
        None => Ok(()),
    }
}

/// Partition names follow the Milvus server: code 1100 (parameter invalid).
pub fn validate_partition_name(name: &str) -> Result<()> {
    match identifier_problem(name, "partition") {
        Some(why) => Err(Error::invalid_code(
            1100,
            format!("Invalid partition name: {name}. {why}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> CollectionSchema {
        let mut id = FieldSchema::new("id", DataType::Int64);
        id.is_primary = true;
        let mut v = FieldSchema::new("v", DataType::FloatVector);
        v.dim = Some(4);
        CollectionSchema::new(vec![id, v], "", false)
    }

    fn request(field: &str, index_type: &str, metric: Option<&str>) -> Result<IndexRequest> {
        let mut s = schema();
        s.fields.push(FieldSchema::new("j", DataType::Json));
        s.fields.push(FieldSchema::new("f", DataType::Float));
        IndexRequest::from_milvus(&s, field, index_type, "", metric, Vec::new())
    }

    fn spec(field: &str, index_type: &str, metric: Option<&str>) -> Result<Option<IndexSpec>> {
        IndexSpec::from_milvus(&schema(), field, index_type, "", metric, Vec::new())
    }

    #[test]
    fn milvus_index_types_map_to_what_covec_builds() {
        for (index_type, kind) in [
            ("", IndexKind::Hnsw),
            ("flat", IndexKind::Flat),
            ("BRUTE_FORCE", IndexKind::Flat),
            ("HNSW_SQ", IndexKind::HnswSq8),
            ("IVF_PQ", IndexKind::Hnsw),
            ("DISKANN", IndexKind::Hnsw),
        ] {
            let s = spec("v", index_type, Some("ip")).unwrap().unwrap();
            assert_eq!((s.kind, s.metric), (kind, Metric::Ip), "{index_type}");
            assert_eq!((s.field.as_str(), s.index_name.as_str()), ("v", "v"));
        }
        assert_eq!(
            spec("v", "", Some("L2")).unwrap().unwrap().index_type,
            "AUTOINDEX"
        );
    }

    #[test]
    fn scalar_indexes_are_kept_with_their_names_and_type_rules() {
        let inverted = request("id", "inverted", None).unwrap();
        assert_eq!(
            inverted,
            IndexRequest::Scalar(ScalarIndexSpec {
                field: "id".into(),
                index_name: "id".into(),
                index_type: "INVERTED".into(),
                params: Vec::new(),
            })
        );
        assert!(
            matches!(request("id", "", Some("NONE")), Ok(IndexRequest::Scalar(s)) if s.index_type == "AUTOINDEX")
        );
        for (field, index_type, metric, says) in [
            ("id", "HNSW", Some("L2"), "cannot index scalar field 'id'"),
            (
                "id",
                "FOO",
                None,
                "supported scalar index_type: AUTOINDEX, INVERTED",
            ),
            (
                "j",
                "INVERTED",
                None,
                "field type JSON does not support scalar index INVERTED",
            ),
            (
                "f",
                "BITMAP",
                None,
                "field type FLOAT does not support scalar index BITMAP",
            ),
            (
                "id",
                "TRIE",
                None,
                "field type INT64 does not support scalar index TRIE",
            ),
            (
                "id",
                "INVERTED",
                Some("L2"),
                "metric_type 'L2' does not apply to scalar index",
            ),
        ] {
            let err = request(field, index_type, metric).unwrap_err();
            assert_eq!(err.code(), 6, "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn index_names_resolve_exactly_then_by_milvus_lites_field_idx_convention() {
        let indexes = [("v", "v"), ("s", "sparse_bm25"), ("t", "t_idx")];
        let resolve = |name| resolve_index_name(indexes.iter().map(|&(f, n)| (f, n)), name);
        assert_eq!(resolve("v"), Some(0));
        assert_eq!(resolve("v_idx"), Some(0));
        assert_eq!(resolve("s_idx"), Some(1));
        assert_eq!(resolve("t_idx"), Some(2));
        assert_eq!(resolve("s"), None);
        assert_eq!(resolve("w_idx"), None);
    }

    #[test]
    fn bad_index_requests_name_what_is_wrong() {
        let unknown = spec("v", "FOO", Some("L2")).unwrap_err();
        assert_eq!(unknown.code(), 1);
        assert!(unknown.to_string().contains("unknown index_type: 'FOO'"));
        let missing = spec("v", "HNSW", None).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "create_index missing required 'metric_type' parameter"
        );
        assert!(spec("v", "HNSW", Some("HAMMING"))
            .unwrap_err()
            .to_string()
            .contains(
                "HAMMING is not valid for FLOAT_VECTOR field 'v'; use one of L2, IP, COSINE"
            ));
        assert!(spec("v", "HNSW", Some("EUCLIDEAN"))
            .unwrap_err()
            .to_string()
            .contains("COSINE/L2/IP"));
        assert!(spec("nope", "HNSW", Some("L2"))
            .unwrap_err()
            .to_string()
            .contains("non-existent field 'nope'"));
    }

    #[test]
    fn no_primary_key_or_two_are_pymilvus_primary_key_errors() {
        let mut none = schema();
        none.fields[0].is_primary = false;
        let mut two = schema();
        two.fields.push(FieldSchema {
            name: "other".into(),
            is_primary: true,
            ..two.fields[0].clone()
        });
        for (s, message) in [
            (none, "Schema must have a primary key field."),
            (
                two,
                "Expected only one primary key field, got [id, other, ...].",
            ),
        ] {
            let err = s.validate().unwrap_err();
            assert!(matches!(
                err,
                Error::ClientSide {
                    check: ClientCheck::PrimaryKey,
                    ..
                }
            ));
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn a_primary_key_of_another_type_is_pymilvus_primary_key_error() {
        let mut s = schema();
        s.fields[0].dtype = DataType::Int32;
        assert!(matches!(
            s.validate(),
            Err(Error::ClientSide {
                check: ClientCheck::PrimaryKey,
                ..
            })
        ));
    }
}
