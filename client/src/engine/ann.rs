//! The engine's side of approximate search: which Milvus index names get a graph, the build and
//! search parameters as Milvus names them, and building the sections a part carries.

use crate::error::{Error, Result};
use crate::format::{AnnIndex, CollectionEntry};
use crate::hnsw::{self, HnswParams, HnswView};
use crate::schema::{IndexKind, IndexSpec, Metric};
use crate::store::CommitBuilder;

/// Below this many live rows a collection gets no graph: an exact scan is as fast.
pub(crate) const MIN_GRAPH_ROWS: u64 = 1024;
/// Rebuild when rows outside the graph exceed this fraction (in percent) of the indexed rows...
pub(crate) const TAIL_PERCENT: u64 = 10;
/// ...or deleted rows inside it exceed this fraction (they still cost traversal).
pub(crate) const DELETED_PERCENT: u64 = 20;
/// Default layer-0 beam: `max(DEFAULT_EF, limit + offset)`.
const DEFAULT_EF: usize = 64;
/// Largest accepted `ef` and `efConstruction` (Milvus accepts up to 32768 for `ef`).
const MAX_EF: u64 = 32768;

/// The kind covec builds for a Milvus vector index type (docs/compatibility.md, index table).
pub(crate) fn kind_of(index_type: &str) -> IndexKind {
    match index_type.to_ascii_uppercase().as_str() {
        "FLAT" | "BRUTE_FORCE" => IndexKind::Flat,
        "HNSW_SQ" => IndexKind::HnswSq8,
        // HNSW, AUTOINDEX, HNSW_PQ/PRQ, IVF_*, DISKANN, SCANN: all approximate in Milvus.
        _ => IndexKind::Hnsw,
    }
}

/// A JSON-encoded parameter value as a positive integer (`16` or `"16"`).
fn int_param(name: &str, json: &str, max: u64) -> Result<usize> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or(serde_json::Value::Null);
    let n = match &v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        _ => Err(Error::invalid(format!(
            "{name} must be an integer in [1, {max}], got {json}"
        ))),
    }
}

/// M and efConstruction of an index spec (Milvus's names), with covec's defaults.
pub(crate) fn build_params(spec: &IndexSpec) -> Result<HnswParams> {
    let mut p = HnswParams::default();
    for (k, v) in &spec.params {
        match k.as_str() {
            "M" => {
                p.m = int_param("M", v, hnsw::MAX_M as u64)?;
                if p.m < 2 {
                    return Err(Error::invalid(format!(
                        "M must be an integer in [2, {}], got {v}",
                        hnsw::MAX_M
                    )));
                }
            }
            "efConstruction" => p.ef_construction = int_param("efConstruction", v, MAX_EF)?,
            _ => {}
        }
    }
    Ok(p)
}

/// Checks an index spec and sets its kind from its Milvus name.
pub(crate) fn normalise_spec(spec: &mut IndexSpec) -> Result<()> {
    spec.kind = kind_of(&spec.index_type);
    if spec.kind != IndexKind::Flat {
        build_params(spec)?;
    }
    Ok(())
}

/// The search beam: `ef` from the search params (Milvus's name), at least `keep`.
pub(crate) fn search_ef(params: &[(String, String)], keep: usize) -> Result<usize> {
    let ef = match params.iter().rev().find(|(k, _)| k == "ef") {
        Some((_, v)) => int_param("ef", v, MAX_EF)?,
        None => DEFAULT_EF,
    };
    Ok(ef.max(keep))
}

/// A vector field that gets a graph.
pub(crate) struct GraphField {
    /// Schema position.
    pub field: usize,
    pub kind: IndexKind,
    pub metric: Metric,
    pub params: HnswParams,
}

/// The collection's vector fields with an approximate index.
pub(crate) fn graph_fields(entry: &CollectionEntry) -> Result<Vec<GraphField>> {
    let mut out = Vec::new();
    for spec in &entry.indexes {
        if spec.kind == IndexKind::Flat {
            continue;
        }
        let field = entry
            .schema
            .fields
            .iter()
            .position(|f| f.name == spec.field && f.dtype.is_vector());
        if let Some(field) = field {
            out.push(GraphField {
                field,
                kind: spec.kind,
                metric: spec.metric,
                params: build_params(spec)?,
            });
        }
    }
    Ok(out)
}

/// True when the part carries a graph for every field in `fields`.
pub(crate) fn covers(ann: &[AnnIndex], fields: &[GraphField]) -> bool {
    fields
        .iter()
        .all(|g| ann.iter().any(|a| a.field as usize == g.field))
}

/// Builds the graph (and SQ8 codes) of one field over a part's rows (`vectors`, row-major) and
/// pushes them into the commit. With `base`, the graph of this field over the first rows (same
/// params), only the rows after them are inserted into it.
pub(crate) fn build_sections(
    g: &GraphField,
    vectors: &[f32],
    dim: usize,
    base: Option<&HnswView>,
    b: &mut CommitBuilder,
) -> Result<AnnIndex> {
    // COSINE: the graph is built on unit rows (hnsw's contract); searches normalise with inv_norms.
    let unit: Vec<f32>;
    let rows = if g.metric == Metric::Cosine {
        unit = vectors
            .chunks_exact(dim)
            .flat_map(|v| {
                let inv = super::inv_norm(v);
                v.iter().map(move |x| x * inv)
            })
            .collect();
        &unit[..]
    } else {
        vectors
    };
    let index = match base {
        Some(base) => hnsw::extend(base, rows, dim, g.metric, &g.params)?,
        None => hnsw::build(rows, dim, g.metric, &g.params)?,
    };
    let graph = b.push(&index.to_bytes());
    let sq8 = match g.kind {
        IndexKind::HnswSq8 => Some(b.push(&hnsw::quantize(rows, dim)?.to_bytes())),
        _ => None,
    };
    Ok(AnnIndex {
        field: g.field as u32,
        graph,
        sq8,
    })
}
