//! One committed generation as views over its image bytes (`Snapshot`, `CollectionView`), the reads
//! (get, query, count, search), and in `write` the planning of mutations into new parts.
//!
//! Invariant kept by every write: a primary key has at most one live (not deleted) row in a
//! collection. A later write of the same key marks the older row deleted, so reads never deduplicate.

mod ann;
mod coerce;
mod part;
mod request;
mod write;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::Arc;

pub use request::{Hit, OutputFields, SearchRequest};
pub use write::{
    plan_create_collection, plan_create_index, plan_delete, plan_drop_collection, plan_drop_index,
    plan_index_pending, plan_rename_collection, plan_write, Deletion, WriteMode,
};

use crate::error::{Error, Result};
use crate::format::{self, Catalog, CollectionEntry, MetaSlot};
use crate::hnsw::{self, HnswView, Rows, Sq8View, Strategy};
use crate::kernels::{dot, dot_many, inv_norm, l2_many, l2_squared};
use crate::rowview::{RowFilter, RowView, ValueRef};
use crate::schema::{CollectionSchema, IndexKind, Metric};
use crate::value::{Pk, Row, Value};
use part::{bit, slice, ColData, PartView};

const IMAGE_NAME: &str = "<image>";

/// A decoded generation: the catalog, validated against the image it borrows.
pub struct Snapshot<'a> {
    image: &'a [u8],
    catalog: Arc<Catalog>,
    meta: MetaSlot,
}

impl<'a> Snapshot<'a> {
    /// Decodes the header and catalog of `image` and checks every section's bounds (not checksums:
    /// that is `verify`, so attaching stays instant).
    pub fn open(image: &'a [u8]) -> Result<Snapshot<'a>> {
        Snapshot::open_at(image, Path::new(IMAGE_NAME))
    }

    /// `open`, naming `path` in errors.
    pub fn open_at(image: &'a [u8], path: &Path) -> Result<Snapshot<'a>> {
        let (_, meta) = format::decode_header(image, image.len() as u64, path)?;
        let cat = &image[meta.catalog_offset as usize..meta.committed_len as usize];
        let catalog = format::decode_catalog(cat, meta.catalog_xxh3, meta.committed_len, path)?;
        Ok(Snapshot {
            image: &image[..meta.committed_len as usize],
            catalog: Arc::new(catalog),
            meta,
        })
    }

    /// A generation whose catalog was decoded earlier from this same image (cached by `Db`). Views
    /// bounds-check every access, so a mismatched pair gives errors, never undefined behaviour.
    pub fn with_catalog(image: &'a [u8], catalog: Arc<Catalog>, meta: MetaSlot) -> Snapshot<'a> {
        Snapshot {
            image,
            catalog,
            meta,
        }
    }

    pub fn shared_catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    pub fn meta(&self) -> &MetaSlot {
        &self.meta
    }
    pub fn image(&self) -> &'a [u8] {
        self.image
    }

    /// Checks every section's checksum (the full walk of `covec verify`).
    pub fn verify(&self, path: &Path) -> Result<()> {
        format::verify_sections(&self.catalog, self.image, path)
    }

    pub fn collection(&self, name: &str) -> Result<CollectionView<'_>> {
        let entry = self
            .catalog
            .collection(name)
            .ok_or_else(|| Error::CollectionNotFound { name: name.into() })?;
        CollectionView::new(entry, self.image)
    }
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt(IMAGE_NAME, reason)
}

fn pk_of(v: ValueRef<'_>) -> Option<Pk> {
    match v {
        ValueRef::Int(i) => Some(Pk::Int(i)),
        ValueRef::Str(s) => Some(Pk::Str(s.to_owned())),
        _ => None,
    }
}

fn cmp_pk_ref(v: ValueRef<'_>, pk: &Pk) -> Option<Ordering> {
    match (v, pk) {
        (ValueRef::Int(a), Pk::Int(b)) => Some(a.cmp(b)),
        (ValueRef::Str(a), Pk::Str(b)) => Some(a.cmp(b.as_str())),
        _ => None,
    }
}

/// Where a row lives: part index and row number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowId {
    pub part: usize,
    pub row: usize,
}

