//! The part codec: how a part's rows are laid out in its sections, both ways (docs/format.md, "Parts").
//! `build_part` encodes rows in stored form as a new part's sections (columns, validity bitmaps, the
//! primary-key order, graphs); `delete_rows` writes a part's next deletion bitmap; `PartView` and
//! `ColView` decode a part's sections in a mapped image, checking every bound.

use serde_json::{Map, Value as Json};

use super::coerce::pk_of;
use super::{ann, corrupt};
use crate::error::{Error, Result};
use crate::format::{bitmap_len, AnnIndex, Column, Part, Section};
use crate::hnsw::HnswView;
use crate::kernels::inv_norm;
use crate::rowview::ValueRef;
use crate::schema::{CollectionSchema, DataType};
use crate::store::CommitBuilder;
use crate::value::Value;

/// A row in stored form: one value per schema field (of the field's type) and the dynamic keys.
#[derive(Clone)]
pub(super) struct StoredRow {
    pub(super) values: Vec<Value>,
    pub(super) dynamic: Map<String, Json>,
}

pub(super) fn slice<'a>(image: &'a [u8], s: &Section) -> Result<&'a [u8]> {
    usize::try_from(s.offset)
        .ok()
        .zip(usize::try_from(s.len).ok())
        .and_then(|(o, l)| image.get(o..o.checked_add(l)?))
        .ok_or_else(|| corrupt(format!("section at {} outside the image", s.offset)))
}

fn as_f32s(bytes: &[u8]) -> Result<&[f32]> {
    // SAFETY: every bit pattern is a valid f32; alignment is checked by requiring empty ends.
    let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(corrupt("vector section is not 4-byte aligned in memory"));
    }
    Ok(floats)
}

pub(super) fn bit(bitmap: &[u8], row: usize) -> bool {
    bitmap.get(row / 8).is_some_and(|b| b >> (row % 8) & 1 == 1)
}

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    let s = b.get(i * 8..i * 8 + 8)?;
    let mut x = [0u8; 8];
    x.copy_from_slice(s);
    Some(u64::from_le_bytes(x))
}

/// Variable-length values: rows+1 u64 offsets into `bytes`.
#[derive(Clone, Copy)]
pub(super) struct VarView<'a> {
    offsets: &'a [u8],
    bytes: &'a [u8],
}

impl<'a> VarView<'a> {
    /// None when the offsets or the UTF-8 are damaged.
    pub(super) fn text(&self, row: usize) -> Option<&'a str> {
        let start = usize::try_from(u64_at(self.offsets, row)?).ok()?;
        let end = usize::try_from(u64_at(self.offsets, row + 1)?).ok()?;
        std::str::from_utf8(self.bytes.get(start..end)?).ok()
    }
}

pub(super) enum ColData<'a> {
    Fixed(&'a [u8]),
    Var(VarView<'a>),
    Vector {
        dim: usize,
        data: &'a [f32],
        inv_norms: &'a [f32],
    },
}

pub(super) struct ColView<'a> {
    pub(super) dtype: DataType,
    pub(super) data: ColData<'a>,
    pub(super) validity: Option<&'a [u8]>,
}

impl<'a> ColView<'a> {
    /// The value at `row`; None when the bytes are damaged.
    pub(super) fn get(&self, row: usize) -> Option<ValueRef<'a>> {
        if let Some(v) = self.validity {
            if !bit(v, row) {
                return Some(ValueRef::Null);
            }
        }
        Some(match &self.data {
            ColData::Fixed(d) => {
                let w = self.dtype.fixed_width()?;
                let b = d.get(row * w..row * w + w)?;
                let mut x = [0u8; 8];
                x[..w].copy_from_slice(b);
                match self.dtype {
                    DataType::Bool => ValueRef::Bool(b[0] != 0),
                    DataType::Int8 => ValueRef::Int(i64::from(b[0] as i8)),
                    DataType::Int16 => ValueRef::Int(i64::from(i16::from_le_bytes([b[0], b[1]]))),
                    DataType::Int32 => {
                        ValueRef::Int(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    }
                    DataType::Int64 => ValueRef::Int(i64::from_le_bytes(x)),
                    DataType::Float => {
                        ValueRef::Float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    }
                    DataType::Double => ValueRef::Float(f64::from_le_bytes(x)),
                    _ => return None,
                }
            }
            ColData::Var(v) => {
                let t = v.text(row)?;
                if self.dtype == DataType::Json {
                    ValueRef::Json(t)
                } else {
                    ValueRef::Str(t)
                }
            }
            ColData::Vector { dim, data, .. } => {
                ValueRef::Vector(data.get(row * dim..row * dim + dim)?)
            }
        })
    }
}

