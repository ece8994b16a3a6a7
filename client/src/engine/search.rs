//! Search: planning each part once per call (which rows may be hits, graph walk, inverted index or
//! exact scan), the exact scan (blocked, split across cores when large), and the top-k merge of every
//! part's best. Dense vectors of every element type are scored in place (`dense`), binary vectors by
//! popcount, sparse vectors through the part's inverted index (`sparse`) or row by row.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::part::{bit, slice, VectorColumn};
use super::read::RowRef;
use super::request::QueryVectors;
use super::{ann, cores, corrupt, CollectionView, Hit, RowId, SearchRequest};
use crate::dense::DenseQuery;
use crate::error::{Error, Result};
use crate::format::TextIndex;
use crate::fulltext::FullText;
use crate::hnsw::{self, HnswView, Rows, Sq8View, Strategy};
use crate::kernels::{self, inv_norm, scalar};
use crate::rowview::RowFilter;
use crate::schema::{DataType, FieldSchema, IndexKind, IndexSpec, Metric};
use crate::sparse::{
    drop_small_terms, term_frequencies, Bm25Params, Bm25Stats, Bm25StatsView, Scoring,
    SparseIndexView, SparseVector,
};
use crate::text::term_id;

/// One query vector as the searched field's rows score it.
enum Query<'q> {
    Dense(DenseQuery),
    Binary(&'q [u8]),
    /// A sparse vector scored by inner product, or a BM25 query's term weights scored by BM25.
    Sparse(SparseVector, Scoring),
}

