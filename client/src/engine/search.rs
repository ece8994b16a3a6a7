//! Search: planning each part once per call (which rows may be hits, graph walk or exact scan), the
//! exact scan (blocked, split across cores when large), and the top-k merge of every part's best.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::part::{bit, slice};
use super::read::RowRef;
use super::{ann, cores, corrupt, CollectionView, Hit, RowId, SearchRequest};
use crate::error::{Error, Result};
use crate::hnsw::{self, HnswView, Rows, Sq8View, Strategy};
use crate::kernels::{dot, dot_many, inv_norm, l2_many, l2_squared};
use crate::rowview::RowFilter;
use crate::schema::{IndexKind, Metric};

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
            None => schema
                .fields
                .iter()
                .position(|f| f.dtype.is_vector())
                .ok_or_else(|| corrupt("schema without vector field"))?,
        };
        let field = &schema.fields[c];
        let index_metric = self
            .entry
            .indexes
            .iter()
            .find(|i| i.field == field.name)
            .map(|i| i.metric);
        let metric = match (request.metric, index_metric) {
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
            (None, None) => Metric::Cosine,
        };
        let dim = field.dim.unwrap_or(0) as usize;
        if request.limit == 0 {
            return Err(Error::invalid("search limit must be at least 1"));
        }
        if request.nq == 0 || request.vectors.len() != request.nq.saturating_mul(dim) {
            return Err(Error::invalid(format!(
                "search got {} floats for {} query vectors, but field '{}' has dim {dim}",
                request.vectors.len(),
                request.nq,
                field.name
            )));
        }
        let pk_name = &schema.fields[self.pk_col].name;
        let with_pk = request.output.names.iter().any(|n| n == pk_name);
        let keep = request.limit.saturating_add(request.offset);
        let spec = self.entry.indexes.iter().find(|i| i.field == field.name);
        let graph_kind = spec.map_or(IndexKind::Flat, |s| s.kind);
        let ef = ann::search_ef(&request.params, keep)?;
        let plans = (0..self.parts.len())
            .map(|pi| self.plan_part(pi, c, dim, metric, graph_kind, filter))
            .collect::<Result<Vec<_>>>()?;
        let mut results = Vec::with_capacity(request.nq);
        let mut scratch = Vec::new();
        for q in request.vectors.chunks_exact(dim) {
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
        let Some((data, inv_norms)) = col.vectors() else {
            return Err(corrupt("vector column without vectors"));
        };
        if data.len() < part.rows * dim || inv_norms.len() < part.rows {
            return Err(corrupt("vector column shorter than its part"));
        }
        let eligible = match filter {
            None => Eligible::Live,
            Some(f) => {
                let mut bits = vec![0u64; part.rows.div_ceil(64)];
                let mut count = 0;
                for row in 0..part.rows {
                    let ok = part.is_live(row)
                        && col.validity.is_none_or(|v| bit(v, row))
                        && f.matches(&RowRef {
                            view: self,
                            id: RowId { part: pi, row },
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
            data,
            inv_norms,
            deleted: part.deleted,
            validity: col.validity,
            eligible,
            graph: None,
        };
        let ann = part.ann.iter().find(|a| a.field as usize == c);
        if let (Some(ann), true) = (ann, graph_kind != IndexKind::Flat) {
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
    data: &'a [f32],
    inv_norms: &'a [f32],
    deleted: Option<&'a [u8]>,
    validity: Option<&'a [u8]>,
    eligible: Eligible,
    graph: Option<(HnswView<'a>, Option<Sq8View<'a>>)>,
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
        q: &[f32],
        metric: Metric,
        keep: usize,
        ef: usize,
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) -> Result<()> {
        let id = |row: usize| RowId { part: self.pi, row };
        if let Some((graph, sq8)) = &self.graph {
            let all = matches!(self.eligible, Eligible::Live)
                && self.deleted.is_none()
                && self.validity.is_none();
            let accept = |r: u32| self.eligible(r as usize);
            let filter: Option<&dyn Fn(u32) -> bool> = if all { None } else { Some(&accept) };
            let rows = Rows {
                vectors: self.data,
                inv_norms: (metric == Metric::Cosine).then_some(self.inv_norms),
            };
            let hits = match sq8 {
                Some(codes) => graph.search_sq8_rows(codes, Some(rows), q, keep, ef, filter)?,
                None => graph.search_rows(rows, q, keep, ef, filter)?,
            };
            for (r, d) in hits {
                top.offer(Rank::of(metric, d), id(r as usize));
            }
            return Ok(());
        }
        let q_inv = inv_norm(q);
        let dim = self.dim;
        let sparse = match &self.eligible {
            Eligible::Bits { count, .. } => count.saturating_mul(4) < self.rows,
            Eligible::Live => false,
        };
        if let (true, Eligible::Bits { bits, .. }) = (sparse, &self.eligible) {
            // Few matches: score just them.
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let row = w * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    let v = &self.data[row * dim..row * dim + dim];
                    let raw = match metric {
                        Metric::L2 | Metric::Hamming | Metric::Jaccard => l2_squared(q, v),
                        Metric::Ip | Metric::Cosine | Metric::Bm25 => dot(q, v),
                    };
                    top.offer(self.rank(metric, q_inv, raw, row), id(row));
                }
            }
            return Ok(());
        }
        let threads = scan_threads(self.rows * dim * 4);
        if threads == 1 {
            self.scan(q, q_inv, metric, 0..self.rows, top, scratch);
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
                        self.scan(q, q_inv, metric, rows, &mut best, &mut Vec::new());
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

    /// Offers every eligible row of `rows` to `top`, scored block by block with the many-row kernels.
    fn scan(
        &self,
        q: &[f32],
        q_inv: f32,
        metric: Metric,
        rows: std::ops::Range<usize>,
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) {
        let dim = self.dim;
        for start in rows.clone().step_by(BLOCK) {
            let end = (start + BLOCK).min(rows.end);
            scratch.resize(end - start, 0.0);
            let block = &self.data[start * dim..end * dim];
            match metric {
                Metric::L2 | Metric::Hamming | Metric::Jaccard => l2_many(q, block, dim, scratch),
                Metric::Ip | Metric::Cosine | Metric::Bm25 => dot_many(q, block, dim, scratch),
            }
            for (i, &raw) in scratch.iter().enumerate() {
                let row = start + i;
                if self.eligible(row) {
                    let id = RowId { part: self.pi, row };
                    top.offer(self.rank(metric, q_inv, raw, row), id);
                }
            }
        }
    }

    /// The rank of `row` from its raw kernel value (`q_inv` = 1/|q|: COSINE divides by both norms).
    fn rank(&self, metric: Metric, q_inv: f32, raw: f32, row: usize) -> Rank {
        let distance = match metric {
            Metric::Cosine => raw * q_inv * self.inv_norms[row],
            Metric::L2 | Metric::Ip | Metric::Hamming | Metric::Jaccard | Metric::Bm25 => raw,
        };
        Rank::of(metric, distance)
    }
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
