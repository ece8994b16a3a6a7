//! The engine's side of approximate search: which Milvus index names get a graph, the build and
//! search parameters as Milvus names them, and building the sections a part carries.

use crate::dense::DenseRows;
use crate::error::{Error, Result};
use crate::format::{AnnIndex, CollectionEntry};
use crate::hnsw::{self, HnswIndex, HnswParams, HnswView, Rows};
use crate::kernels::{dot_many, inv_norm, norm_squared};
use crate::schema::{check_metric, CollectionSchema, DataType, IndexKind, IndexSpec, Metric};
use crate::search_params::HONOURED;
use crate::sparse::{Bm25Params, SparseMetric};
use crate::store::CommitBuilder;

/// Below this many live rows a collection gets no graph: an exact scan is as fast.
pub(crate) const MIN_GRAPH_ROWS: u64 = 1024;
/// A builder starts when the live rows outside the graph (the tail, which every search scans exactly)
/// exceed this fraction (in percent) of the indexed rows or `MAX_TAIL_ROWS / 2`, whichever is fewer.
pub(crate) const TAIL_PERCENT: u64 = 10;
/// A write never returns leaving more live rows than this outside the graph: past it, the writer waits
/// for a build (64 build batches; an exact scan of 16k x 384 rows is about 1.4 ms).
pub const MAX_TAIL_ROWS: u64 = 64 * hnsw::BATCH as u64;
/// A build rebuilds the graph when deleted rows inside it exceed this fraction (they still cost
/// traversal); the commit that passes it starts a builder.
pub(crate) const DELETED_PERCENT: u64 = 20;
/// Default layer-0 beam: `max(DEFAULT_EF, limit + offset)`.
const DEFAULT_EF: usize = 64;
/// Largest accepted `ef` and `efConstruction` (Milvus accepts up to 32768 for `ef`).
const MAX_EF: u64 = 32768;

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

/// Build parameters of the Milvus index types covec serves with an HNSW graph or an exact scan
/// (IVF, PQ, SCANN, DiskANN, quantizer refinement): the graph answers the same question without them, so
/// they are accepted and stored as given (describe_index shows them), never read.
const OTHER_BUILD_PARAMS: [&str; 12] = [
    "inverted_index_algo",
    "bm25_k1",
    "bm25_b",
    "nlist",
    "m",
    "nbits",
    "with_raw_data",
    "sq_type",
    "refine",
    "refine_type",
    "max_degree",
    "search_list_size",
];

/// M and efConstruction of an index spec (Milvus's names), with covec's defaults. Any other key must be
/// one of `OTHER_BUILD_PARAMS`: a misspelt parameter is refused, not built around.
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
            other if OTHER_BUILD_PARAMS.contains(&other) => {}
            other => {
                return Err(Error::invalid(format!(
                    "unknown index parameter '{other}' for index '{}'; covec reads M and efConstruction and accepts {}",
                    spec.index_name,
                    OTHER_BUILD_PARAMS.join(", ")
                )))
            }
        }
    }
    Ok(p)
}

/// Checks an index spec's build parameters and sets its kind from its Milvus index type, so a spec built
/// by hand means what its type says (`IndexKind::of_index_type`, which `IndexSpec::from_milvus` uses too).
pub(crate) fn normalise_spec(spec: &mut IndexSpec, schema: &CollectionSchema) -> Result<()> {
    let f = schema.field(&spec.field).ok_or_else(|| {
        Error::invalid(format!(
            "cannot create index on non-existent field '{}'",
            spec.field
        ))
    })?;
    spec.kind = IndexKind::of_index_type(&spec.index_type, f.dtype)?;
    check_metric(f, spec.metric)?;
    if spec.metric == Metric::Bm25 {
        bm25_params(Some(spec))?;
    }
    build_params(spec).map(|_| ())
}

