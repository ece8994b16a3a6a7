//! An HNSW index that lives inside the db image as flat little-endian arrays, so every reader process
//! searches the one copy in /dev/shm in place: no build, load or copy per process.
//!
//! The writer calls [`build`] and stores [`HnswIndex::to_bytes`] in a 64-byte aligned section; a reader
//! wraps the mapped section with [`HnswView::wrap`] (O(1); the walk checks each node it expands) and
//! calls [`HnswView::search`] with the row vectors it indexes. docs/ann.md gives the byte layout, the
//! parameters and measured recall.
//!
//! Metrics: L2 is squared Euclidean (smaller is better). IP ranks by inner product. COSINE ranks by the
//! inner product of unit vectors: the caller stores rows L2-normalised (as Milvus does for COSINE
//! fields) and passes them normalised to `build`; `search` normalises the query itself, so the
//! reported distance is the cosine similarity.

mod build;
mod distance;
mod graph;
mod layout;
mod order;
mod sq8;

use std::cell::RefCell;

use crate::dense::{prefetch, DenseQuery, DenseRows};
use crate::error::{Error, Result};
use crate::schema::Metric;
pub use build::BATCH;
use distance::{reported, Space, Sq8Query};
use graph::{greedy, search_layer, Cand, Graph, Scorer, Scratch};
#[cfg(test)]
pub(crate) use order::not_once;
pub use sq8::{quantize, Sq8, Sq8View};

/// Largest accepted M; M0 = 2M. Bounds every block a corrupt header could claim.
pub const MAX_M: usize = 256;
/// Highest layer. With M >= 2 the chance a node reaches it is below 2^-16 per node; the cap keeps a
/// corrupt or adversarial header from describing absurd towers.
pub const MAX_LEVEL: usize = 16;

/// Build parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Links per node on the upper layers; layer 0 allows `2 * m`.
    pub m: usize,
    /// Beam width while inserting; higher builds slower and searches better.
    pub ef_construction: usize,
    /// Seeds the level draw; the same vectors, metric and params give byte-identical indexes.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            seed: 0x0063_6f76_6563, // "covec"
        }
    }
}

/// A freshly built index, owned by the writer until it is serialized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HnswIndex {
    dim: usize,
    metric: Metric,
    links: Links,
    /// The node inserted k-th, when nodes were renumbered after the build (`renumbered`).
    insertion: Option<Vec<u32>>,
}

/// Owned adjacency in exactly the serialized layout (see `Graph` for the invariants): the builder's
/// working graph, then the built index's.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Links {
    m: usize,
    m0: usize,
    max_level: usize,
    entry: u32,
    n: usize,
    layer0: Vec<u32>,
    upper_off: Vec<u32>,
    upper: Vec<u32>,
}

impl Links {
    fn graph(&self) -> Graph<'_> {
        Graph {
            m: self.m,
            m0: self.m0,
            max_level: self.max_level,
            entry: self.entry,
            n: self.n,
            layer0: &self.layer0,
            upper_off: &self.upper_off,
            upper: &self.upper,
        }
    }
}

/// Builds an index over `vectors` (row-major, `n x dim`). Rows are numbered by position. Errors on a
/// zero dimension, a length that is not a multiple of `dim`, or out-of-range parameters.
pub fn build(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: &HnswParams,
) -> Result<HnswIndex> {
    build_rows(Rows::normalised(vectors), dim, metric, params, None)
}

/// Builds over rows of any dense element type, or, with `base`, extends it (see [`extend`]). For
/// COSINE, `rows.inv_norms` normalises rows that are not unit vectors on the fly (float16, bfloat16
/// and int8 rows are searched as stored); without it the rows must be unit vectors.
pub fn build_rows(
    rows: Rows,
    dim: usize,
    metric: Metric,
    params: &HnswParams,
    base: Option<&HnswView>,
) -> Result<HnswIndex> {
    let space = Space {
        rows: rows.vectors,
        dim,
        metric,
        inv_norms: rows.inv_norms.filter(|_| metric != Metric::L2),
    };
    build::build(space, params, base)
}

/// Extends `base`, an index built with the same metric, dimension and params over the first
/// `base.len()` rows of `vectors`, to every row of `vectors`: only the new rows are inserted. When
/// `base.len()` is a multiple of [`BATCH`] the result equals `build` over all rows byte for byte;
/// otherwise it is the same for the same base and rows, a graph of the same quality (its first batch
/// is cut short). A renumbered base is numbered by insertion
/// again first, so `vectors` start with its rows in insertion order and the result is numbered by
/// insertion. A base of other params is `Error::Invalid`.
pub fn extend(
    base: &HnswView,
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: &HnswParams,
) -> Result<HnswIndex> {
    build_rows(Rows::normalised(vectors), dim, metric, params, Some(base))
}

impl HnswIndex {
    /// The serialized form (layout in docs/ann.md); every array is 4-byte aligned relative to the start.
    pub fn to_bytes(&self) -> Vec<u8> {
        layout::to_bytes(self)
    }