impl CollectionView<'_> {
    /// The best `limit` hits after `offset` per query vector, best first: graph walks in parts with a
    /// graph, exact scans elsewhere. `request.filter` is not read: the caller compiles it.
    pub fn search(
        &self,
        request: &SearchRequest,
        filter: Option<&dyn RowFilter>,
    ) -> Result<Vec<Vec<Hit>>> {
        let schema = &self.entry.schema;
        let c = match &request.anns_field {
            Some(name) => {
                let c = self.field_index(name).ok_or_else(|| {
                    Error::invalid(format!("anns_field '{name}' not found in schema"))
                })?;
                if !schema.fields[c].dtype.is_vector() {
                    return Err(Error::invalid(format!(
                        "anns_field '{name}' is not a vector field (dtype={})",
                        schema.fields[c].dtype.name()
                    )));
                }
                c
            }
            None => {
                let vectors: Vec<usize> = (0..schema.fields.len())
                    .filter(|&c| schema.fields[c].dtype.is_vector())
                    .collect();
                match vectors[..] {
                    [c] => c,
                    [] => return Err(corrupt("schema without vector field")),
                    _ => {
                        let names: Vec<&str> = vectors
                            .iter()
                            .map(|&c| schema.fields[c].name.as_str())
                            .collect();
                        return Err(Error::invalid(format!(
                            "multiple anns_fields exist, please specify a anns_field in search_params \
                             (the collection's vector fields: {})",
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        let field = &schema.fields[c];
        let spec = self.entry.indexes.iter().find(|i| i.field == field.name);
        let metric = match (request.metric, spec.map(|i| i.metric)) {
            (Some(m), Some(i)) if m != i => {
                return Err(Error::invalid(format!(
                    "metric type {} does not match the index metric {} of field '{}'",
                    m.name(),
                    i.name(),
                    field.name
                )))
            }
            (Some(m), _) => m,
            (None, Some(i)) => i,
            (None, None) if field.is_function_output => Metric::Bm25,
            (None, None) => default_metric(field.dtype),
        };
        if field.is_function_output && metric != Metric::Bm25 {
            return Err(Error::invalid_code(
                1100,
                format!(
                    "field '{}' is the output of a BM25 function: search it with metric BM25, got {}",
                    field.name,
                    metric.name()
                ),
            ));
        }
        if !metric.accepts(field.dtype) {
            return Err(Error::invalid(format!(
                "metric type {} is not valid for {} field '{}'; use {}",
                metric.name(),
                field.dtype.name(),
                field.name,
                metrics_for(field.dtype)
            )));
        }
        if request.limit == 0 {
            return Err(Error::invalid("search limit must be at least 1"));
        }
        let queries = if field.is_function_output {
            self.bm25_queries(c, spec, request)?
        } else {
            queries(field, metric, request)?
        };
        let pk_name = &schema.fields[self.pk_col].name;
        let with_pk = request.output.names.iter().any(|n| n == pk_name);
        let keep = request.limit.saturating_add(request.offset);
        let graph_kind = spec.map_or(IndexKind::Flat, |s| s.kind);
        let ef = ann::search_ef(&request.params, keep)?;
        let dim = field.dim.unwrap_or(0) as usize;
        let plans = (0..self.parts.len())
            .map(|pi| self.plan_part(pi, c, dim, metric, graph_kind, filter))
            .collect::<Result<Vec<_>>>()?;
        let mut results = Vec::with_capacity(queries.len());
        let mut scratch = Vec::new();
        for q in &queries {
            let mut top = TopK::new(keep);
            for plan in &plans {
                plan.search(q, metric, keep, ef, &mut top, &mut scratch)?;
            }
            let hits = top
                .into_sorted()
                .into_iter()
                .skip(request.offset)
                .map(|(rank, id)| {
                    Ok(Hit {
                        id: self.pk(id)?,
                        distance: rank.distance(metric),
                        entity: self.output_row(id, &request.output, with_pk)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            results.push(hits);
        }
        Ok(results)
    }

    /// Decides, once per search call, how part `pi` is searched: which rows may be hits (the filter is
    /// evaluated here, once for all query vectors) and whether its graph is walked.
    fn plan_part(
        &self,
        pi: usize,
        c: usize,
        dim: usize,
        metric: Metric,
        graph_kind: IndexKind,
        filter: Option<&dyn RowFilter>,
    ) -> Result<PartPlan<'_>> {
        let part = &self.parts[pi];
        let col = &part.cols[c];
        let Some(vectors) = col.vectors() else {
            return Err(corrupt("vector column without vectors"));
        };
        let short = match vectors {
            VectorColumn::Dense { rows, inv_norms } => {
                rows.len() < part.rows * dim || inv_norms.len() < part.rows
            }
            VectorColumn::Binary { width, data } => data.len() < part.rows * width,
            VectorColumn::Sparse(view) => view.len() != part.rows,
        };
        if short {
            return Err(corrupt("vector column shorter than its part"));
        }
        let eligible = match filter {
            None => Eligible::Live,
            Some(f) => {
                let text = self.text_answers(pi, f)?;
                let mut bits = vec![0u64; part.rows.div_ceil(64)];
                let mut count = 0;
                for row in 0..part.rows {
                    let ok = part.is_live(row)
                        && col.validity.is_none_or(|v| bit(v, row))
                        && f.matches(&RowRef {
                            view: self,
                            id: RowId { part: pi, row },
                            text: &text,
                        });
                    if ok {
                        bits[row / 64] |= 1 << (row % 64);
                        count += 1;
                    }
                }
                Eligible::Bits { bits, count }
            }
        };
        let mut plan = PartPlan {
            pi,
            rows: part.rows,
            dim,
            vectors,
            deleted: part.deleted,
            validity: col.validity,
            eligible,
            graph: None,
            sparse_index: None,
        };
        // A BM25 output's parts always carry its index (it holds their statistics), indexed by the user or not.
        if graph_kind == IndexKind::SparseInverted || self.entry.schema.fields[c].is_function_output
        {
            let index = part
                .text
                .iter()
                .find(|t| t.field as usize == c && t.kind == TextIndex::SPARSE);
            if let Some(t) = index {
                plan.sparse_index = Some(SparseIndexView::wrap(
                    slice(self.image, &t.index)?,
                    part.rows,
                )?);
            }
            return Ok(plan);
        }
        let ann = part.ann.iter().find(|a| a.field as usize == c);
        let dense = matches!(vectors, VectorColumn::Dense { .. });
        if let (Some(ann), true) = (ann, dense && graph_kind != IndexKind::Flat) {
            let use_graph = match &plan.eligible {
                Eligible::Live => true,
                Eligible::Bits { count, .. } => {
                    hnsw::recommended_strategy(part.rows, *count) == Strategy::Graph
                }
            };
            if use_graph {
                let view = HnswView::wrap(slice(self.image, &ann.graph)?, part.rows)?;
                // A graph built for another metric (index dropped and re-created) is not used.
                if view.metric() == metric && view.dim() == dim {
                    let sq8 = match (&ann.sq8, graph_kind) {
                        (Some(s), IndexKind::HnswSq8) => {
                            Some(Sq8View::from_bytes(slice(self.image, s)?, part.rows)?)
                        }
                        _ => None,
                    };
                    plan.graph = Some((view, sq8));
                }
            }
        }
        Ok(plan)
    }
}

/// An f32 score ordered so that larger is a better hit, NaN worst.
#[derive(Clone, Copy, PartialEq)]
struct Rank(f32);
impl Rank {
    /// A reported distance as a rank: L2 distances are better smaller, similarities larger.
    fn of(metric: Metric, distance: f32) -> Rank {
        Rank(if metric.higher_is_better() {
            distance
        } else {
            -distance
        })
    }

    /// The reported distance this rank came from.
    fn distance(self, metric: Metric) -> f32 {
        if metric.higher_is_better() {
            self.0
        } else {
            -self.0
        }
    }
}
impl Eq for Rank {}
impl PartialOrd for Rank {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Rank {
    fn cmp(&self, o: &Self) -> Ordering {
        let key = |x: f32| if x.is_nan() { f32::NEG_INFINITY } else { x };
        key(self.0).total_cmp(&key(o.0))
    }
}

/// Rows-per-call of the blocked exact scan: a few KiB of scores, vectors streamed once.
const BLOCK: usize = 256;

/// Which rows of a part may be hits.
enum Eligible {
    /// No filter: live rows with a vector, read from the part's bitmaps.
    Live,
    /// Rows the filter accepted (live, with a vector).
    Bits { bits: Vec<u64>, count: usize },
}

/// One part, ready to answer any number of query vectors.
struct PartPlan<'a> {
    pi: usize,
    rows: usize,
    dim: usize,
    vectors: VectorColumn<'a>,
    deleted: Option<&'a [u8]>,
    validity: Option<&'a [u8]>,
    eligible: Eligible,
    graph: Option<(HnswView<'a>, Option<Sq8View<'a>>)>,
    sparse_index: Option<SparseIndexView<'a>>,
}

impl PartPlan<'_> {
    fn eligible(&self, row: usize) -> bool {
        match &self.eligible {
            Eligible::Live => {
                !self.deleted.is_some_and(|d| bit(d, row))
                    && self.validity.is_none_or(|v| bit(v, row))
            }
            Eligible::Bits { bits, .. } => bits[row / 64] >> (row % 64) & 1 == 1,
        }
    }

    /// Offers this part's best `keep` rows for `q` to `top`.
    fn search(
        &self,
        q: &Query,
        metric: Metric,
        keep: usize,
        ef: usize,
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) -> Result<()> {
        let id = |row: usize| RowId { part: self.pi, row };
        let all = matches!(self.eligible, Eligible::Live)
            && self.deleted.is_none()
            && self.validity.is_none();
        let accept = |r: u32| self.eligible(r as usize);
        let filter: Option<&dyn Fn(u32) -> bool> = if all { None } else { Some(&accept) };
        let dim = self.dim;
        match (q, self.vectors) {
            (Query::Dense(q), VectorColumn::Dense { rows, inv_norms }) => {
                if let Some((graph, sq8)) = &self.graph {
                    let rows = Rows {
                        vectors: rows,
                        inv_norms: (metric == Metric::Cosine).then_some(inv_norms),
                    };
                    let v = &q.values;
                    let hits = match sq8 {
                        Some(codes) => {
                            graph.search_sq8_rows(codes, Some(rows), v, keep, ef, filter)?
                        }
                        None => graph.search_rows(rows, v, keep, ef, filter)?,
                    };
                    for (r, d) in hits {
                        top.offer(Rank::of(metric, d), id(r as usize));
                    }
                    return Ok(());
                }
                let q_inv = inv_norm(&q.values);
                let distance = |raw: f32, row: usize| {
                    Some(match metric {
                        Metric::Cosine => raw * q_inv * inv_norms[row],
                        _ => raw,
                    })
                };
                let score = |start: usize, out: &mut [f32]| {
                    rows.raw_many(metric, dim, q, start, out);
                };
                self.exact(
                    metric,
                    keep,
                    rows.elem().width() * dim,
                    &score,
                    &distance,
                    top,
                    scratch,
                )
            }
            (Query::Binary(q), VectorColumn::Binary { width, data }) => {
                let binary = kernels::dispatched_binary();
                let score = |start: usize, out: &mut [f32]| {
                    for (i, o) in out.iter_mut().enumerate() {
                        let row = &data[(start + i) * width..(start + i + 1) * width];
                        *o = match metric {
                            Metric::Jaccard => kernels::jaccard(q, row),
                            _ => binary.hamming(q, row) as f32,
                        };
                    }
                };
                self.exact(
                    metric,
                    keep,
                    width,
                    &score,
                    &|raw, _| Some(raw),
                    top,
                    scratch,
                )
            }
            (Query::Sparse(q, scoring), VectorColumn::Sparse(view)) => {
                let scoring = *scoring;
                if let Some(index) = &self.sparse_index {
                    for (r, d) in index.search(q.view(), scoring, keep, filter)? {
                        top.offer(Rank::of(metric, d), id(r as usize));
                    }
                    return Ok(());
                }
                // No index (the field has none, or the part predates it): every row scored; as with
                // the index, only rows scoring above 0 are hits.
                let damaged = std::sync::atomic::AtomicBool::new(false);
                let score = |start: usize, out: &mut [f32]| {
                    for (i, o) in out.iter_mut().enumerate() {
                        *o = match view.row(start + i) {
                            Ok(row) => scoring.score(q.view(), row),
                            Err(_) => {
                                damaged.store(true, std::sync::atomic::Ordering::Relaxed);
                                0.0
                            }
                        };
                    }
                };
                let positive = |raw: f32, _| (raw > 0.0).then_some(raw);
                self.exact(metric, keep, 8, &score, &positive, top, scratch)?;
                if damaged.into_inner() {
                    return Err(corrupt("a sparse row's offsets are damaged"));
                }
                Ok(())
            }
            _ => Err(Error::Internal(
                "a query of another vector type than its column".into(),
            )),
        }
    }

    /// Offers every eligible row to `top`: `score(start, out)` gives the raw values of rows
    /// `start..start + out.len()`, `distance(raw, row)` the reported distance (None: not a hit). A
    /// sparse filter scores just its rows; a scan of more than `SCAN_BYTES_PER_THREAD` (at
    /// `row_bytes` a row) is split across threads.
    #[allow(clippy::too_many_arguments)]
    fn exact(
        &self,
        metric: Metric,
        keep: usize,
        row_bytes: usize,
        score: &(dyn Fn(usize, &mut [f32]) + Sync),
        distance: &(dyn Fn(f32, usize) -> Option<f32> + Sync),
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) -> Result<()> {
        let id = |row: usize| RowId { part: self.pi, row };
        let sparse = match &self.eligible {
            Eligible::Bits { count, .. } => count.saturating_mul(4) < self.rows,
            Eligible::Live => false,
        };
        if let (true, Eligible::Bits { bits, .. }) = (sparse, &self.eligible) {
            // Few matches: score just them.
            let mut raw = [0.0f32];
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let row = w * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    score(row, &mut raw);
                    if let Some(d) = distance(raw[0], row) {
                        top.offer(Rank::of(metric, d), id(row));
                    }
                }
            }
            return Ok(());
        }
        let threads = scan_threads(self.rows.saturating_mul(row_bytes));
        if threads == 1 {
            self.scan(metric, 0..self.rows, score, distance, top, scratch);
            return Ok(());
        }
        // One query's scan split into row ranges, one thread each (the vectors stream faster from
        // several cores than from one); each keeps its own best, and the total order of (rank, row)
        // makes the merged best the rows a single scan keeps.
        let chunk = self.rows.div_ceil(threads).next_multiple_of(BLOCK);
        let bests = std::thread::scope(|s| {
            let scans: Vec<_> = (0..self.rows)
                .step_by(chunk)
                .map(|start| {
                    s.spawn(move || {
                        let mut best = TopK::new(keep);
                        let rows = start..(start + chunk).min(self.rows);
                        self.scan(metric, rows, score, distance, &mut best, &mut Vec::new());
                        best
                    })
                })
                .collect();
            scans.into_iter().map(|t| t.join()).collect::<Vec<_>>()
        });
        for best in bests {
            let best = best.map_err(|_| Error::Internal("an exact scan thread panicked".into()))?;
            for (rank, row) in best.into_sorted() {
                top.offer(rank, row);
            }
        }
        Ok(())
    }

    /// Offers every eligible row of `rows` to `top`, scored block by block.
    fn scan(
        &self,
        metric: Metric,
        rows: std::ops::Range<usize>,
        score: &(dyn Fn(usize, &mut [f32]) + Sync),
        distance: &(dyn Fn(f32, usize) -> Option<f32> + Sync),
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) {
        for start in rows.clone().step_by(BLOCK) {
            let end = (start + BLOCK).min(rows.end);
            scratch.resize(end - start, 0.0);
            score(start, scratch);
            for (i, &raw) in scratch.iter().enumerate() {
                let row = start + i;
                if self.eligible(row) {
                    if let Some(d) = distance(raw, row) {
                        top.offer(Rank::of(metric, d), RowId { part: self.pi, row });
                    }
                }
            }
        }
    }
}

/// The metric a search of a field without an index uses: Milvus's default for the type.
fn default_metric(dtype: DataType) -> Metric {
    match dtype {
        DataType::BinaryVector => Metric::Hamming,
        DataType::SparseFloatVector => Metric::Ip,
        _ => Metric::Cosine,
    }
}

/// The metrics a field of type `dtype` takes, for messages.
pub(crate) fn metrics_for(dtype: DataType) -> String {
    [
        Metric::L2,
        Metric::Ip,
        Metric::Cosine,
        Metric::Hamming,
        Metric::Jaccard,
        Metric::Bm25,
    ]
    .iter()
    .filter(|m| m.accepts(dtype))
    .map(|m| m.name())
    .collect::<Vec<_>>()
    .join(", ")
}

/// The request's query vectors, checked against field `f` and prepared as its rows score them:
/// float16 and bfloat16 queries are rounded to the field's type (as Milvus converts float32 queries),
/// int8 queries must hold int8 values, binary queries dim/8 bytes, sparse queries lose their small
/// terms to `drop_ratio_search`.
fn queries<'r>(
    f: &FieldSchema,
    metric: Metric,
    request: &'r SearchRequest,
) -> Result<Vec<Query<'r>>> {
    let dim = f.dim.unwrap_or(0) as usize;
    let nq = request.nq;
    let count_error = |got: usize, unit: &str, per: usize| {
        Error::invalid(format!(
            "search got {got} {unit} for {nq} query vectors, but field '{}' ({}, dim {dim}) takes \
             {per} {unit} a vector",
            f.name,
            f.dtype.name()
        ))
    };
    let wrong_kind = || {
        Error::invalid(format!(
            "field '{}' is a {}; search it with {} query vectors",
            f.name,
            f.dtype.name(),
            match f.dtype {
                DataType::BinaryVector => "binary (bytes or uint8)",
                DataType::SparseFloatVector => "sparse (dict or scipy sparse row)",
                _ => "dense (lists or numpy arrays)",
            }
        ))
    };
    if let QueryVectors::Text(_) = request.vectors {
        return Err(Error::invalid(format!(
            "query text searches the output field of a BM25 function; {}",
            wrong_kind()
        )));
    }
    let drop_ratio = drop_ratio(&request.params)?;
    if drop_ratio.is_some() && f.dtype != DataType::SparseFloatVector {
        return Err(Error::invalid(format!(
            "drop_ratio_search applies to sparse vector fields; '{}' is a {}",
            f.name,
            f.dtype.name()
        )));
    }
    Ok(match (&request.vectors, f.dtype) {
        (QueryVectors::Dense(values), t)
            if t != DataType::BinaryVector && t != DataType::SparseFloatVector =>
        {
            if nq == 0 || values.len() != nq.saturating_mul(dim) {
                return Err(count_error(values.len(), "values", dim));
            }
            let round: fn(f32) -> f32 = match t {
                DataType::Float16Vector => |x| scalar::f16_to_f32(scalar::f32_to_f16(x)),
                DataType::BFloat16Vector => |x| scalar::bf16_to_f32(scalar::f32_to_bf16(x)),
                _ => |x| x,
            };
            if t == DataType::Int8Vector {
                if let Some(x) = values
                    .iter()
                    .find(|x| !(x.fract() == 0.0 && (-128.0..=127.0).contains(*x)))
                {
                    return Err(Error::invalid(format!(
                        "INT8_VECTOR field '{}' is searched with int8 values (-128 to 127), got {x}; \
                         pass numpy int8 arrays",
                        f.name
                    )));
                }
            }
            let _ = metric;
            values
                .chunks_exact(dim)
                .map(|q| Query::Dense(DenseQuery::new(q.iter().map(|&x| round(x)).collect())))
                .collect()
        }
        (QueryVectors::Binary(bytes), DataType::BinaryVector) => {
            let width = dim / 8;
            if nq == 0 || bytes.len() != nq.saturating_mul(width) {
                return Err(count_error(bytes.len(), "bytes", width));
            }
            bytes.chunks_exact(width).map(Query::Binary).collect()
        }
        (QueryVectors::Sparse(vectors), DataType::SparseFloatVector) => {
            if vectors.is_empty() || vectors.len() != nq {
                return Err(count_error(vectors.len(), "sparse vectors", 1));
            }
            vectors
                .iter()
                .map(|v| {
                    Ok(Query::Sparse(
                        drop_small_terms(v, drop_ratio.unwrap_or(0.0))?,
                        Scoring::Ip,
                    ))
                })
                .collect::<Result<Vec<_>>>()?
        }
        _ => return Err(wrong_kind()),
    })
}

impl CollectionView<'_> {
    /// The BM25 queries of a search of field `c`, a BM25 function's output: each query text analyzed by the
    /// function's analyzer (`analyzer_name` picks one of a multi-analyzer field's), its term frequencies
    /// weighed by the collection's statistics for their terms (summed over the parts, less their deleted
    /// rows), `drop_ratio_search` applied to the weights; scored with `bm25_k1`/`bm25_b` from the search
    /// parameters, else the index's, else 1.2 and 0.75.
    fn bm25_queries(
        &self,
        c: usize,
        spec: Option<&IndexSpec>,
        request: &SearchRequest,
    ) -> Result<Vec<Query<'static>>> {
        let field = &self.entry.schema.fields[c];
        let texts = match &request.vectors {
            QueryVectors::Text(texts) => texts,
            _ => {
                return Err(Error::invalid_code(
                    1100,
                    format!(
                        "field '{}' is the output of a BM25 function: search it with query text \
                         (data=[\"words to find\"]), not vectors",
                        field.name
                    ),
                ))
            }
        };
        if texts.is_empty() || texts.len() != request.nq {
            return Err(Error::invalid(format!(
                "search got {} query texts for {} queries",
                texts.len(),
                request.nq
            )));
        }
        let full_text = FullText::of(&self.entry.schema)?;
        let function = full_text
            .function_of(c)
            .ok_or_else(|| Error::Internal(format!("no BM25 function fills '{}'", field.name)))?;
        let analyzer = function
            .analyzer
            .for_search(string_param(&request.params, "analyzer_name")?.as_deref())?;
        let frequencies: Vec<SparseVector> = texts
            .iter()
            .map(|t| term_frequencies(analyzer.tokens(t).iter().map(|t| term_id(&t.text))))
            .collect();
        let mut terms: Vec<u32> = frequencies
            .iter()
            .flat_map(|f| f.indices().iter().copied())
            .collect();
        terms.sort_unstable();
        terms.dedup();
        let stats = self.bm25_stats(c, &terms)?;
        let index = ann::bm25_params(spec)?;
        let k1 = ann::float_param(&request.params, "bm25_k1")?.unwrap_or(f64::from(index.k1));
        let b = ann::float_param(&request.params, "bm25_b")?.unwrap_or(f64::from(index.b));
        let scoring = Scoring::bm25(Bm25Params::new(k1, b)?, stats.avgdl())?;
        let ratio = drop_ratio(&request.params)?.unwrap_or(0.0);
        frequencies
            .iter()
            .map(|f| {
                let weights = drop_small_terms(&stats.weigh_query(f.view()), ratio)?;
                Ok(Query::Sparse(weights, scoring))
            })
            .collect()
    }

    /// The collection's BM25 statistics of field `c` for `terms`: each part's (from its BM25 index) less
    /// its deleted rows' (the index's `stats` section).
    fn bm25_stats(&self, c: usize, terms: &[u32]) -> Result<Bm25Stats> {
        let mut total = Bm25Stats::default();
        for part in &self.parts {
            let t = part
                .text
                .iter()
                .find(|t| t.field as usize == c && t.kind == TextIndex::SPARSE)
                .ok_or_else(|| corrupt("a part lacks the BM25 index of its function output"))?;
            let index = SparseIndexView::wrap(slice(self.image, &t.index)?, part.rows)?;
            total.add(&index.stats_for(terms)?);
            if let Some(s) = &t.stats {
                let deleted = Bm25StatsView::wrap(slice(self.image, s)?)?.stats_for(terms)?;
                total
                    .subtract(&deleted)
                    .map_err(|e| corrupt(format!("a part's deleted BM25 statistics: {e}")))?;
            }
        }
        Ok(total)
    }
}

/// A string search parameter (`analyzer_name`), if given.
fn string_param(params: &[(String, String)], name: &str) -> Result<Option<String>> {
    let Some((_, v)) = params.iter().rev().find(|(k, _)| k == name) else {
        return Ok(None);
    };
    match serde_json::from_str::<serde_json::Value>(v) {
        Ok(serde_json::Value::String(s)) => Ok(Some(s)),
        _ => Err(Error::invalid(format!("{name} must be a string, got {v}"))),
    }
}

/// `drop_ratio_search` from the search parameters (Milvus's name), if given.
fn drop_ratio(params: &[(String, String)]) -> Result<Option<f32>> {
    let Some((_, v)) = params.iter().rev().find(|(k, _)| k == "drop_ratio_search") else {
        return Ok(None);
    };
    let ratio = serde_json::from_str::<serde_json::Value>(v)
        .ok()
        .and_then(|j| j.as_f64().or_else(|| j.as_str()?.trim().parse().ok()))
        .ok_or_else(|| {
            Error::invalid(format!(
                "invalid drop_ratio_search: {v}, must be a number in range [0, 1)"
            ))
        })?;
    Ok(Some(ratio as f32))
}

/// Bytes of vectors one exact scan thread streams at the least: below about this much, starting a thread
/// (tens of µs) costs more than the second core saves.
const SCAN_BYTES_PER_THREAD: usize = 8 << 20;

/// Threads for an exact scan of `bytes` of vectors: one per `SCAN_BYTES_PER_THREAD`, at most one per core.
fn scan_threads(bytes: usize) -> usize {
    (bytes / SCAN_BYTES_PER_THREAD).clamp(1, cores())
}

/// The best `keep` hits seen so far: a bounded min-heap whose top is the worst kept hit.
struct TopK {
    keep: usize,
    heap: BinaryHeap<std::cmp::Reverse<(Rank, std::cmp::Reverse<RowId>)>>,
}

impl TopK {
    fn new(keep: usize) -> TopK {
        TopK {
            keep,
            heap: BinaryHeap::with_capacity(keep.min(1 << 16) + 1),
        }
    }

    fn offer(&mut self, rank: Rank, id: RowId) {
        let entry = std::cmp::Reverse((rank, std::cmp::Reverse(id)));
        if self.heap.len() < self.keep {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|worst| entry < *worst) {
            // `entry < worst` in Reverse order: better than the worst kept hit.
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    /// Best first; equal scores in row order.
    fn into_sorted(self) -> Vec<(Rank, RowId)> {
        let mut best: Vec<_> = self.heap.into_iter().map(|r| r.0).collect();
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.into_iter()
            .map(|(rank, std::cmp::Reverse(id))| (rank, id))
            .collect()
    }
}