/// One part's columns over the image.
pub(super) struct PartView<'a> {
    pub(super) rows: usize,
    pub(super) cols: Vec<ColView<'a>>,
    pub(super) dynamic: Option<VarView<'a>>,
    pub(super) pk_index: &'a [u8],
    pub(super) deleted: Option<&'a [u8]>,
    pub(super) deleted_count: u64,
    pub(super) ann: &'a [AnnIndex],
}

impl<'a> PartView<'a> {
    pub(super) fn new(
        schema: &CollectionSchema,
        part: &'a Part,
        image: &'a [u8],
    ) -> Result<PartView<'a>> {
        let mut cols = Vec::with_capacity(part.columns.len());
        for (f, c) in schema.fields.iter().zip(&part.columns) {
            let data = slice(image, &c.data)?;
            let data = match f.dtype {
                DataType::VarChar | DataType::Json => ColData::Var(VarView {
                    offsets: slice(
                        image,
                        c.offsets.as_ref().ok_or_else(|| corrupt("no offsets"))?,
                    )?,
                    bytes: data,
                }),
                DataType::FloatVector => ColData::Vector {
                    dim: f.dim.unwrap_or(0) as usize,
                    data: as_f32s(data)?,
                    inv_norms: as_f32s(slice(
                        image,
                        c.inv_norms.as_ref().ok_or_else(|| corrupt("no norms"))?,
                    )?)?,
                },
                _ => ColData::Fixed(data),
            };
            let validity = c.validity.as_ref().map(|v| slice(image, v)).transpose()?;
            cols.push(ColView {
                dtype: f.dtype,
                data,
                validity,
            });
        }
        let dynamic = match &part.dynamic {
            Some(d) => Some(VarView {
                offsets: slice(
                    image,
                    d.offsets.as_ref().ok_or_else(|| corrupt("no offsets"))?,
                )?,
                bytes: slice(image, &d.data)?,
            }),
            None => None,
        };
        Ok(PartView {
            rows: part.rows as usize,
            cols,
            dynamic,
            pk_index: slice(image, &part.pk_index)?,
            deleted: part.deleted.as_ref().map(|d| slice(image, d)).transpose()?,
            deleted_count: part.deleted_count,
            ann: &part.ann,
        })
    }

    pub(super) fn is_live(&self, row: usize) -> bool {
        !self.deleted.is_some_and(|d| bit(d, row))
    }

    /// The row number at position `i` of the primary-key order.
    pub(super) fn pk_order(&self, i: usize) -> Option<usize> {
        let b = self.pk_index.get(i * 4..i * 4 + 4)?;
        let r = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        (r < self.rows).then_some(r)
    }
}

