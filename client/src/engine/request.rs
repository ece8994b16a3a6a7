//! Where a call looks (`Scope`), what a read asks for (`OutputFields`, `SearchRequest`,
//! `HybridRequest`, `Rerank`) and what a search answers (`Hit`).

use crate::error::{Error, Result};
use crate::format::DEFAULT_DATABASE;
use crate::schema::Metric;
use crate::sparse::SparseVector;
use crate::timestamptz::{self, TimeField, Zone};
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
    /// The call's own `timezone` and `time_fields`; None: the collection's zone, TIMESTAMPTZ as text.
    pub time: Option<&'a RequestTime>,
}

impl<'a> Scope<'a> {
    pub fn new(db: &'a str, collection: &'a str) -> Scope<'a> {
        Scope {
            db,
            collection,
            partitions: &[],
            time: None,
        }
    }

    /// The same collection, confined to `partitions`.
    pub fn partitions(self, partitions: &'a [String]) -> Scope<'a> {
        Scope { partitions, ..self }
    }

    /// The same collection, read with the call's own `timezone` and `time_fields`.
    pub fn time(self, time: &'a RequestTime) -> Scope<'a> {
        Scope {
            time: Some(time),
            ..self
        }
    }
}

/// A read's own `timezone` and `time_fields` (pymilvus's arguments of query, get, search,
/// hybrid_search and the iterators).
#[derive(Debug, Clone, Default)]
pub struct RequestTime {
    /// The zone TIMESTAMPTZ text and ISO literals without an offset are read in, and `fields` taken in,
    /// before the collection's `timezone` property and its database's; None: theirs.
    pub zone: Option<Zone>,
    /// When not empty, a read returns each TIMESTAMPTZ value as these calendar fields of its instant
    /// in the read's zone (INT64s, in this order) instead of its text.
    pub fields: Vec<TimeField>,
}

impl RequestTime {
    /// pymilvus's `timezone` (an IANA name) and `time_fields` (`"year, month, day"`) arguments; None or
    /// empty: not given. A zone or field that does not exist is code 1100 naming it, as Milvus refuses
    /// a bad parameter.
    pub fn parse(timezone: Option<&str>, time_fields: Option<&str>) -> Result<RequestTime> {
        let bad = |e: String| Error::invalid_code(1100, e);
        Ok(RequestTime {
            zone: timezone
                .filter(|z| !z.is_empty())
                .map(Zone::named)
                .transpose()
                .map_err(bad)?,
            fields: time_fields
                .map(timestamptz::parse_time_fields)
                .transpose()
                .map_err(bad)?
                .unwrap_or_default(),
        })
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

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// The vector field to search; None: the collection's first vector field.
    pub anns_field: Option<String>,
    /// `nq` query vectors of the searched field's type.
    pub vectors: QueryVectors,
    pub nq: usize,
    pub limit: usize,
    /// Hits skipped before `limit` are returned (groups, when grouping).
    pub offset: usize,
    /// Milvus filter expression; empty for none.
    pub filter: String,
    /// The values of the filter's `{name}` placeholders (`filter_params`).
    pub filter_params: serde_json::Map<String, serde_json::Value>,
    pub output: OutputFields,
    /// Overrides the index metric when given (must equal it, as in Milvus).
    pub metric: Option<Metric>,
    /// Search parameters (ef, ...), values JSON-encoded.
    pub params: Vec<(String, String)>,
    /// Range search bounds (`radius`, `range_filter`).
    pub range: Range,
    /// Grouping search (`group_by_field`, `group_size`, `strict_group_size`).
    pub group_by: Option<GroupBy>,
    /// Boost and decay functions (`ranker=`); None: hits in distance order.
    pub rerank: Option<Rerank>,
    /// A function chain run on each query's hits (`function_chains=`, Milvus's L2 rerank stage).
    pub chain: Option<FunctionChain>,
}

/// Range search bounds, as Milvus reads `radius` and `range_filter`. A hit lies strictly inside
/// `radius` and no closer than `range_filter`: L2 keeps `range_filter <= d < radius`; IP and COSINE
/// keep `radius < s <= range_filter` (larger is closer). Either may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Range {
    pub radius: Option<f32>,
    pub range_filter: Option<f32>,
}

/// Grouping search: the best `limit` groups of rows sharing a value of `field`, each with its best
/// `size` rows; with `strict`, only groups that have `size` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBy {
    pub field: String,
    pub size: usize,
    pub strict: bool,
}

/// A multi-vector search: each request searched on its own (its field, filter, limit, parameters), the
/// routes merged by `rerank`, then grouped or cut to `offset` + `limit`.
#[derive(Debug, Clone, Default)]
pub struct HybridRequest {
    pub requests: Vec<SearchRequest>,
    pub rerank: Rerank,
    pub limit: usize,
    pub offset: usize,
    pub output: OutputFields,
    pub group_by: Option<GroupBy>,
}

