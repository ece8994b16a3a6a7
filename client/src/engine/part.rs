//! The part codec: how a part's rows are laid out in its sections, both ways (docs/format.md, "Parts").
//! `build_part` encodes rows in stored form as a new part's sections (columns, validity bitmaps, the
//! primary-key order, graphs); `delete_rows` writes a part's next deletion bitmap; `PartView` decodes
//! a part's sections in a mapped image, checking every bound. Each column's layout, both ways, is
//! `column`'s.

mod column;

use serde_json::{Map, Value as Json};

use super::coerce::pk_of;
use super::{ann, corrupt};
use crate::error::{Error, Result};
use crate::format::{bitmap_len, AnnIndex, Part, PartPartitions, Section, TextIndex};
use crate::fulltext::FullText;
use crate::hnsw::HnswView;
use crate::rowview::{TextQuery, ValueRef};
use crate::schema::{CollectionSchema, DataType};
use crate::sparse::{Bm25Stats, Bm25StatsView, SparseColumnView, SparseIndexView, SparseMetric};
use crate::store::CommitBuilder;
use crate::text::{MatchIndexBuilder, MatchIndexView};
use crate::value::Value;
pub(super) use column::{ColView, VarView, VectorColumn};

/// A row in stored form: one value per schema field (of the field's type), the dynamic keys and the
/// id of the partition it is in.
#[derive(Clone)]
pub(super) struct StoredRow {
    pub(super) values: Vec<Value>,
    pub(super) dynamic: Map<String, Json>,
    pub(super) partition: u32,
}

/// The bytes of section `s` in `image`; Corrupt when it lies outside.
pub(super) fn slice<'a>(image: &'a [u8], s: &Section) -> Result<&'a [u8]> {
    usize::try_from(s.offset)
        .ok()
        .zip(usize::try_from(s.len).ok())
        .and_then(|(o, l)| image.get(o..o.checked_add(l)?))
        .ok_or_else(|| corrupt(format!("section at {} outside the image", s.offset)))
}

/// Bit `row` (LSB first) of a bitmap; false past its end.
pub(super) fn bit(bitmap: &[u8], row: usize) -> bool {
    bitmap.get(row / 8).is_some_and(|b| b >> (row % 8) & 1 == 1)
}

/// Bit `row` of a bitmap of u64 words (LSB first); false past its end.
pub(super) fn bit_of(words: &[u64], row: usize) -> bool {
    words
        .get(row / 64)
        .is_some_and(|w| w >> (row % 64) & 1 == 1)
}

/// The i-th little-endian u64 of `b`.
fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    let s = b.get(i * 8..i * 8 + 8)?;
    let mut x = [0u8; 8];
    x.copy_from_slice(s);
    Some(u64::from_le_bytes(x))
}

/// The i-th little-endian u32 of `b`.
fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i * 4..i * 4 + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// One part's columns over the image.
pub(super) struct PartView<'a> {
    pub(super) rows: usize,
    /// One per schema field: a field added after the part was written reads as its default, else null.
    pub(super) cols: Vec<ColView<'a>>,
    pub(super) dynamic: Option<VarView<'a>>,
    pub(super) pk_index: &'a [u8],
    pub(super) deleted: Option<&'a [u8]>,
    pub(super) deleted_count: u64,
    pub(super) ann: &'a [AnnIndex],
    /// Inverted indexes over sparse-vector and text fields.
    pub(super) text: &'a [TextIndex],
    /// The partitions present (ascending) and, when more than one, each row's.
    pub(super) partition_ids: &'a [u32],
    partition_rows: Option<&'a [u8]>,
}

