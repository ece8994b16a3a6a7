//! Reading one generation: `Snapshot` decodes its catalog from an image, `CollectionView` is one
//! collection's parts over that image, with the reads (get, query, count; search is in `search`), row
//! lookup by primary key and the rows a filter accepts.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use super::part::{self, PartView, StoredRow};
use super::{ann, catalog, coerce, corrupt, route, OutputFields, RequestTime, Scope, IMAGE_NAME};
use crate::error::{Error, Result};
use crate::format::{self, Catalog, CollectionEntry, MetaSlot};
use crate::rowview::{RowFilter, RowView, ValueRef};
use crate::schema::CollectionSchema;
use crate::timestamptz::{self, Zone};
use crate::value::{Pk, Row, Value};

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
        Snapshot::open_root(image, meta, path)
    }

    /// The generation whose root is `meta`, over an image that holds it at the db file's offsets (a
    /// segment, whose first page is not a db header, or a file map). `meta.live_bytes` is recomputed
    /// from the catalog.
    pub fn open_root(image: &'a [u8], mut meta: MetaSlot, path: &Path) -> Result<Snapshot<'a>> {
        if !format::meta_is_plausible(&meta, image.len() as u64) {
            return Err(Error::corrupt(path, "generation root outside the image"));
        }
        let cat = &image[meta.catalog_offset as usize..meta.committed_len as usize];
        let catalog = format::decode_catalog(cat, meta.catalog_xxh3, meta.committed_len, path)?;
        meta.live_bytes = catalog.live_bytes(meta.catalog_len);
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

    /// The whole collection (or alias) `name` of database `db`.
    pub fn collection(&self, db: &str, name: &str) -> Result<CollectionView<'_>> {
        CollectionView::new(
            &self.catalog,
            catalog::entry(&self.catalog, db, name)?,
            self.image,
        )
    }

    /// The collection of `scope`, its reads confined to the scope's partitions. Naming partitions of a
    /// partition-key collection is refused, as Milvus refuses it in reads and writes.
    pub fn scoped(&self, scope: Scope<'_>) -> Result<CollectionView<'_>> {
        let view = self.collection(scope.db, scope.collection)?;
        if !scope.partitions.is_empty() && view.schema().partition_key().is_some() {
            return Err(catalog::partitions_named_with_key());
        }
        let mut view = view.confined(scope.partitions)?;
        if let Some(time) = scope.time {
            view.time = time.clone();
        }
        Ok(view)
    }
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
    catalog: &'a Catalog,
    pub(super) entry: &'a CollectionEntry,
    pub(super) image: &'a [u8],
    pub(super) parts: Vec<PartView<'a>>,
    pub(super) pk_col: usize,
    /// The partition ids reads are confined to (ascending); None: every partition.
    scope: Option<Vec<u32>>,
    /// The read's own zone and `time_fields` (`Scope::time`).
    time: RequestTime,
}

/// How much of a part a confined read looks at.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PartScope {
    /// Every row is in scope.
    Whole,
    /// No row is: the part is not read.
    Skip,
    /// Some rows may be: each row's partition is checked.
    Rows,
}

/// One row shown to filters, with the answers to the filter's text queries over its part
/// (`CollectionView::text_answers`).
pub(super) struct RowRef<'v, 'a> {
    pub(super) view: &'v CollectionView<'a>,
    pub(super) id: RowId,
    pub(super) text: &'v [Vec<u64>],
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
    fn text_match(&self, i: usize) -> bool {
        self.text
            .get(i)
            .is_some_and(|bits| part::bit_of(bits, self.id.row))
    }
}