/// Milvus's rerank functions (a `FunctionScore`): boosts applied to each route's candidates (Milvus's
/// L0 stage), then how routes merge and what multiplies the merged score (its L2 stage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rerank {
    pub boosts: Vec<Boost>,
    /// How a matching boost's weight changes a score (`boost_mode`).
    pub boost_mode: Combine,
    /// How the weights of several matching boosts combine (`function_mode`).
    pub function_mode: Combine,
    /// None: a search keeps its one route's order (boosted); a hybrid search needs one.
    pub merge: Option<Merge>,
}

/// `Multiply` or `Sum`, as Milvus's FunctionScore `boost_mode` and `function_mode` take them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Combine {
    #[default]
    Multiply,
    Sum,
}

/// A boost ranker: rows matching `filter` (every row without one) have their score combined with
/// `weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct Boost {
    pub name: String,
    pub filter: Option<String>,
    pub weight: f64,
}

/// How the routes of a hybrid search merge into one score per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// Reciprocal rank fusion: the sum over routes of `1 / (k + rank)`, rank counted from 1.
    Rrf { k: f64 },
    /// The weighted sum of each route's score; with `norm_score`, each score first mapped into [0, 1]
    /// by its metric's normalisation.
    Weighted { weights: Vec<f64>, norm_score: bool },
    /// The routes' scores merged by `mode` (max, sum or avg), then multiplied by `decay` of the row's
    /// value of `field`.
    Decay {
        field: String,
        decay: Decay,
        mode: ScoreMode,
        norm_score: bool,
    },
}

/// How a decay reranker merges several routes' scores of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreMode {
    Max,
    Sum,
    Avg,
}

/// A decay curve: 1 within `offset` of `origin`, `decay` at `scale` beyond that, falling as `function`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decay {
    pub function: DecayFunction,
    pub origin: f64,
    pub scale: f64,
    pub offset: f64,
    pub decay: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecayFunction {
    Gauss,
    Exp,
    Linear,
}

/// A function chain: operators run in order on one query's hits, a table of columns: `$id`, `$score`
/// (the hit's distance), the primary key and any schema field the chain reads, and the outputs of
/// earlier maps. The hits come out in the chain's order with `$score` as their distance; columns the
/// chain writes are never returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionChain {
    pub name: String,
    pub ops: Vec<ChainOp>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChainOp {
    /// `output` := `function` of `args`, row by row.
    Map {
        output: String,
        function: ChainFunction,
        args: Vec<ChainArg>,
    },
    /// Rows by `column`, NaN and null last; ties by `tie_break` ascending, or kept in order.
    Sort {
        column: String,
        desc: bool,
        tie_break: Option<String>,
    },
    /// Rows `offset..offset + limit`.
    Limit { limit: usize, offset: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChainArg {
    Column(String),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChainFunction {
    /// Two or more numbers combined (`weights` only with `Weighted`, one per argument); a null
    /// argument makes 0.
    NumCombine { mode: NumCombine, weights: Vec<f64> },
    /// One number's decay factor (null: 0).
    Decay(Decay),
    /// One number rounded half away from zero to `decimal` places.
    RoundDecimal { decimal: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumCombine {
    Multiply,
    Sum,
    Max,
    Min,
    Avg,
    Weighted,
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

/// No query vectors (`SearchRequest::default()`, filled in by its caller).
impl Default for QueryVectors {
    fn default() -> QueryVectors {
        QueryVectors::Dense(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_arguments() {
        let none = RequestTime::parse(None, None).unwrap();
        assert!(none.zone.is_none() && none.fields.is_empty());
        // An empty zone is no zone, as Milvus reads it.
        assert!(RequestTime::parse(Some(""), None).unwrap().zone.is_none());
        let t = RequestTime::parse(Some("Asia/Shanghai"), Some("year,MONTH  day")).unwrap();
        assert_eq!(t.zone.unwrap().name(), "Asia/Shanghai");
        assert_eq!(
            t.fields,
            [TimeField::Year, TimeField::Month, TimeField::Day]
        );
        let e = RequestTime::parse(Some("Mars/Olympus"), None).unwrap_err();
        assert_eq!(e.code(), 1100);
        assert!(e.to_string().contains("'Mars/Olympus'"), "{e}");
        let e = RequestTime::parse(None, Some("year, week")).unwrap_err();
        assert_eq!(e.code(), 1100);
        assert!(e.to_string().contains("'week'"), "{e}");
    }
}