/// A collection of one generation: its schema and its parts' columns.
pub struct CollectionView<'a> {
    entry: &'a CollectionEntry,
    image: &'a [u8],
    parts: Vec<PartView<'a>>,
    pk_col: usize,
}

/// One row shown to filters.
struct RowRef<'v, 'a> {
    view: &'v CollectionView<'a>,
    id: RowId,
}

impl RowView for RowRef<'_, '_> {
    fn value(&self, field: &str) -> ValueRef<'_> {
        self.view
            .field_index(field)
            .and_then(|c| self.view.parts[self.id.part].cols[c].get(self.id.row))
            .unwrap_or(ValueRef::Null)
    }
    fn dynamic(&self) -> Option<&str> {
        self.view.dynamic_text(self.id)
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

impl<'a> CollectionView<'a> {
    fn new(entry: &'a CollectionEntry, image: &'a [u8]) -> Result<CollectionView<'a>> {
        let parts = entry
            .parts
            .iter()
            .map(|p| PartView::new(&entry.schema, p, image))
            .collect::<Result<Vec<_>>>()?;
        let pk_col = entry
            .schema
            .fields
            .iter()
            .position(|f| f.is_primary)
            .ok_or_else(|| corrupt("schema without primary key"))?;
        Ok(CollectionView {
            entry,
            image,
            parts,
            pk_col,
        })
    }

    pub fn entry(&self) -> &'a CollectionEntry {
        self.entry
    }
    pub fn schema(&self) -> &'a CollectionSchema {
        &self.entry.schema
    }

    /// Live rows.
    pub fn row_count(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.rows as u64 - p.deleted_count)
            .sum()
    }

    /// Live rows outside every graph (the exact-searched tail) when the collection has an approximate
    /// index and enough rows for a graph; 0 otherwise (an exact scan is then the index).
    pub fn pending_index_rows(&self) -> Result<u64> {
        let fields = ann::graph_fields(self.entry)?;
        if fields.is_empty() || self.row_count() < ann::MIN_GRAPH_ROWS {
            return Ok(0);
        }
        Ok(self
            .entry
            .parts
            .iter()
            .filter(|p| !ann::covers(&p.ann, &fields))
            .map(|p| p.rows.saturating_sub(p.deleted_count))
            .sum())
    }

    fn field_index(&self, name: &str) -> Option<usize> {
        self.entry.schema.fields.iter().position(|f| f.name == name)
    }

    fn dynamic_text(&self, id: RowId) -> Option<&'a str> {
        self.parts[id.part].dynamic.as_ref()?.text(id.row)
    }

    fn pk(&self, id: RowId) -> Result<Pk> {
        self.parts[id.part].cols[self.pk_col]
            .get(id.row)
            .and_then(pk_of)
            .ok_or_else(|| corrupt("primary key value unreadable"))
    }

    /// The live row holding `pk`, if any.
    pub fn find(&self, pk: &Pk) -> Option<RowId> {
        for (pi, part) in self.parts.iter().enumerate().rev() {
            let col = &part.cols[self.pk_col];
            let (mut lo, mut hi) = (0usize, part.rows);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let row = part.pk_order(mid)?;
                match cmp_pk_ref(col.get(row)?, pk)? {
                    Ordering::Less => lo = mid + 1,
                    Ordering::Greater => hi = mid,
                    Ordering::Equal => {
                        if part.is_live(row) {
                            return Some(RowId { part: pi, row });
                        }
                        break;
                    }
                }
            }
        }
        None
    }

    /// Every live row, part by part.
    fn live_rows(&self) -> impl Iterator<Item = RowId> + '_ {
        (0..self.parts.len()).flat_map(|pi| self.part_live_rows(pi))
    }

    /// The live rows of part `pi`, in row order.
    fn part_live_rows(&self, pi: usize) -> impl Iterator<Item = RowId> + '_ {
        let p = &self.parts[pi];
        (0..p.rows)
            .filter(move |&r| p.is_live(r))
            .map(move |row| RowId { part: pi, row })
    }

    /// Live rows the filter accepts (all live rows without one).
    pub fn matching(&self, filter: Option<&dyn RowFilter>) -> Vec<RowId> {
        match filter {
            None => self.live_rows().collect(),
            Some(f) => self
                .live_rows()
                .filter(|&id| f.matches(&RowRef { view: self, id }))
                .collect(),
        }
    }

    /// The value of field `c` as an owned `Value` of the field's type.
    fn value(&self, id: RowId, c: usize) -> Result<Value> {
        let v = self.parts[id.part].cols[c].get(id.row).ok_or_else(|| {
            corrupt(format!(
                "field '{}' unreadable",
                self.entry.schema.fields[c].name
            ))
        })?;
        coerce::owned(v)
    }

    /// The row's dynamic keys as a JSON object (empty without dynamic fields).
    fn dynamic_map(&self, id: RowId) -> Result<serde_json::Map<String, serde_json::Value>> {
        if self.parts[id.part].dynamic.is_none() {
            return Ok(serde_json::Map::new());
        }
        let text = self
            .dynamic_text(id)
            .ok_or_else(|| corrupt("dynamic field unreadable"))?;
        match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(corrupt("dynamic field is not a JSON object")),
        }
    }

    /// The output row: pk first (if `with_pk`), then the chosen schema fields in schema order, then
    /// the chosen dynamic keys.
    fn output_row(&self, id: RowId, out: &OutputFields, with_pk: bool) -> Result<Row> {
        let schema = &self.entry.schema;
        let named = |n: &str| out.names.iter().any(|x| x == n);
        let mut row = Row::new();
        if with_pk {
            row.push((schema.fields[self.pk_col].name.clone(), self.pk(id)?.into()));
        }
        for (c, f) in schema.fields.iter().enumerate() {
            if c != self.pk_col && (out.all || named(&f.name)) {
                row.push((f.name.clone(), self.value(id, c)?));
            }
        }
        if schema.enable_dynamic_field {
            let all_dynamic = out.all || named("$meta");
            for (k, v) in self.dynamic_map(id)? {
                if all_dynamic || (named(&k) && schema.field(&k).is_none()) {
                    row.push((k, Value::Json(v)));
                }
            }
        }
        Ok(row)
    }

    /// Full stored row (every field and the dynamic object), for merges and partial upserts.
    pub(crate) fn stored_row(
        &self,
        id: RowId,
    ) -> Result<(Vec<Value>, serde_json::Map<String, serde_json::Value>)> {
        let values = (0..self.entry.schema.fields.len())
            .map(|c| self.value(id, c))
            .collect::<Result<Vec<_>>>()?;
        Ok((values, self.dynamic_map(id)?))
    }

    pub fn get(&self, ids: &[Pk], out: &OutputFields) -> Result<Vec<Row>> {
        ids.iter()
            .filter_map(|pk| self.find(pk))
            .map(|id| self.output_row(id, out, true))
            .collect()
    }

    /// Matching rows in primary-key order, after `offset`, at most `limit`.
    pub fn query(
        &self,
        filter: Option<&dyn RowFilter>,
        out: &OutputFields,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<Row>> {
        let mut keyed = self
            .matching(filter)
            .into_iter()
            .map(|id| Ok((self.pk(id)?, id)))
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        keyed
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|(_, id)| self.output_row(id, out, true))
            .collect()
    }

    pub fn count(&self, filter: Option<&dyn RowFilter>) -> u64 {
        match filter {
            None => self.row_count(),
            Some(_) => self.matching(filter).len() as u64,
        }
    }

    /// Exact top-k per query vector, best first. `request.filter` is not read: the caller compiles it.
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
        let ColData::Vector {
            data, inv_norms, ..
        } = &col.data
        else {
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
                        Metric::L2 => l2_squared(q, v),
                        Metric::Ip | Metric::Cosine => dot(q, v),
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
                Metric::L2 => l2_many(q, block, dim, scratch),
                Metric::Ip | Metric::Cosine => dot_many(q, block, dim, scratch),
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
            Metric::L2 | Metric::Ip => raw,
            Metric::Cosine => raw * q_inv * self.inv_norms[row],
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

/// The cores this process may run on.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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