    pub fn len(&self) -> usize {
        self.links.n
    }

    pub fn is_empty(&self) -> bool {
        self.links.n == 0
    }

    /// A view over the owned arrays: the same search code a reader runs over mapped bytes.
    pub fn view(&self) -> HnswView<'_> {
        HnswView {
            metric: self.metric,
            dim: self.dim,
            graph: self.links.graph(),
            insertion: self.insertion.as_deref(),
        }
    }
}

/// The indexed rows a search scores: row-major vectors of any dense element type and, for COSINE
/// over rows stored as given (not normalised), `1/|row|` per row.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub vectors: DenseRows<'a>,
    pub inv_norms: Option<&'a [f32]>,
}

impl<'a> Rows<'a> {
    /// f32 rows that need no normalising (L2, IP, or COSINE rows stored as unit vectors).
    pub fn normalised(vectors: &'a [f32]) -> Rows<'a> {
        Rows {
            vectors: DenseRows::F32(vectors),
            inv_norms: None,
        }
    }
}

/// A validated, borrowed index: searching it cannot index out of bounds whatever the bytes were.
#[derive(Clone, Copy)]
pub struct HnswView<'a> {
    metric: Metric,
    dim: usize,
    graph: Graph<'a>,
    /// See `HnswIndex::insertion`; searches never read it.
    insertion: Option<&'a [u32]>,
}

thread_local! {
    // Readers share one view across threads; each thread keeps its own visited set and heaps.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl<'a> HnswView<'a> {
    /// Wraps a serialized index over `n` rows, checking every word: any structural damage is
    /// `Error::Corrupt`, a newer layout `Error::NewerVersion`. `bytes` must start 4-byte aligned in
    /// memory (the db format places it 64-byte aligned). One pass over the section: for writers that
    /// extend a stored graph and for tests; readers use [`wrap`](Self::wrap).
    pub fn from_bytes(bytes: &'a [u8], n: usize) -> Result<HnswView<'a>> {
        layout::view(bytes, n, true)
    }

    /// `from_bytes` checking only the header, the array lengths and the entry point (O(1)): a process
    /// attaching to a 1M-row segment does not read (and fault in) the whole graph before its first
    /// query. Searches check each node as they expand it, so damage they meet is `Error::Corrupt`
    /// just the same; damage off their path goes unread.
    pub fn wrap(bytes: &'a [u8], n: usize) -> Result<HnswView<'a>> {
        layout::view(bytes, n, false)
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.graph.n
    }

    pub fn is_empty(&self) -> bool {
        self.graph.n == 0
    }

    /// The `k` nearest indexed rows to `query`, best first, as `(row, distance)` with the distance as
    /// Milvus reports it (squared L2; IP or cosine similarity). `ef` is the layer-0 beam width (raised to
    /// `k`). With `filter`, only rows for which it returns true are returned; the beam holds matching rows
    /// only, so it keeps widening through non-matching rows until it has `ef` matches and needs no larger
    /// `ef` at low selectivity (docs/ann.md); [`recommended_strategy`] says when an exact scan is cheaper. `vectors` are the indexed rows (at least `n * dim` floats).
    // The engine's calling convention: the view owns no vectors and no metric choice of its own.
    #[allow(clippy::too_many_arguments)]
    pub fn search(
        &self,
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        if dim != self.dim {
            return Err(Error::invalid(format!(
                "the HNSW index has dimension {}, got dim {dim}",
                self.dim
            )));
        }
        if metric != self.metric {
            return Err(Error::invalid(format!(
                "the HNSW index was built for metric {}, the search asks for {}; rebuild the index",
                self.metric.name(),
                metric.name()
            )));
        }
        self.search_rows(Rows::normalised(vectors), query, k, ef, filter)
    }

    /// [`search`](Self::search) over rows as stored (for COSINE, `rows.inv_norms` normalises them on
    /// the fly); dimension and metric are the index's own.
    pub fn search_rows(
        &self,
        rows: Rows<'_>,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        let (dim, metric) = (self.dim, self.metric);
        if query.len() != dim {
            return Err(Error::invalid(format!(
                "the HNSW index has dimension {dim}, got a query of {} floats",
                query.len()
            )));
        }
        let space = self.space(rows, "")?;
        if k == 0 || self.graph.n == 0 {
            return Ok(Vec::new());
        }
        let query = walk_query(metric, query);
        let scorer = Scorer {
            score: |id| space.score_to(&query, id),
            prefetch: |id| space.prefetch(id),
        };
        let mut hits = self.walk(&scorer, ef.max(k), filter)?;
        hits.truncate(k);
        Ok(hits
            .into_iter()
            .map(|c| (c.id, reported(metric, c.d)))
            .collect())
    }

    /// The distance space over `rows`, checked to cover every indexed row.
    fn space<'r>(&self, rows: Rows<'r>, what: &str) -> Result<Space<'r>> {
        let n = self.graph.n;
        let have = rows.vectors.len() / self.dim;
        let norms = rows.inv_norms.map_or(usize::MAX, <[f32]>::len);
        if have < n || norms < n {
            return Err(Error::invalid(format!(
                "the HNSW index covers {n} rows but only {} vectors{what} were given",
                have.min(norms)
            )));
        }
        Ok(Space {
            rows: rows.vectors,
            dim: self.dim,
            metric: self.metric,
            inv_norms: rows.inv_norms,
        })
    }

    /// Like [`search`](Self::search) but walks the graph with SQ8 codes (a quarter of the memory of the
    /// f32 rows). With `rerank` (the f32 rows), the best `max(ef, k)` candidates are re-scored exactly
    /// and the distances are exact; without, distances are the quantized estimates.
    pub fn search_sq8(
        &self,
        codes: &Sq8View,
        rerank: Option<&[f32]>,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        self.search_sq8_rows(codes, rerank.map(Rows::normalised), query, k, ef, filter)
    }

    /// [`search_sq8`](Self::search_sq8) re-ranking with rows as stored (see [`Rows`]).
    pub fn search_sq8_rows(
        &self,
        codes: &Sq8View,
        rerank: Option<Rows<'_>>,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        let (dim, metric, n) = (self.dim, self.metric, self.graph.n);
        if codes.dim() != dim || query.len() != dim || codes.len() != n {
            return Err(Error::invalid(format!(
                "the HNSW index has dimension {dim} over {n} rows; got SQ8 codes of dimension {} \
                 over {} rows and a query of {} floats",
                codes.dim(),
                codes.len(),
                query.len()
            )));
        }
        let space = rerank.map(|r| self.space(r, " to re-rank")).transpose()?;
        if k == 0 || n == 0 {
            return Ok(Vec::new());
        }
        let query = walk_query(metric, query);
        let prepared = Sq8Query::new(metric, &query.values, codes.min(), codes.scale());
        let scorer = Scorer {
            score: |id| prepared.score(codes.codes(id)),
            prefetch: |id| prefetch(codes.codes(id)),
        };
        let mut hits = self.walk(&scorer, ef.max(k), filter)?;
        if let Some(space) = space {
            for c in &mut hits {
                c.d = space.score_to(&query, c.id);
            }
            hits.sort_unstable();
        }
        hits.truncate(k);
        Ok(hits
            .into_iter()
            .map(|c| (c.id, reported(metric, c.d)))
            .collect())
    }

    /// Greedy descent through the upper layers, then the layer-0 beam; the beam best first. Each node
    /// is checked as it is expanded, so damage on the path is `Error::Corrupt`.
    fn walk(
        &self,
        scorer: &Scorer<impl Fn(u32) -> f32, impl Fn(u32)>,
        ef: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<Cand>> {
        let g = &self.graph;
        let run = |s: &mut Scratch| {
            let mut cur = Cand {
                d: (scorer.score)(g.entry),
                id: g.entry,
            };
            for l in (1..=g.max_level).rev() {
                cur = greedy(g, &scorer.score, cur, l)?;
            }
            search_layer(g, scorer, &[cur], ef, 0, filter, s)?;
            let mut hits: Vec<Cand> = s.results.drain().collect();
            hits.sort_unstable();
            Ok(hits)
        };
        // A filter that itself searches would find the buffer borrowed; it gets a fresh one.
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => run(&mut s),
            Err(_) => run(&mut Scratch::default()),
        })
    }
}