/// The search beam: `ef` from the search params (Milvus's name), at least `keep`. `ef` is the only search
/// parameter the engine reads; any other is refused rather than ignored (the binding's `SearchParams`
/// already refused or dropped, with reasons, every key pymilvus can send).
pub(crate) fn search_ef(params: &[(String, String)], keep: usize) -> Result<usize> {
    if let Some((k, _)) = params.iter().find(|(k, _)| !HONOURED.contains(&k.as_str())) {
        return Err(Error::param(format!(
            "unknown search parameter '{k}'; the engine reads {}",
            HONOURED.join(", ")
        )));
    }
    let ef = match params.iter().rev().find(|(k, _)| k == "ef") {
        Some((_, v)) => int_param("ef", v, MAX_EF)?,
        None => DEFAULT_EF,
    };
    Ok(ef.max(keep))
}

/// The beam a codes walk of an HNSW or AUTOINDEX part keeps for a search's `ef`: an eighth wider, so that
/// after the exact re-rank its recall is at least the f32 walk's at `ef` (docs/ann.md, "The codes walk").
pub(crate) fn codes_walk_ef(ef: usize) -> usize {
    ef + ef.div_ceil(8)
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
        if !matches!(spec.kind, IndexKind::Hnsw | IndexKind::HnswSq8) {
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

/// The collection's sparse fields that get an inverted index in every part written, with its metric:
/// those with an index (SPARSE_INVERTED_INDEX, SPARSE_WAND, AUTOINDEX), and every BM25 function's output,
/// indexed or not, whose index holds the part's BM25 statistics (docs/sparse.md).
pub(crate) fn sparse_index_fields(entry: &CollectionEntry) -> Result<Vec<(usize, SparseMetric)>> {
    let schema = &entry.schema;
    let mut out = Vec::new();
    for (c, f) in schema.fields.iter().enumerate() {
        if f.dtype != DataType::SparseFloatVector {
            continue;
        }
        let spec = entry
            .indexes
            .iter()
            .find(|s| s.field == f.name && s.kind == IndexKind::SparseInverted);
        if f.is_function_output {
            out.push((c, SparseMetric::Bm25(bm25_params(spec)?)));
        } else if spec.is_some() {
            out.push((c, SparseMetric::Ip));
        }
    }
    Ok(out)
}

/// An index's BM25 `bm25_k1` and `bm25_b` (Milvus's names), defaults 1.2 and 0.75; None: no index.
pub(crate) fn bm25_params(spec: Option<&IndexSpec>) -> Result<Bm25Params> {
    let Some(spec) = spec else {
        return Ok(Bm25Params::default());
    };
    let defaults = Bm25Params::default();
    let k1 = float_param(&spec.params, "bm25_k1")?.unwrap_or(f64::from(defaults.k1));
    let b = float_param(&spec.params, "bm25_b")?.unwrap_or(f64::from(defaults.b));
    Bm25Params::new(k1, b)
}

/// A JSON-encoded number parameter (`1.2` or `"1.2"`), if given.
pub(crate) fn float_param(params: &[(String, String)], name: &str) -> Result<Option<f64>> {
    let Some((_, v)) = params.iter().rev().find(|(k, _)| k == name) else {
        return Ok(None);
    };
    serde_json::from_str::<serde_json::Value>(v)
        .ok()
        .and_then(|j| j.as_f64().or_else(|| j.as_str()?.trim().parse().ok()))
        .map(Some)
        .ok_or_else(|| Error::invalid(format!("{name} must be a number, got {v}")))
}

/// True when the part carries a graph for every field in `fields`.
pub(crate) fn covers(ann: &[AnnIndex], fields: &[GraphField]) -> bool {
    fields
        .iter()
        .all(|g| ann.iter().any(|a| a.field as usize == g.field))
}

/// One field's graph, built over a part's rows in insertion order, before the rows are stored.
pub(crate) struct BuiltGraph<'g> {
    field: &'g GraphField,
    index: HnswIndex,
    /// The rows' values in f32, in insertion order, unit rows for COSINE: what the graph walks for
    /// FLOAT_VECTOR (hnsw's contract; searches normalise stored rows with their inv_norms), and what
    /// the locality order and SQ8 codes are computed from for every type.
    rows: Vec<f32>,
    /// The field stores f32 rows (FLOAT_VECTOR): an HNSW graph over them also gets SQ8 codes to walk.
    f32_rows: bool,
    dim: usize,
}

/// A graph field's values in insertion order, as the field stores them (a null row as zeros).
pub(crate) enum GraphRows {
    F32(Vec<f32>),
    F16(Vec<u16>),
    BF16(Vec<u16>),
    I8(Vec<i8>),
}

/// Builds the graph of one field over a part's rows (in insertion order). With `base`, the graph of
/// this field over the first rows (same params), only the rows after them are inserted into it.
/// FLOAT_VECTOR graphs are built on unit copies for COSINE; the other types over their rows as
/// stored, normalised on the fly by their inverse norms.
pub(crate) fn build_graph<'g>(
    g: &'g GraphField,
    rows: GraphRows,
    dim: usize,
    base: Option<&HnswView>,
) -> Result<BuiltGraph<'g>> {
    let normalise = |vectors: &mut Vec<f32>| {
        if g.metric == Metric::Cosine {
            for v in vectors.chunks_exact_mut(dim) {
                let inv = inv_norm(v);
                v.iter_mut().for_each(|x| *x *= inv);
            }
        }
    };
    let f32_rows = matches!(rows, GraphRows::F32(_));
    let (index, vectors) = match rows {
        GraphRows::F32(mut vectors) => {
            normalise(&mut vectors);
            let index = match base {
                Some(base) => hnsw::extend(base, &vectors, dim, g.metric, &g.params)?,
                None => hnsw::build(&vectors, dim, g.metric, &g.params)?,
            };
            (index, vectors)
        }
        typed => {
            let stored = match &typed {
                GraphRows::F16(v) => DenseRows::F16(v),
                GraphRows::BF16(v) => DenseRows::BF16(v),
                GraphRows::I8(v) => DenseRows::I8(v),
                GraphRows::F32(v) => DenseRows::F32(v),
            };
            let n = stored.len() / dim.max(1);
            let mut vectors = Vec::with_capacity(n * dim);
            (0..n).for_each(|i| stored.extend_f32(dim, i, &mut vectors));
            let inv_norms: Vec<f32> = vectors.chunks_exact(dim).map(inv_norm).collect();
            let rows = Rows {
                vectors: stored,
                inv_norms: (g.metric == Metric::Cosine).then_some(&inv_norms[..]),
            };
            let index = hnsw::build_rows(rows, dim, g.metric, &g.params, base)?;
            normalise(&mut vectors);
            (index, vectors)
        }
    };
    Ok(BuiltGraph {
        field: g,
        index,
        rows: vectors,
        f32_rows,
        dim,
    })
}