/// Encodes `rows` (values already of their fields' types, in insertion order) as a new part with a
/// graph for each of `graphs`, each extending its `bases` entry when there is one; None for no rows.
/// A part with graphs stores its rows in the graphs' locality order, and the graphs record the
/// insertion order.
pub(super) fn build_part(
    schema: &CollectionSchema,
    rows: &[StoredRow],
    b: &mut CommitBuilder,
    graphs: &[ann::GraphField],
    bases: &[Option<HnswView>],
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
        let dim = schema.fields[g.field].dim.unwrap_or(0) as usize;
        let mut vectors = Vec::with_capacity(n * dim);
        for r in rows {
            match &r.values[g.field] {
                Value::FloatVector(x) if x.len() == dim => vectors.extend_from_slice(x),
                // A null vector is stored as zeros; it stays unreachable as a hit (validity).
                _ => vectors.resize(vectors.len() + dim, 0.0),
            }
        }
        built.push(ann::build_graph(g, vectors, dim, base.as_ref())?);
    }
    let slots = built.first().map(ann::BuiltGraph::storage_slots);
    let mut stored: Vec<&StoredRow> = rows.iter().collect();
    for (row, &slot) in rows.iter().zip(slots.iter().flatten()) {
        stored[slot as usize] = row;
    }
    let rows = &stored[..];
    let mut columns = Vec::with_capacity(schema.fields.len());
    for (c, f) in schema.fields.iter().enumerate() {
        let vals = rows.iter().map(|r| &r.values[c]);
        let mut col = match f.dtype {
            DataType::VarChar | DataType::Json => {
                let texts: Vec<String> = vals
                    .map(|v| match v {
                        Value::Str(s) => s.clone(),
                        Value::Json(j) => j.to_string(),
                        _ => String::new(),
                    })
                    .collect();
                var_column(&texts, b)
            }
            DataType::FloatVector => {
                let dim = f.dim.unwrap_or(0) as usize;
                let mut data = Vec::with_capacity(n * dim * 4);
                let mut norms = Vec::with_capacity(n * 4);
                for v in vals {
                    match v {
                        Value::FloatVector(x) if x.len() == dim => {
                            x.iter()
                                .for_each(|f| data.extend_from_slice(&f.to_le_bytes()));
                            norms.extend_from_slice(&inv_norm(x).to_le_bytes());
                        }
                        _ => {
                            data.resize(data.len() + dim * 4, 0);
                            norms.extend_from_slice(&0f32.to_le_bytes());
                        }
                    }
                }
                Column {
                    data: b.push(&data),
                    offsets: None,
                    inv_norms: Some(b.push(&norms)),
                    validity: None,
                }
            }
            t => {
                let w = t.fixed_width().unwrap_or(0);
                let mut data = Vec::with_capacity(n * w);
                for v in vals {
                    match (t, v) {
                        (DataType::Bool, Value::Bool(x)) => data.push(u8::from(*x)),
                        (DataType::Int8, Value::Int(i)) => data.push(*i as i8 as u8),
                        (DataType::Int16, Value::Int(i)) => {
                            data.extend_from_slice(&(*i as i16).to_le_bytes())
                        }
                        (DataType::Int32, Value::Int(i)) => {
                            data.extend_from_slice(&(*i as i32).to_le_bytes())
                        }
                        (DataType::Int64, Value::Int(i)) => {
                            data.extend_from_slice(&i.to_le_bytes())
                        }
                        (DataType::Float, Value::Float(x)) => {
                            data.extend_from_slice(&(*x as f32).to_le_bytes())
                        }
                        (DataType::Double, Value::Float(x)) => {
                            data.extend_from_slice(&x.to_le_bytes())
                        }
                        _ => data.resize(data.len() + w, 0),
                    }
                }
                Column {
                    data: b.push(&data),
                    offsets: None,
                    inv_norms: None,
                    validity: None,
                }
            }
        };
        if f.nullable {
            let present = rows.iter().map(|r| r.values[c] != Value::Null);
            col.validity = Some(b.push(&bitmap_of(present, n)));
        }
        columns.push(col);
    }
    let dynamic = if schema.enable_dynamic_field {
        let texts: Vec<String> = rows
            .iter()
            .map(|r| Json::Object(r.dynamic.clone()).to_string())
            .collect();
        Some(var_column(&texts, b))
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
    }))
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
    for &r in rows {
        if let Some(byte) = bitmap.get_mut(r / 8) {
            *byte |= 1 << (r % 8);
        }
    }
    part.deleted_count = bitmap.iter().map(|x| u64::from(x.count_ones())).sum();
    part.deleted = Some(b.push(&bitmap));
    Ok(())
}

fn bitmap_of(present: impl Iterator<Item = bool>, rows: usize) -> Vec<u8> {
    let mut b = vec![0u8; rows.div_ceil(8)];
    for (i, p) in present.enumerate() {
        if p {
            b[i / 8] |= 1 << (i % 8);
        }
    }
    b
}

fn var_column(texts: &[String], b: &mut CommitBuilder) -> Column {
    let mut offsets = Vec::with_capacity((texts.len() + 1) * 8);
    let mut bytes = Vec::new();
    offsets.extend_from_slice(&0u64.to_le_bytes());
    for t in texts {
        bytes.extend_from_slice(t.as_bytes());
        offsets.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    }
    let data = b.push(&bytes);
    Column {
        data,
        offsets: Some(b.push(&offsets)),
        inv_norms: None,
        validity: None,
    }
}