/// The query as a walk scores it: COSINE compares unit vectors, so the query is normalised (a zero
/// vector stays zero: its cosine with anything is 0, as Milvus reports).
fn walk_query(metric: Metric, query: &[f32]) -> DenseQuery {
    let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
    if metric == Metric::Cosine && norm > 0.0 {
        DenseQuery::new(query.iter().map(|x| x / norm).collect())
    } else {
        DenseQuery::new(query.to_vec())
    }
}

/// How the engine should answer a filtered search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Score every matching row: cheap when few rows match, and exact.
    Exact,
    /// Walk the graph with the filter.
    Graph,
}

/// Below this many matching rows an exact scan is always cheaper than a graph walk (a few ms of
/// distances at 768 dims), whatever the collection size.
pub const EXACT_MAX_MATCHING: usize = 4096;
/// Below this fraction of matching rows (in percent) the graph walk has to visit most of the graph to
/// collect enough matches, so an exact scan of the matches wins; docs/ann.md has the measurements.
pub const EXACT_BELOW_PERCENT: usize = 2;

/// Exact when `matching <= EXACT_MAX_MATCHING` or fewer than `EXACT_BELOW_PERCENT` % of `n` rows match.
pub fn recommended_strategy(n: usize, matching: usize) -> Strategy {
    if matching <= EXACT_MAX_MATCHING
        || matching.saturating_mul(100) < n.saturating_mul(EXACT_BELOW_PERCENT)
    {
        Strategy::Exact
    } else {
        Strategy::Graph
    }
}