impl<'a> CollectionView<'a> {
    fn new(
        catalog: &'a Catalog,
        entry: &'a CollectionEntry,
        image: &'a [u8],
    ) -> Result<CollectionView<'a>> {
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
            catalog,
            entry,
            image,
            parts,
            pk_col,
            scope: None,
            time: RequestTime::default(),
        })
    }

    /// This view with its reads confined to the partitions named (none: unchanged). A name that is not
    /// a partition is code 200.
    pub fn confined(self, partitions: &[String]) -> Result<CollectionView<'a>> {
        if partitions.is_empty() {
            return Ok(self);
        }
        let ids = partitions
            .iter()
            .map(|name| catalog::partition(self.entry, name).map(|p| p.id))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.confined_to(ids))
    }

    /// This view with its reads confined to the partitions rows with these partition-key values are
    /// routed to (a filter that pins the key, `Predicate::pinned_values`); unchanged without a key.
    pub fn confined_to_keys(self, values: &[Value]) -> CollectionView<'a> {
        if self.entry.schema.partition_key().is_none() {
            return self;
        }
        let partitions = &self.entry.partitions;
        let ids = values
            .iter()
            .filter_map(|v| route::bucket(v, partitions.len() as u32))
            .filter_map(|b| partitions.get(b as usize).map(|p| p.id))
            .collect();
        self.confined_to(ids)
    }

    /// This view with its reads confined to the partitions of these ids.
    pub(super) fn confined_to(mut self, mut ids: Vec<u32>) -> CollectionView<'a> {
        ids.sort_unstable();
        ids.dedup();
        self.scope = Some(ids);
        self
    }

    /// Whether a confined read looks at part `pi`, and how.
    pub(super) fn part_scope(&self, pi: usize) -> PartScope {
        let Some(wanted) = &self.scope else {
            return PartScope::Whole;
        };
        let present = self.parts[pi].partition_ids;
        if present.iter().all(|id| wanted.binary_search(id).is_ok()) {
            PartScope::Whole
        } else if present.iter().any(|id| wanted.binary_search(id).is_ok()) {
            PartScope::Rows
        } else {
            PartScope::Skip
        }
    }

    /// Whether row `id` is in the partitions reads are confined to.
    pub(super) fn in_scope(&self, id: RowId) -> bool {
        match self.part_scope(id.part) {
            PartScope::Whole => true,
            PartScope::Skip => false,
            PartScope::Rows => self.parts[id.part].partition(id.row).is_some_and(|p| {
                self.scope
                    .as_ref()
                    .is_some_and(|wanted| wanted.binary_search(&p).is_ok())
            }),
        }
    }

    pub fn entry(&self) -> &'a CollectionEntry {
        self.entry
    }
    pub fn schema(&self) -> &'a CollectionSchema {
        &self.entry.schema
    }

    /// The zone TIMESTAMPTZ text and ISO literals without an offset are read in: the read's own
    /// (`Scope::time`), else the collection's (`catalog::zone`).
    pub fn zone(&self) -> Result<Zone> {
        match &self.time.zone {
            Some(zone) => Ok(zone.clone()),
            None => catalog::zone(self.catalog, self.entry),
        }
    }

    /// Live rows of the whole collection (whatever the view is confined to).
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

    pub(super) fn field_index(&self, name: &str) -> Option<usize> {
        self.entry.schema.fields.iter().position(|f| f.name == name)
    }

    fn dynamic_text(&self, id: RowId) -> Option<&'a str> {
        self.parts[id.part].dynamic.as_ref()?.text(id.row)
    }

    pub(super) fn pk(&self, id: RowId) -> Result<Pk> {
        self.parts[id.part].cols[self.pk_col]
            .get(id.row)
            .and_then(pk_of)
            .ok_or_else(|| corrupt("primary key value unreadable"))
    }

    /// The live row holding `pk`, if any (and in scope).
    pub fn find(&self, pk: &Pk) -> Option<RowId> {
        self.find_any(pk).filter(|&id| self.in_scope(id))
    }

    /// The live row holding `pk` in any partition.
    fn find_any(&self, pk: &Pk) -> Option<RowId> {
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

    /// Every live row in scope, part by part.
    fn live_rows(&self) -> impl Iterator<Item = RowId> + '_ {
        (0..self.parts.len())
            .filter(|&pi| self.part_scope(pi) != PartScope::Skip)
            .flat_map(|pi| self.part_live_rows(pi))
            .filter(|&id| self.in_scope(id))
    }

    /// The live rows of part `pi`, in row order.
    pub(super) fn part_live_rows(&self, pi: usize) -> impl Iterator<Item = RowId> + '_ {
        let p = &self.parts[pi];
        (0..p.rows)
            .filter(move |&r| p.is_live(r))
            .map(move |row| RowId { part: pi, row })
    }

    /// Live rows the filter accepts (all live rows without one).
    pub fn matching(&self, filter: Option<&dyn RowFilter>) -> Result<Vec<RowId>> {
        let Some(f) = filter else {
            return Ok(self.live_rows().collect());
        };
        let mut out = Vec::new();
        for pi in 0..self.parts.len() {
            if self.part_scope(pi) == PartScope::Skip {
                continue;
            }
            let text = self.text_answers(pi, f)?;
            out.extend(self.part_live_rows(pi).filter(|&id| {
                self.in_scope(id)
                    && f.matches(&RowRef {
                        view: self,
                        id,
                        text: &text,
                    })
            }));
        }
        Ok(out)
    }

    /// The rows of part `pi` each of `filter`'s text queries matches, as bitmaps, from the part's match
    /// indexes: computed once per part, before its rows are shown to the filter.
    pub(super) fn text_answers(&self, pi: usize, filter: &dyn RowFilter) -> Result<Vec<Vec<u64>>> {
        filter
            .text_queries()
            .iter()
            .map(|q| self.parts[pi].text_match(&self.entry.schema, q, self.image))
            .collect()
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
    /// the chosen dynamic keys. With `time_fields`, a TIMESTAMPTZ value is its calendar fields.
    pub(super) fn output_row(&self, id: RowId, out: &OutputFields, with_pk: bool) -> Result<Row> {
        let schema = &self.entry.schema;
        let named = |n: &str| out.names.iter().any(|x| x == n);
        let mut row = Row::new();
        if with_pk {
            row.push((schema.fields[self.pk_col].name.clone(), self.pk(id)?.into()));
        }
        let mut zone = None;
        for (c, f) in schema.fields.iter().enumerate() {
            if c != self.pk_col && (out.all || named(&f.name)) {
                let value = match self.value(id, c)? {
                    Value::Timestamp(t) if !self.time.fields.is_empty() => {
                        let zone = match &zone {
                            Some(z) => z,
                            None => zone.insert(self.zone()?),
                        };
                        let fields = timestamptz::time_fields(t, zone, &self.time.fields);
                        Value::Array(fields.into_iter().map(Value::Int).collect())
                    }
                    v => v,
                };
                row.push((f.name.clone(), value));
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

    /// Full stored row (every field, the dynamic object and the partition), for merges and partial
    /// upserts.
    pub(super) fn stored_row(&self, id: RowId) -> Result<StoredRow> {
        let values = (0..self.entry.schema.fields.len())
            .map(|c| self.value(id, c))
            .collect::<Result<Vec<_>>>()?;
        Ok(StoredRow {
            values,
            dynamic: self.dynamic_map(id)?,
            partition: self.parts[id.part]
                .partition(id.row)
                .ok_or_else(|| corrupt("partition of a row unreadable"))?,
        })
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
        let order = self.matching_in_pk_order(filter)?;
        let page = order.get(offset..).unwrap_or_default();
        self.rows(&page[..page.len().min(limit.unwrap_or(usize::MAX))], out)
    }

    /// The live rows the filter accepts, in primary-key order.
    pub fn matching_in_pk_order(&self, filter: Option<&dyn RowFilter>) -> Result<Vec<RowId>> {
        let mut keyed = self
            .matching(filter)?
            .into_iter()
            .map(|id| Ok((self.pk(id)?, id)))
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(keyed.into_iter().map(|(_, id)| id).collect())
    }

    /// The output rows of `ids` (primary key first), in order.
    pub fn rows(&self, ids: &[RowId], out: &OutputFields) -> Result<Vec<Row>> {
        ids.iter()
            .map(|&id| self.output_row(id, out, true))
            .collect()
    }

    pub fn count(&self, filter: Option<&dyn RowFilter>) -> Result<u64> {
        match (filter, &self.scope) {
            (None, None) => Ok(self.row_count()),
            _ => Ok(self.matching(filter)?.len() as u64),
        }
    }
}