impl BuiltGraph<'_> {
    /// Where each row is stored, by insertion position: see `locality_order`.
    pub(crate) fn storage_slots(&self) -> Vec<u32> {
        locality_order(&self.rows, self.dim)
    }

    /// Pushes the graph, renumbered to the rows' storage `slots`, and the SQ8 codes of the rows in
    /// storage order, into the commit. HNSW_SQ needs its codes (rows that do not quantize are an
    /// error); an HNSW graph over f32 rows gets them when the rows quantize, and is walked on its
    /// f32 rows otherwise.
    pub(crate) fn push(self, slots: &[u32], b: &mut CommitBuilder) -> Result<AnnIndex> {
        let graph = b.push(&self.index.renumbered(slots).to_bytes());
        let codes = || hnsw::quantize(&in_storage_order(&self.rows, self.dim, slots), self.dim);
        let sq8 = match self.field.kind {
            IndexKind::HnswSq8 => Some(codes()?),
            IndexKind::Hnsw if self.f32_rows => codes().ok(),
            _ => None,
        };
        let sq8 = sq8.map(|codes| b.push(&codes.to_bytes()));
        Ok(AnnIndex {
            field: self.field.field as u32,
            graph,
            sq8,
        })
    }
}

/// `rows` (row-major, `dim` wide) with row `i` moved to `slots[i]`.
fn in_storage_order(rows: &[f32], dim: usize, slots: &[u32]) -> Vec<f32> {
    let mut out = vec![0.0; rows.len()];
    for (v, &slot) in rows.chunks_exact(dim).zip(slots) {
        let at = slot as usize * dim;
        out[at..at + dim].copy_from_slice(v);
    }
    out
}