impl<'a> PartView<'a> {
    pub(super) fn new(
        schema: &'a CollectionSchema,
        part: &'a Part,
        image: &'a [u8],
    ) -> Result<PartView<'a>> {
        let cols = schema
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| match part.columns.get(i) {
                Some(c) => ColView::new(f, c, part.rows as usize, image),
                None => Ok(ColView::absent(f)),
            })
            .collect::<Result<Vec<_>>>()?;
        let dynamic = part
            .dynamic
            .as_ref()
            .map(|d| VarView::new(d, image))
            .transpose()?;
        Ok(PartView {
            rows: part.rows as usize,
            cols,
            dynamic,
            pk_index: slice(image, &part.pk_index)?,
            deleted: part.deleted.as_ref().map(|d| slice(image, d)).transpose()?,
            deleted_count: part.deleted_count,
            ann: &part.ann,
            text: &part.text,
            partition_ids: &part.partitions.ids,
            partition_rows: part
                .partitions
                .rows
                .as_ref()
                .map(|s| slice(image, s))
                .transpose()?,
        })
    }

    pub(super) fn is_live(&self, row: usize) -> bool {
        !self.deleted.is_some_and(|d| bit(d, row))
    }

    /// The id of the partition `row` is in; None when the bytes are damaged (a row's id must be one of
    /// the part's).
    pub(super) fn partition(&self, row: usize) -> Option<u32> {
        match self.partition_rows {
            Some(ids) => u32_at(ids, row).filter(|id| self.partition_ids.binary_search(id).is_ok()),
            None => self.partition_ids.first().copied(),
        }
    }

    /// The rows of this part that match `q`, as a bitmap, from the field's match index. A part written before
    /// the field was added has no column and no index for it: all its rows read as the field's default, which
    /// matches or not as one text.
    pub(super) fn text_match(
        &self,
        schema: &CollectionSchema,
        q: &TextQuery,
        image: &[u8],
    ) -> Result<Vec<u64>> {
        let index = self
            .text
            .iter()
            .find(|t| t.field as usize == q.field && t.kind == TextIndex::MATCH);
        match (index, self.cols[q.field].get(0)) {
            (Some(t), _) => {
                MatchIndexView::wrap(slice(image, &t.index)?, self.rows)?.matching(&q.query)
            }
            (None, Some(ValueRef::Str(default))) if self.cols[q.field].is_absent() => {
                let analyzer = FullText::of(schema)?
                    .match_analyzer(q.field)
                    .cloned()
                    .ok_or_else(|| corrupt("text query on a field without match"))?;
                let all = q.query.matches_tokens(&analyzer.tokens(default));
                Ok(vec![if all { u64::MAX } else { 0 }; self.rows.div_ceil(64)])
            }
            (None, _) if self.cols[q.field].is_absent() || self.rows == 0 => {
                Ok(vec![0; self.rows.div_ceil(64)])
            }
            (None, _) => Err(corrupt(format!(
                "a part lacks the match index of field '{}'",
                schema.fields[q.field].name
            ))),
        }
    }

    /// The row number at position `i` of the primary-key order.
    pub(super) fn pk_order(&self, i: usize) -> Option<usize> {
        let b = self.pk_index.get(i * 4..i * 4 + 4)?;
        let r = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        (r < self.rows).then_some(r)
    }
}

