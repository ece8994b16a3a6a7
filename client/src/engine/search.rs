//! Search: one vector field's search resolved once per call (`VectorSearch`: the field, its metric,
//! its query vectors and each part's plan, the filter evaluated once), then per query vector the best
//! rows inside a `Band` (range search bounds, an iterator's cursor), found by graph walks where parts
//! have graphs, through a part's sparse inverted index, and by exact scans (blocked, split across
//! cores when large) elsewhere; grouping search on top; and the top-k merge. Dense vectors of every
//! element type are scored in place (`dense`), binary vectors by popcount, sparse vectors through the
//! index (`sparse`) or row by row.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::part::{bit, slice, VectorColumn};
use super::read::{PartScope, RowRef};
use super::request::QueryVectors;
use super::{
    ann, cores, corrupt, section_error, CollectionView, GroupBy, Hit, Range, RowId, SearchRequest,
};
use crate::dense::DenseQuery;
use crate::error::{Error, Result};
use crate::format::TextIndex;
use crate::fulltext::FullText;
use crate::hnsw::{self, HnswView, Rows, Sq8View, Strategy};
use crate::kernels::{self, inv_norm, scalar};
use crate::rowview::{RowFilter, ValueRef};
use crate::schema::{DataType, FieldSchema, IndexKind, IndexSpec, Metric};
use crate::sparse::{
    drop_small_terms, term_frequencies, Bm25Params, Bm25Stats, Bm25StatsView, Scoring,
    SparseIndexView, SparseVector,
};
use crate::text::term_id;

/// Milvus's error code for an invalid parameter (`merr.ErrParameterInvalid`).
const PARAMETER_INVALID: i32 = 1100;

/// A grouping search first asks for this many candidates per wanted row (Milvus Lite asks 3x), then
/// doubles until the groups are settled.
const GROUP_FETCH: usize = 3;