/// Rows scored together against every sampled row: they stay in cache while the samples stream past.
const LOCALITY_BLOCK: usize = 256;

/// The storage slot of each row (by insertion position) in an order that keeps rows near in space
/// near in memory: rows grouped by the nearest (L2) of sqrt(n) rows sampled evenly, groups in sample
/// order, each group in insertion order. A graph walk visits rows near the query, so a first query in
/// a fresh process faults in far fewer pages than over rows in insertion order (bench/locality.py:
/// 133 against 1,321 64 KiB chunks a query on synth1m). A pure function of the rows.
fn locality_order(rows: &[f32], dim: usize) -> Vec<u32> {
    let n = rows.len() / dim;
    if n == 0 {
        return Vec::new();
    }
    let samples = (n as f64).sqrt() as usize;
    let centres: Vec<f32> = (0..samples)
        .flat_map(|i| {
            let r = i * n / samples;
            rows[r * dim..(r + 1) * dim].iter().copied()
        })
        .collect();
    // The nearest centre c maximises x.c - |c|^2 / 2.
    let half_norms: Vec<f32> = centres
        .chunks_exact(dim)
        .map(|c| norm_squared(c) / 2.0)
        .collect();
    let nearest_in = |block: &[f32], out: &mut [u32]| {
        let mut best = vec![f32::NEG_INFINITY; out.len()];
        let mut scores = vec![0.0; out.len()];
        for (ci, (c, half)) in centres.chunks_exact(dim).zip(&half_norms).enumerate() {
            dot_many(c, block, dim, &mut scores);
            for ((s, b), o) in scores.iter().zip(&mut best).zip(out.iter_mut()) {
                if s - half > *b {
                    *b = s - half;
                    *o = ci as u32;
                }
            }
        }
    };
    let mut group = vec![0u32; n];
    let per_thread = n.div_ceil(super::cores()).next_multiple_of(LOCALITY_BLOCK);
    std::thread::scope(|s| {
        for (rows, group) in rows
            .chunks(per_thread * dim)
            .zip(group.chunks_mut(per_thread))
        {
            s.spawn(move || {
                for (block, out) in rows
                    .chunks(LOCALITY_BLOCK * dim)
                    .zip(group.chunks_mut(LOCALITY_BLOCK))
                {
                    nearest_in(block, out);
                }
            });
        }
    });
    let mut by_group: Vec<u32> = (0..n as u32).collect();
    by_group.sort_by_key(|&i| group[i as usize]); // stable: insertion order within a group
    let mut slots = vec![0u32; n];
    for (slot, &i) in by_group.iter().enumerate() {
        slots[i as usize] = slot as u32;
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::{locality_order, normalise_spec, search_ef};
    use crate::hnsw::not_once;
    use crate::schema::{CollectionSchema, DataType, FieldSchema, IndexKind, IndexSpec, Metric};

    fn schema() -> CollectionSchema {
        let mut id = FieldSchema::new("id", DataType::Int64);
        id.is_primary = true;
        let mut v = FieldSchema::new("v", DataType::FloatVector);
        v.dim = Some(4);
        let mut b = FieldSchema::new("b", DataType::BinaryVector);
        b.dim = Some(16);
        let s = FieldSchema::new("s", DataType::SparseFloatVector);
        CollectionSchema::new(vec![id, v, b, s], "", false)
    }

    fn spec(index_type: &str, params: &[(&str, &str)]) -> IndexSpec {
        IndexSpec {
            field: "v".into(),
            index_name: "v".into(),
            index_type: index_type.into(),
            kind: IndexKind::Flat,
            metric: Metric::L2,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_spec_means_what_its_index_type_says_and_misspelt_params_are_refused() {
        let mut s = spec("hnsw_sq", &[("M", "8"), ("nlist", "128")]);
        normalise_spec(&mut s, &schema()).unwrap();
        assert_eq!(s.kind, IndexKind::HnswSq8);
        let err =
            normalise_spec(&mut spec("HNSW", &[("efconstruction", "64")]), &schema()).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown index parameter 'efconstruction'"),
            "{err}"
        );
        assert!(normalise_spec(&mut spec("FOO", &[]), &schema()).is_err());
    }

    /// Each vector type takes its own index types and metrics, as Milvus's; the rest are refused
    /// naming what fits.
    #[test]
    fn index_types_and_metrics_fit_the_field_type() {
        let on = |field: &str, index_type: &str, metric: Metric| {
            let mut s = spec(index_type, &[]);
            s.field = field.into();
            s.metric = metric;
            normalise_spec(&mut s, &schema()).map(|_| s.kind)
        };
        assert_eq!(
            on("b", "BIN_IVF_FLAT", Metric::Jaccard).unwrap(),
            IndexKind::Flat
        );
        assert_eq!(
            on("b", "BIN_FLAT", Metric::Hamming).unwrap(),
            IndexKind::Flat
        );
        assert_eq!(
            on("s", "SPARSE_WAND", Metric::Ip).unwrap(),
            IndexKind::SparseInverted
        );
        assert_eq!(
            on("s", "AUTOINDEX", Metric::Ip).unwrap(),
            IndexKind::SparseInverted
        );
        let err = on("b", "HNSW", Metric::Hamming).unwrap_err().to_string();
        assert!(
            err.contains("does not fit a BINARY_VECTOR field") && err.contains("BIN_FLAT"),
            "{err}"
        );
        let err = on("v", "BIN_FLAT", Metric::L2).unwrap_err().to_string();
        assert!(err.contains("does not fit a FLOAT_VECTOR field"), "{err}");
        let err = on("v", "HNSW", Metric::Hamming).unwrap_err().to_string();
        assert!(
            err.contains("HAMMING is not valid for FLOAT_VECTOR field 'v'"),
            "{err}"
        );
        let err = on("s", "SPARSE_INVERTED_INDEX", Metric::Bm25)
            .unwrap_err()
            .to_string();
        assert!(err.contains("BM25 function"), "{err}");
        assert!(on("s", "SPARSE_INVERTED_INDEX", Metric::L2).is_err());
    }

    #[test]
    fn the_engine_reads_ef_and_refuses_other_search_parameters() {
        assert_eq!(search_ef(&[("ef".into(), "100".into())], 10).unwrap(), 100);
        assert_eq!(search_ef(&[], 200).unwrap(), 200);
        let err = search_ef(&[("radius".into(), "1.0".into())], 10).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown search parameter 'radius'"),
            "{err}"
        );
    }

    /// Rows of well-separated clusters, inserted round-robin (cluster `i % clusters`).
    fn round_robin(n: usize, dim: usize, clusters: usize) -> Vec<f32> {
        let mut state = 7u64;
        let mut noise = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        (0..n)
            .flat_map(|i| (0..dim).map(move |j| (j == i % clusters) as u8))
            .map(|hot| f32::from(hot) * 10.0 + noise())
            .collect()
    }

    #[test]
    fn rows_of_a_cluster_are_stored_together() {
        let (n, dim, clusters) = (4000, 16, 10);
        let rows = round_robin(n, dim, clusters);
        let slots = locality_order(&rows, dim);
        assert_eq!(
            not_once(&slots),
            None,
            "slots are a permutation of the rows"
        );
        let mut by_slot = vec![0; n];
        for (i, &s) in slots.iter().enumerate() {
            by_slot[s as usize] = i % clusters;
        }
        // Insertion order changes cluster at every row; each group of the sqrt(n) = 63 samples is one
        // cluster, so storage order changes cluster fewer than 63 times.
        let changes = by_slot.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(
            changes < 63,
            "{changes} cluster changes along the stored rows"
        );
        assert_eq!(
            locality_order(&rows, dim),
            slots,
            "a pure function of the rows"
        );
    }
}