/// Encodes `rows` (values already of their fields' types, in insertion order) as a new part with a
/// graph for each of `graphs`, each extending its `bases` entry when there is one, and an inverted
/// index for each sparse field in `sparse_indexed` (schema positions); None for no rows.
/// A part with graphs stores its rows in the graphs' locality order, and the graphs record the
/// insertion order.
pub(super) fn build_part(
    schema: &CollectionSchema,
    rows: &[StoredRow],
    b: &mut CommitBuilder,
    graphs: &[ann::GraphField],
    bases: &[Option<HnswView>],
    sparse_indexed: &[(usize, SparseMetric)],
) -> Result<Option<Part>> {
    if rows.is_empty() {
        return Ok(None);
    }
    if rows.len() > u32::MAX as usize {
        return Err(Error::invalid("a write may hold at most 2^32 - 1 rows"));
    }
    let n = rows.len();
    // Graphs first: each is built over the rows in insertion order, and the first one's
    // `storage_slots` fix the order the rows are stored in; every graph is renumbered to it.
    let mut built = Vec::with_capacity(graphs.len());
    for (g, base) in graphs.iter().zip(bases) {
        let f = &schema.fields[g.field];
        let dim = f.dim.unwrap_or(0) as usize;
        // A null vector is stored as zeros; it stays unreachable as a hit (validity).
        fn gather<T: Copy + Default>(
            rows: &[StoredRow],
            c: usize,
            dim: usize,
            of: impl Fn(&Value) -> Option<&Vec<T>>,
        ) -> Vec<T> {
            let mut out = Vec::with_capacity(rows.len() * dim);
            for r in rows {
                match of(&r.values[c]) {
                    Some(x) if x.len() == dim => out.extend_from_slice(x),
                    _ => out.resize(out.len() + dim, T::default()),
                }
            }
            out
        }
        let c = g.field;
        let graph_rows = match f.dtype {
            DataType::Float16Vector => ann::GraphRows::F16(gather(rows, c, dim, |v| match v {
                Value::Float16Vector(x) => Some(x),
                _ => None,
            })),
            DataType::BFloat16Vector => ann::GraphRows::BF16(gather(rows, c, dim, |v| match v {
                Value::BFloat16Vector(x) => Some(x),
                _ => None,
            })),
            DataType::Int8Vector => ann::GraphRows::I8(gather(rows, c, dim, |v| match v {
                Value::Int8Vector(x) => Some(x),
                _ => None,
            })),
            _ => ann::GraphRows::F32(gather(rows, c, dim, |v| match v {
                Value::FloatVector(x) => Some(x),
                _ => None,
            })),
        };
        built.push(ann::build_graph(g, graph_rows, dim, base.as_ref())?);
    }
    let slots = built.first().map(ann::BuiltGraph::storage_slots);
    let mut stored: Vec<&StoredRow> = rows.iter().collect();
    for (row, &slot) in rows.iter().zip(slots.iter().flatten()) {
        stored[slot as usize] = row;
    }
    let rows = &stored[..];
    let mut columns = Vec::with_capacity(schema.fields.len());
    let mut text = Vec::with_capacity(sparse_indexed.len());
    for (c, f) in schema.fields.iter().enumerate() {
        let values: Vec<&Value> = rows.iter().map(|r| &r.values[c]).collect();
        columns.push(column::encode(f, &values, b)?);
        if let Some(&(_, metric)) = sparse_indexed.iter().find(|(field, _)| *field == c) {
            text.push(TextIndex {
                field: c as u32,
                kind: TextIndex::SPARSE,
                index: b.push(&column::sparse_index(&values, metric)?),
                stats: None,
            });
        }
    }
    text.extend(match_indexes(schema, rows, b)?);
    let dynamic = if schema.enable_dynamic_field {
        let texts: Vec<String> = rows
            .iter()
            .map(|r| Json::Object(r.dynamic.clone()).to_string())
            .collect();
        Some(column::encode_text(&texts, b))
    } else {
        None
    };
    let pk_col = schema
        .fields
        .iter()
        .position(|f| f.is_primary)
        .ok_or_else(|| Error::Internal("schema without primary key".into()))?;
    let keys = rows
        .iter()
        .map(|r| pk_of(&r.values[pk_col]))
        .collect::<Result<Vec<_>>>()?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
    let pk_index: Vec<u8> = order.iter().flat_map(|r| r.to_le_bytes()).collect();
    let ann = match &slots {
        Some(slots) => built
            .into_iter()
            .map(|g| g.push(slots, b))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(Some(Part {
        rows: n as u64,
        columns,
        dynamic,
        pk_index: b.push(&pk_index),
        deleted: None,
        deleted_count: 0,
        ann,
        partitions: part_partitions(rows, b),
        text,
    }))
}

/// The match index of each match-enabled field over `rows` (in stored order).
fn match_indexes(
    schema: &CollectionSchema,
    rows: &[&StoredRow],
    b: &mut CommitBuilder,
) -> Result<Vec<TextIndex>> {
    let full_text = FullText::of(schema)?;
    let mut out = Vec::with_capacity(full_text.match_fields.len());
    for (c, analyzer) in &full_text.match_fields {
        let mut index = MatchIndexBuilder::new();
        for r in rows {
            match &r.values[*c] {
                Value::Str(text) => index.add_row(&analyzer.tokens(text))?,
                _ => index.add_row(&[])?,
            }
        }
        out.push(TextIndex {
            field: *c as u32,
            kind: TextIndex::MATCH,
            index: b.push(&index.finish()?),
            stats: None,
        });
    }
    Ok(out)
}

/// The partitions of `rows` (in stored order): their ids, and each row's when there are several.
fn part_partitions(rows: &[&StoredRow], b: &mut CommitBuilder) -> PartPartitions {
    let mut ids: Vec<u32> = rows.iter().map(|r| r.partition).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = (ids.len() > 1).then(|| {
        let column: Vec<u8> = rows
            .iter()
            .flat_map(|r| r.partition.to_le_bytes())
            .collect();
        b.push(&column)
    });
    PartPartitions { ids, rows }
}

/// Marks `rows` of `part` (as stored in `image`) deleted: pushes the part's next deletion bitmap.
pub(super) fn delete_rows(
    image: &[u8],
    part: &mut Part,
    rows: &[usize],
    b: &mut CommitBuilder,
) -> Result<()> {
    let mut bitmap = match &part.deleted {
        Some(s) => slice(image, s)?.to_vec(),
        None => vec![0u8; bitmap_len(part.rows) as usize],
    };
    let newly: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&r| r < part.rows as usize && !bit(&bitmap, r))
        .collect();
    for &r in &newly {
        bitmap[r / 8] |= 1 << (r % 8);
    }
    part.deleted_count = bitmap.iter().map(|x| u64::from(x.count_ones())).sum();
    part.deleted = Some(b.push(&bitmap));
    add_deleted_statistics(image, part, &newly, b)
}