impl CollectionView<'_> {
    /// The best `limit` hits after `offset` per query vector of `search`'s request, best first
    /// (grouped when it groups, through its function chain when it has one). Searches with a ranker
    /// are `rerank`'s.
    pub(super) fn ranked_search(
        &self,
        search: &VectorSearch<'_>,
        request: &SearchRequest,
    ) -> Result<Vec<Vec<Hit>>> {
        if let Some(chain) = &request.chain {
            chain.check(self)?;
        }
        let grouping = Grouping::of(self, request.group_by.as_ref())?;
        let wanted = request.limit.saturating_add(request.offset);
        let with_pk = self.names_pk(&request.output);
        let mut results = Vec::with_capacity(request.nq);
        for q in &search.queries {
            let ranked: Vec<(Rank, RowId)> = match &grouping {
                None => search
                    .top(q, wanted, None)?
                    .hits
                    .into_iter()
                    .skip(request.offset)
                    .collect(),
                Some(g) => search
                    .grouped(self, q, g, wanted)?
                    .into_iter()
                    .skip(request.offset)
                    .flatten()
                    .collect(),
            };
            let mut page = search.scored(ranked);
            if let Some(chain) = &request.chain {
                page = chain.run(self, page)?;
            }
            results.push(self.scored_hits(page, &request.output, with_pk)?);
        }
        Ok(results)
    }

    /// Hits of scored rows, in order.
    pub(super) fn scored_hits(
        &self,
        page: Vec<(f64, RowId)>,
        output: &super::OutputFields,
        with_pk: bool,
    ) -> Result<Vec<Hit>> {
        page.into_iter()
            .map(|(score, id)| self.hit(id, score as f32, output, with_pk))
            .collect()
    }

    /// One page of a search iterator: the best `count` hits strictly after `after` (None: from the
    /// best), and the cursor of the last one. Pages taken on one generation never repeat a row, and
    /// on exactly searched parts they are the exact order cut in pages.
    pub fn search_page(
        &self,
        request: &SearchRequest,
        filter: Option<&dyn RowFilter>,
        after: Option<Cursor>,
        count: usize,
    ) -> Result<(Vec<Hit>, Option<Cursor>)> {
        if request.nq != 1
            || request.group_by.is_some()
            || request.rerank.is_some()
            || request.chain.is_some()
        {
            return Err(Error::param(
                "a search iterator takes one query vector, without grouping, rerankers or function chains",
            ));
        }
        let search = VectorSearch::new(self, request, filter)?;
        let top = search.top(&search.queries[0], count, after)?;
        let last = top.hits.last().map(|&(rank, id)| Cursor { rank, id });
        let with_pk = self.names_pk(&request.output);
        let hits = top
            .hits
            .into_iter()
            .map(|(rank, id)| self.hit(id, rank.distance(search.metric), &request.output, with_pk))
            .collect::<Result<Vec<_>>>()?;
        Ok((hits, last.or(after)))
    }

    /// Whether `output` names the primary key (the engine then places it first in the entity).
    pub(super) fn names_pk(&self, output: &super::OutputFields) -> bool {
        let pk_name = &self.entry.schema.fields[self.pk_col].name;
        output.names.iter().any(|n| n == pk_name)
    }

    pub(super) fn hit(
        &self,
        id: RowId,
        distance: f32,
        output: &super::OutputFields,
        with_pk: bool,
    ) -> Result<Hit> {
        Ok(Hit {
            id: self.pk(id)?,
            distance,
            entity: self.output_row(id, output, with_pk)?,
        })
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
    ) -> Result<Option<PartPlan<'_>>> {
        let part = &self.parts[pi];
        let col = &part.cols[c];
        let scope = self.part_scope(pi);
        // A part outside the searched partitions, or written before the field was added (every row
        // null), has no candidate.
        if scope == PartScope::Skip || col.is_absent() {
            return Ok(None);
        }
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
        let eligible = match (filter, scope) {
            (None, PartScope::Whole) => Eligible::Live,
            _ => {
                let text = match filter {
                    Some(f) => self.text_answers(pi, f)?,
                    None => Vec::new(),
                };
                let mut bits = vec![0u64; part.rows.div_ceil(64)];
                let mut count = 0;
                for row in 0..part.rows {
                    let id = RowId { part: pi, row };
                    let ok = part.is_live(row)
                        && col.validity.is_none_or(|v| bit(v, row))
                        && (scope == PartScope::Whole || self.in_scope(id))
                        && filter.is_none_or(|f| {
                            f.matches(&RowRef {
                                view: self,
                                id,
                                text: &text,
                            })
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
                plan.sparse_index = Some(
                    SparseIndexView::wrap(slice(self.image, &t.index)?, part.rows)
                        .map_err(section_error)?,
                );
            }
            return Ok(Some(plan));
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
                let view = HnswView::wrap(slice(self.image, &ann.graph)?, part.rows)
                    .map_err(section_error)?;
                // A graph built for another metric (index dropped and re-created) is not used.
                if view.metric() == metric && view.dim() == dim {
                    let codes = match &ann.sq8 {
                        Some(s) => Some(CodesWalk {
                            codes: Sq8View::from_bytes(slice(self.image, s)?, part.rows)
                                .map_err(section_error)?,
                            beam: match graph_kind {
                                IndexKind::HnswSq8 => |ef| ef,
                                _ => ann::codes_walk_ef,
                            },
                        }),
                        None => None,
                    };
                    plan.graph = Some((view, codes));
                }
            }
        }
        Ok(Some(plan))
    }

    /// The group key of row `id` in column `col`.
    fn group_key(&self, col: usize, id: RowId) -> Result<GroupKey<'_>> {
        let value = self.parts[id.part].cols[col]
            .get(id.row)
            .ok_or_else(|| corrupt("group_by field unreadable"))?;
        Ok(match value {
            ValueRef::Null => GroupKey::Null,
            ValueRef::Bool(b) => GroupKey::Bool(b),
            ValueRef::Int(i) => GroupKey::Int(i),
            ValueRef::Str(s) => GroupKey::Str(s),
            _ => return Err(corrupt("group_by field of a type that does not group")),
        })
    }
}

/// A search iterator's position: the last row returned and its rank. The next page holds rows
/// strictly after it in the search's order (better rank first, equal ranks in row order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    rank: Rank,
    id: RowId,
}