/// Adds the BM25 statistics of `rows` (deleted now) to the deleted-rows statistics of each BM25 index of
/// the part, so that the collection's statistics (its parts' minus their deleted rows') stay exact.
fn add_deleted_statistics(
    image: &[u8],
    part: &mut Part,
    rows: &[usize],
    b: &mut CommitBuilder,
) -> Result<()> {
    let n = part.rows as usize;
    for t in part.text.iter_mut().filter(|t| t.kind == TextIndex::SPARSE) {
        let index = SparseIndexView::wrap(slice(image, &t.index)?, n)?;
        if !matches!(index.metric(), SparseMetric::Bm25(_)) {
            continue;
        }
        let column = part
            .columns
            .get(t.field as usize)
            .ok_or_else(|| corrupt("a BM25 index without its column"))?;
        let column = SparseColumnView::wrap(slice(image, &column.data)?, n)?;
        let mut stats = match &t.stats {
            Some(s) => Bm25StatsView::wrap(slice(image, s)?)?.to_stats()?,
            None => Bm25Stats::default(),
        };
        for &r in rows {
            stats.add_doc(column.row(r)?)?;
        }
        t.stats = Some(b.push(&stats.to_bytes()));
    }
    Ok(())
}

/// A bitmap of `rows` bits, bit i (LSB first) set when the i-th of `present` is.
fn bitmap_of(present: impl Iterator<Item = bool>, rows: usize) -> Vec<u8> {
    let mut b = vec![0u8; rows.div_ceil(8)];
    for (i, p) in present.enumerate() {
        if p {
            b[i / 8] |= 1 << (i % 8);
        }
    }
    b
}