/// One vector field's search over a collection view, resolved once per call.
pub(super) struct VectorSearch<'s> {
    pub(super) metric: Metric,
    /// The request's query vectors, checked against the field and prepared as its rows score them.
    pub(super) queries: Vec<Query<'s>>,
    params: &'s [(String, String)],
    plans: Vec<PartPlan<'s>>,
    /// The range search bounds.
    band: Band,
    /// Rows in every part, live or not: no search keeps more.
    rows: usize,
}

/// The best rows of one query vector, best first, and whether more may exist past them.
pub(super) struct Top {
    pub(super) hits: Vec<(Rank, RowId)>,
    pub(super) more: bool,
}

impl<'s> VectorSearch<'s> {
    /// Resolves `request` on `view`: its vector field, its metric (the index's, or the type's
    /// default), its query vectors, its range, each part's plan.
    pub(super) fn new(
        view: &'s CollectionView<'_>,
        request: &'s SearchRequest,
        filter: Option<&dyn RowFilter>,
    ) -> Result<VectorSearch<'s>> {
        let schema = &view.entry.schema;
        let c = match &request.anns_field {
            Some(name) => {
                let c = view.field_index(name).ok_or_else(|| {
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
        let spec = view.entry.indexes.iter().find(|i| i.field == field.name);
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
                PARAMETER_INVALID,
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
            view.bm25_queries(c, spec, request)?
        } else {
            queries(field, request)?
        };
        let band = Band::of_range(metric, request.range)?;
        let graph_kind = spec.map_or(IndexKind::Flat, |s| s.kind);
        let dim = field.dim.unwrap_or(0) as usize;
        let plans = (0..view.parts.len())
            .filter_map(|pi| {
                view.plan_part(pi, c, dim, metric, graph_kind, filter)
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(VectorSearch {
            metric,
            queries,
            params: &request.params,
            plans,
            band,
            rows: view.parts.iter().map(|p| p.rows).sum(),
        })
    }

    /// Ranked rows with their reported distances, as rerankers and chains score them.
    pub(super) fn scored(&self, ranked: Vec<(Rank, RowId)>) -> Vec<(f64, RowId)> {
        ranked
            .into_iter()
            .map(|(rank, id)| (f64::from(rank.distance(self.metric)), id))
            .collect()
    }

    /// The best `keep` rows for `q` inside the range bounds and after `after`, best first.
    pub(super) fn top(&self, q: &Query, keep: usize, after: Option<Cursor>) -> Result<Top> {
        let band = Band {
            after: after.map(|c| (c.rank, c.id)),
            ..self.band
        };
        let ef = ann::search_ef(self.params, keep)?;
        let mut top = TopK::new(keep);
        let mut more = false;
        let mut scratch = Vec::new();
        for plan in &self.plans {
            more |= plan.search(q, self.metric, keep, ef, &band, &mut top, &mut scratch)?;
        }
        Ok(Top {
            hits: top.into_sorted(),
            more,
        })
    }

    /// The best `wanted` groups for `q`, best group first, each its best rows first. Candidates are
    /// fetched in growing numbers until the groups are settled (the first `wanted` groups each have
    /// `size` rows) or no candidate is left, so the answer is the grouping of every eligible row.
    fn grouped(
        &self,
        view: &CollectionView<'_>,
        q: &Query,
        g: &Grouping,
        wanted: usize,
    ) -> Result<Vec<Vec<(Rank, RowId)>>> {
        let mut keep = wanted
            .saturating_mul(g.size)
            .saturating_mul(GROUP_FETCH)
            .max(1);
        loop {
            let top = self.top(q, keep, None)?;
            let (groups, settled) = g.group(view, &top.hits, wanted)?;
            if settled || !top.more || keep >= self.rows {
                return Ok(groups);
            }
            keep = keep.saturating_mul(2);
        }
    }
}

/// A grouping search's field, resolved: the field's column, group size and strictness.
pub(super) struct Grouping {
    col: usize,
    size: usize,
    strict: bool,
}

impl Grouping {
    /// `group_by` resolved on `view` (None: no grouping).
    pub(super) fn of(
        view: &CollectionView<'_>,
        group_by: Option<&GroupBy>,
    ) -> Result<Option<Grouping>> {
        group_by.map(|g| Grouping::new(view, g)).transpose()
    }

    /// Milvus groups by INT8-INT64, BOOL and VARCHAR fields.
    pub(super) fn new(view: &CollectionView<'_>, g: &GroupBy) -> Result<Grouping> {
        let col = view.field_index(&g.field).ok_or_else(|| {
            Error::invalid(format!(
                "group_by_field '{}' not found in schema; group by a scalar field of the collection",
                g.field
            ))
        })?;
        let dtype = view.entry.schema.fields[col].dtype;
        if !(dtype.is_integer() || matches!(dtype, DataType::Bool | DataType::VarChar)) {
            return Err(Error::invalid(format!(
                "group_by_field '{}' has type {} which is not supported for group_by; group by an INT8, INT16, INT32, INT64, BOOL or VARCHAR field",
                g.field,
                dtype.name()
            )));
        }
        if g.size == 0 {
            return Err(Error::invalid_code(
                PARAMETER_INVALID,
                "group_size must be at least 1",
            ));
        }
        Ok(Grouping {
            col,
            size: g.size,
            strict: g.strict,
        })
    }

    /// Groups `ranked` (best first) in order of each group's best row, each keeping its first `size`
    /// rows; with `strict`, groups with fewer are left out. Returns the first `wanted` groups and
    /// whether they are settled: the first `wanted` groups seen are all full, so no later candidate
    /// can change them.
    pub(super) fn group<T: Copy>(
        &self,
        view: &CollectionView<'_>,
        ranked: &[(T, RowId)],
        wanted: usize,
    ) -> Result<(Groups<T>, bool)> {
        let mut index: HashMap<GroupKey<'_>, usize> = HashMap::new();
        let mut groups: Vec<Vec<(T, RowId)>> = Vec::new();
        for &(score, id) in ranked {
            let key = view.group_key(self.col, id)?;
            let gi = *index.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            if groups[gi].len() < self.size {
                groups[gi].push((score, id));
            }
        }
        let settled =
            groups.len() >= wanted && groups[..wanted].iter().all(|g| g.len() == self.size);
        let chosen = groups
            .into_iter()
            .filter(|g| !self.strict || g.len() == self.size)
            .take(wanted)
            .collect();
        Ok((chosen, settled))
    }
}

/// Groups of scored rows, best first.
type Groups<T> = Vec<Vec<(T, RowId)>>;

/// A group-by value. NULL is a group of its own, as in Milvus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GroupKey<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Str(&'a str),
}

/// An f32 score ordered so that larger is a better hit, NaN worst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rank(f32);
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
    pub(super) fn distance(self, metric: Metric) -> f32 {
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

/// Which ranks a search may return: inside the range search bounds and strictly after a cursor.
#[derive(Debug, Clone, Copy, Default)]
struct Band {
    /// Ranks above this are too close (`range_filter`); inclusive.
    best: Option<Rank>,
    /// Ranks must be above this (`radius`); exclusive.
    worst: Option<Rank>,
    /// An iterator's cursor: only rows after it in the search's order.
    after: Option<(Rank, RowId)>,
}

impl Band {
    /// The bounds of `range` for `metric`, refused when they leave nothing between them.
    fn of_range(metric: Metric, range: Range) -> Result<Band> {
        let band = Band {
            best: range.range_filter.map(|f| Rank::of(metric, f)),
            worst: range.radius.map(|r| Rank::of(metric, r)),
            after: None,
        };
        if let (Some(radius), Some(range_filter)) = (range.radius, range.range_filter) {
            if band.best <= band.worst || radius.is_nan() || range_filter.is_nan() {
                let message = if metric.higher_is_better() {
                    format!("range_filter must be greater than radius for IP/COSINE, range_filter:{range_filter}, radius:{radius}; {} keeps scores s with radius < s <= range_filter", metric.name())
                } else {
                    format!("range_filter must be less than radius for L2/HAMMING/JACCARD, range_filter:{range_filter}, radius:{radius}; {} keeps distances d with range_filter <= d < radius", metric.name())
                };
                return Err(Error::invalid_code(PARAMETER_INVALID, message));
            }
        }
        Ok(band)
    }

    fn is_open(&self) -> bool {
        self.best.is_none() && self.worst.is_none() && self.after.is_none()
    }

    /// Whether it leaves out rows closest to the query (which a graph walk must pass through).
    fn cuts_near(&self) -> bool {
        self.best.is_some() || self.after.is_some()
    }

    /// Not too close: within `range_filter` and after the cursor.
    fn admits_near(&self, rank: Rank, id: RowId) -> bool {
        self.best.is_none_or(|b| rank <= b)
            && self
                .after
                .is_none_or(|(r, a)| (rank, std::cmp::Reverse(id)) < (r, std::cmp::Reverse(a)))
    }

    /// Not too far: inside `radius`.
    fn admits_far(&self, rank: Rank) -> bool {
        self.worst.is_none_or(|w| rank > w)
    }

    fn admits(&self, rank: Rank, id: RowId) -> bool {
        self.admits_far(rank) && self.admits_near(rank, id)
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
    graph: Option<(HnswView<'a>, Option<CodesWalk<'a>>)>,
    sparse_index: Option<SparseIndexView<'a>>,
}

/// The SQ8 codes a part's graph is walked on (candidates re-ranked on the stored rows), and the beam the
/// walk keeps for a search's `ef`: `ef` for HNSW_SQ, wider for the f32 HNSW it stands in for.
struct CodesWalk<'a> {
    codes: Sq8View<'a>,
    beam: fn(usize) -> usize,
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

    /// Offers this part's best `keep` rows for `q` inside `band` to `top`. Returns whether the part
    /// may hold more such rows than it offered.
    #[allow(clippy::too_many_arguments)] // one query's whole context; split, it would only be regrouped
    fn search(
        &self,
        q: &Query,
        metric: Metric,
        keep: usize,
        ef: usize,
        band: &Band,
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) -> Result<bool> {
        let id = |row: usize| RowId { part: self.pi, row };
        // Rows too close (range_filter, the cursor) are left out by a graph walk or an index search
        // through its filter, so they never use up its beam; rows past the radius come last, so they
        // are cut after it.
        let all = matches!(self.eligible, Eligible::Live)
            && self.deleted.is_none()
            && self.validity.is_none()
            && !band.cuts_near();
        let dim = self.dim;
        match (q, self.vectors) {
            (Query::Dense(q), VectorColumn::Dense { rows, inv_norms }) => {
                let q_inv = inv_norm(&q.values);
                let distance = |raw: f32, row: usize| match metric {
                    Metric::Cosine => raw * q_inv * inv_norms[row],
                    _ => raw,
                };
                let Some((graph, codes)) = &self.graph else {
                    let score = |start: usize, out: &mut [f32]| {
                        rows.raw_many(metric, dim, q, start, out);
                    };
                    let row_bytes = rows.elem().width() * dim;
                    let distance = |raw: f32, row: usize| Some(distance(raw, row));
                    return self.exact(
                        metric, keep, row_bytes, band, &score, &distance, top, scratch,
                    );
                };
                // With bounds, rows are ranked by the exact scan's arithmetic (the walk's own distances
                // can differ in the last bit), so a cursor or a bound means the same row by row
                // whichever way a part is searched.
                let exact =
                    |r: usize| Rank::of(metric, distance(rows.raw_query(metric, dim, q, r), r));
                let accept = |r: u32| {
                    let r = r as usize;
                    self.eligible(r) && (!band.cuts_near() || band.admits_near(exact(r), id(r)))
                };
                let filter: Option<&dyn Fn(u32) -> bool> = if all { None } else { Some(&accept) };
                let rows = Rows {
                    vectors: rows,
                    inv_norms: (metric == Metric::Cosine).then_some(inv_norms),
                };
                let v = &q.values;
                let hits = match codes {
                    Some(walk) => {
                        let beam = (walk.beam)(ef);
                        graph.search_sq8_rows(&walk.codes, Some(rows), v, keep, beam, filter)?
                    }
                    None => graph.search_rows(rows, v, keep, ef, filter)?,
                };
                let rank = |r: usize, d: f32| {
                    if band.is_open() {
                        Rank::of(metric, d)
                    } else {
                        exact(r)
                    }
                };
                Ok(self.offer_walked(hits, keep, band, rank, top))
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
                let distance = |raw: f32, _| Some(raw);
                self.exact(metric, keep, width, band, &score, &distance, top, scratch)
            }
            (Query::Sparse(q, scoring), VectorColumn::Sparse(view)) => {
                // A row's score, from the index or row by row, is the same bit for bit (`sparse`).
                let damaged = std::sync::atomic::AtomicBool::new(false);
                let score_row = |row: usize| match view.row(row) {
                    Ok(r) => scoring.score(q.view(), r),
                    Err(_) => {
                        damaged.store(true, std::sync::atomic::Ordering::Relaxed);
                        0.0
                    }
                };
                let more = if let Some(index) = &self.sparse_index {
                    let accept = |r: u32| {
                        let r = r as usize;
                        self.eligible(r)
                            && (!band.cuts_near()
                                || band.admits_near(Rank::of(metric, score_row(r)), id(r)))
                    };
                    let filter: Option<&dyn Fn(u32) -> bool> =
                        if all { None } else { Some(&accept) };
                    // Rows below the k-th score other parts gave cannot enter. A part searched
                    // with that floor may hold more rows than it returned.
                    let floor = top.worst().map(|rank| rank.distance(metric));
                    let hits = index.search_at_least(
                        q.view(),
                        *scoring,
                        keep,
                        floor.unwrap_or(0.0),
                        filter,
                    )?;
                    self.offer_walked(hits, keep, band, |_, d| Rank::of(metric, d), top)
                        || floor.is_some()
                } else {
                    // No index (the field has none, or the part predates it): every row scored; as
                    // with the index, only rows scoring above 0 are hits.
                    let score = |start: usize, out: &mut [f32]| {
                        for (i, o) in out.iter_mut().enumerate() {
                            *o = score_row(start + i);
                        }
                    };
                    let positive = |raw: f32, _| (raw > 0.0).then_some(raw);
                    self.exact(metric, keep, 8, band, &score, &positive, top, scratch)?
                };
                if damaged.into_inner() {
                    return Err(corrupt("a sparse row's offsets are damaged"));
                }
                Ok(more)
            }
            _ => Err(Error::Internal(
                "a query of another vector type than its column".into(),
            )),
        }
    }

    /// Offers the rows a graph walk or an index search found (the best `keep` its filter accepted,
    /// best first), ranked by `rank(row, distance)`, that are inside `band`'s radius. Returns whether
    /// the part may hold more: the search was full and none was past the radius.
    fn offer_walked(
        &self,
        hits: Vec<(u32, f32)>,
        keep: usize,
        band: &Band,
        rank: impl Fn(usize, f32) -> Rank,
        top: &mut TopK,
    ) -> bool {
        let mut full = hits.len() >= keep;
        for (r, d) in hits {
            let r = r as usize;
            let rank = rank(r, d);
            if band.admits_far(rank) {
                top.offer(
                    rank,
                    RowId {
                        part: self.pi,
                        row: r,
                    },
                );
            } else {
                full = false;
            }
        }
        full
    }

    /// Offers every eligible row inside `band` to `top`: `score(start, out)` gives the raw values of
    /// rows `start..start + out.len()`, `distance(raw, row)` the reported distance (None: not a hit).
    /// A sparse filter scores just its rows; a scan of more than `SCAN_BYTES_PER_THREAD` (at
    /// `row_bytes` a row) is split across threads. Returns whether the part may hold more such rows
    /// than `keep`.
    #[allow(clippy::too_many_arguments)]
    fn exact(
        &self,
        metric: Metric,
        keep: usize,
        row_bytes: usize,
        band: &Band,
        score: &(dyn Fn(usize, &mut [f32]) + Sync),
        distance: &(dyn Fn(f32, usize) -> Option<f32> + Sync),
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) -> Result<bool> {
        let sparse = match &self.eligible {
            Eligible::Bits { count, .. } => count.saturating_mul(4) < self.rows,
            Eligible::Live => false,
        };
        if let (true, Eligible::Bits { bits, .. }) = (sparse, &self.eligible) {
            // Few matches: score just them.
            let mut raw = [0.0f32];
            let mut offered = 0;
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let row = w * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    score(row, &mut raw);
                    if let Some(d) = distance(raw[0], row) {
                        offered += usize::from(self.offer(metric, band, d, row, top));
                    }
                }
            }
            return Ok(offered > keep);
        }
        let threads = scan_threads(self.rows.saturating_mul(row_bytes));
        let scan = |rows, top: &mut TopK, scratch: &mut Vec<f32>| {
            self.scan(metric, band, rows, score, distance, top, scratch)
        };
        if threads == 1 {
            return Ok(scan(0..self.rows, top, scratch) > keep);
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
                        let offered = scan(rows, &mut best, &mut Vec::new());
                        (best, offered)
                    })
                })
                .collect();
            scans.into_iter().map(|t| t.join()).collect::<Vec<_>>()
        });
        let mut offered = 0;
        for best in bests {
            let (best, n) =
                best.map_err(|_| Error::Internal("an exact scan thread panicked".into()))?;
            offered += n;
            for (rank, row) in best.into_sorted() {
                top.offer(rank, row);
            }
        }
        Ok(offered > keep)
    }

    /// Offers every eligible row of `rows` inside `band` to `top`, scored block by block; returns how
    /// many it offered.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        metric: Metric,
        band: &Band,
        rows: std::ops::Range<usize>,
        score: &(dyn Fn(usize, &mut [f32]) + Sync),
        distance: &(dyn Fn(f32, usize) -> Option<f32> + Sync),
        top: &mut TopK,
        scratch: &mut Vec<f32>,
    ) -> usize {
        let mut offered = 0;
        for start in rows.clone().step_by(BLOCK) {
            let end = (start + BLOCK).min(rows.end);
            scratch.resize(end - start, 0.0);
            score(start, scratch);
            for (i, &raw) in scratch.iter().enumerate() {
                let row = start + i;
                if self.eligible(row) {
                    if let Some(d) = distance(raw, row) {
                        offered += usize::from(self.offer(metric, band, d, row, top));
                    }
                }
            }
        }
        offered
    }

    /// Offers `row` at distance `d` to `top` when it is inside `band`; returns whether it did.
    fn offer(&self, metric: Metric, band: &Band, d: f32, row: usize, top: &mut TopK) -> bool {
        let (rank, id) = (Rank::of(metric, d), RowId { part: self.pi, row });
        let inside = band.admits(rank, id);
        if inside {
            top.offer(rank, id);
        }
        inside
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

/// One query vector as the searched field's rows score it.
pub(super) enum Query<'q> {
    Dense(DenseQuery),
    Binary(&'q [u8]),
    /// A sparse vector scored by inner product, or a BM25 query's term weights scored by BM25.
    Sparse(SparseVector, Scoring),
}

/// The request's query vectors, checked against field `f` and prepared as its rows score them:
/// float16 and bfloat16 queries are rounded to the field's type (as Milvus converts float32 queries),
/// int8 queries must hold int8 values, binary queries dim/8 bytes, sparse queries lose their small
/// terms to `drop_ratio_search`.
fn queries<'r>(f: &FieldSchema, request: &'r SearchRequest) -> Result<Vec<Query<'r>>> {
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
                    PARAMETER_INVALID,
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

    /// The worst rank kept, once `keep` rows are: a row must rank at least this to enter.
    fn worst(&self) -> Option<Rank> {
        let worst = self.heap.peek().filter(|_| self.heap.len() == self.keep);
        worst.map(|std::cmp::Reverse((rank, _))| *rank)
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
