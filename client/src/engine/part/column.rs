//! One column of a part, both ways: how each field type's values are laid out in the column's sections
//! (docs/format.md, "Columns"). A column type is added here and nowhere else in the codec: a `Layout`
//! (the matches on `DataType` below have no catch-all, so a new type does not compile until it has
//! one), its encoding in `encode` and its decoding in `ColView::new` and `ColView::get`. Outside the
//! codec a new type also needs its coercion (engine/coerce.rs), its catalog checks (format.rs) and a
//! row in client/tests/storage_roundtrip.rs, which round-trips every type through a db file.

use super::{bit, bitmap_of, slice, u64_at};
use crate::engine::coerce::default_ref;
use crate::engine::corrupt;
use crate::error::{Error, Result};
use crate::format::Column;
use crate::kernels::inv_norm;
use crate::rowview::{ArrayRef, ElementKind, ValueRef};
use crate::schema::{DataType, FieldSchema};
use crate::store::CommitBuilder;
use crate::value::Value;

/// How one field's values are laid out in its column's sections.
#[derive(Clone, Copy)]
enum Layout {
    /// One little-endian value of `kind.width()` bytes a row in `data`.
    Fixed(ElementKind),
    /// TIMESTAMPTZ: an i64 a row in `data`, microseconds since the epoch (UTC).
    Timestamp,
    /// UTF-8 text: rows + 1 u64 offsets in `offsets`, into the bytes of `data`.
    Text,
    /// GEOMETRY: WKB, rows + 1 u64 offsets in `offsets`, into the bytes of `data`.
    Bytes,
    /// ARRAY: every row's elements back to back in `data` and rows + 1 u64 element indexes in `offsets`;
    /// VARCHAR elements are UTF-8 with elements + 1 u64 byte offsets in `aux`.
    Array(ElementKind),
    /// `dim` f32 a row in `data`, and 1/|v| a row in `aux`.
    Vector(usize),
}

/// Field `f`'s layout; an error naming the type for a type the codec does not store yet (create_collection
/// refuses such fields through `check_stored`, so only a damaged catalog reaches the codec with one).
fn layout(f: &FieldSchema) -> Result<Layout> {
    Ok(match f.dtype {
        DataType::Bool
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float
        | DataType::Double => Layout::Fixed(
            f.dtype
                .element_kind()
                .ok_or_else(|| Error::Internal(format!("{} has no element kind", f.dtype.name())))?,
        ),
        DataType::Timestamptz => Layout::Timestamp,
        DataType::VarChar | DataType::Json => Layout::Text,
        DataType::Geometry => Layout::Bytes,
        DataType::Array => Layout::Array(
            f.element_type
                .and_then(DataType::element_kind)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "ARRAY field '{}' needs an element_type of BOOL, INT8, INT16, INT32, INT64, FLOAT, DOUBLE or VARCHAR",
                        f.name
                    ))
                })?,
        ),
        DataType::FloatVector => Layout::Vector(f.dim.unwrap_or(0) as usize),
        DataType::BinaryVector
        | DataType::Float16Vector
        | DataType::BFloat16Vector
        | DataType::SparseFloatVector
        | DataType::Int8Vector => {
            return Err(Error::invalid(format!(
                "field '{}': data type {} is not supported by covec yet",
                f.name,
                f.dtype.name()
            )))
        }
    })
}

/// Refuses a field whose type the codec cannot store yet, naming it.
pub(in crate::engine) fn check_stored(f: &FieldSchema) -> Result<()> {
    layout(f).map(|_| ())
}

/// Encodes one field's `values` (of the field's type, or null; in stored row order) as its column,
/// pushing its sections into the commit: a null is stored as zeros (empty text) and marked absent in
/// the validity bitmap of a nullable field.
pub(super) fn encode(f: &FieldSchema, values: &[&Value], b: &mut CommitBuilder) -> Result<Column> {
    let n = values.len();
    let mut col = match layout(f)? {
        Layout::Fixed(kind) => {
            let mut data = Vec::with_capacity(n * kind.width().unwrap_or(0));
            for v in values {
                put_element(kind, v, &mut data);
            }
            fixed_column(data, b)
        }
        Layout::Timestamp => {
            let mut data = Vec::with_capacity(n * 8);
            for v in values {
                let t = match v {
                    Value::Timestamp(t) => *t,
                    _ => 0,
                };
                data.extend_from_slice(&t.to_le_bytes());
            }
            fixed_column(data, b)
        }
        Layout::Bytes => {
            let wkb = values.iter().map(|v| match v {
                Value::Geometry(wkb) => wkb.as_slice(),
                _ => &[],
            });
            encode_var(wkb, b)
        }
        Layout::Array(kind) => encode_array(kind, values, b),
        Layout::Text => {
            let texts: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Value::Str(s) => s.clone(),
                    Value::Json(j) => j.to_string(),
                    _ => String::new(),
                })
                .collect();
            encode_text(&texts, b)
        }
        Layout::Vector(dim) => {
            let mut data = Vec::with_capacity(n * dim * 4);
            let mut norms = Vec::with_capacity(n * 4);
            for v in values {
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
                aux: Some(b.push(&norms)),
                validity: None,
            }
        }
    };
    if f.nullable {
        let present = values.iter().map(|v| **v != Value::Null);
        col.validity = Some(b.push(&bitmap_of(present, n)));
    }
    Ok(col)
}

fn fixed_column(data: Vec<u8>, b: &mut CommitBuilder) -> Column {
    Column {
        data: b.push(&data),
        offsets: None,
        aux: None,
        validity: None,
    }
}

fn u64_bytes(values: impl Iterator<Item = usize>) -> Vec<u8> {
    values.flat_map(|v| (v as u64).to_le_bytes()).collect()
}

/// A column of variable-length `items`: their bytes back to back in `data`, items + 1 u64 offsets.
fn encode_var<'v>(items: impl Iterator<Item = &'v [u8]>, b: &mut CommitBuilder) -> Column {
    let mut bytes = Vec::new();
    let mut ends = vec![0];
    for item in items {
        bytes.extend_from_slice(item);
        ends.push(bytes.len());
    }
    Column {
        data: b.push(&bytes),
        offsets: Some(b.push(&u64_bytes(ends.into_iter()))),
        aux: None,
        validity: None,
    }
}

/// A text column of `texts` (also the dynamic-field column: each row's `$meta` object as JSON text).
pub(super) fn encode_text(texts: &[String], b: &mut CommitBuilder) -> Column {
    encode_var(texts.iter().map(|t| t.as_bytes()), b)
}

/// An ARRAY column (`Layout::Array`); a null row holds no elements.
fn encode_array(kind: ElementKind, values: &[&Value], b: &mut CommitBuilder) -> Column {
    let mut data = Vec::new();
    let mut row_ends = vec![0];
    let mut element_ends = vec![0];
    for v in values {
        let items = match v {
            Value::Array(items) => items.as_slice(),
            _ => &[],
        };
        for item in items {
            match (kind, item) {
                (ElementKind::VarChar, Value::Str(s)) => data.extend_from_slice(s.as_bytes()),
                (ElementKind::VarChar, _) => {}
                _ => put_element(kind, item, &mut data),
            }
            element_ends.push(data.len());
        }
        row_ends.push(element_ends.len() - 1);
    }
    Column {
        data: b.push(&data),
        offsets: Some(b.push(&u64_bytes(row_ends.into_iter()))),
        aux: (kind == ElementKind::VarChar).then(|| b.push(&u64_bytes(element_ends.into_iter()))),
        validity: None,
    }
}

/// Appends `v` as one little-endian value of `kind` (zeros for a null or a value of another kind).
fn put_element(kind: ElementKind, v: &Value, out: &mut Vec<u8>) {
    match (kind, v) {
        (ElementKind::Bool, Value::Bool(x)) => out.push(u8::from(*x)),
        (ElementKind::Int8, Value::Int(i)) => out.push(*i as i8 as u8),
        (ElementKind::Int16, Value::Int(i)) => out.extend_from_slice(&(*i as i16).to_le_bytes()),
        (ElementKind::Int32, Value::Int(i)) => out.extend_from_slice(&(*i as i32).to_le_bytes()),
        (ElementKind::Int64, Value::Int(i)) => out.extend_from_slice(&i.to_le_bytes()),
        (ElementKind::Float, Value::Float(x)) => out.extend_from_slice(&(*x as f32).to_le_bytes()),
        (ElementKind::Double, Value::Float(x)) => out.extend_from_slice(&x.to_le_bytes()),
        _ => out.resize(out.len() + kind.width().unwrap_or(0), 0),
    }
}

/// Variable-length values: rows + 1 u64 offsets into `bytes`.
#[derive(Clone, Copy)]
pub(in crate::engine) struct VarView<'a> {
    offsets: &'a [u8],
    bytes: &'a [u8],
}

impl<'a> VarView<'a> {
    /// The text column `c` of the image (the dynamic-field column, or a VARCHAR or JSON column).
    pub(super) fn new(c: &Column, image: &'a [u8]) -> Result<VarView<'a>> {
        Ok(VarView {
            offsets: slice(
                image,
                c.offsets.as_ref().ok_or_else(|| corrupt("no offsets"))?,
            )?,
            bytes: slice(image, &c.data)?,
        })
    }

    /// None when the offsets are damaged.
    fn bytes(&self, row: usize) -> Option<&'a [u8]> {
        let start = usize::try_from(u64_at(self.offsets, row)?).ok()?;
        let end = usize::try_from(u64_at(self.offsets, row + 1)?).ok()?;
        self.bytes.get(start..end)
    }

    /// None when the offsets or the UTF-8 are damaged.
    pub(in crate::engine) fn text(&self, row: usize) -> Option<&'a str> {
        std::str::from_utf8(self.bytes(row)?).ok()
    }
}

enum ColData<'a> {
    Fixed {
        kind: ElementKind,
        data: &'a [u8],
    },
    Timestamp(&'a [u8]),
    /// Text (VARCHAR, JSON) and WKB (GEOMETRY).
    Var(VarView<'a>),
    Array {
        kind: ElementKind,
        /// rows + 1 u64 element indexes.
        index: &'a [u8],
        data: &'a [u8],
        /// VARCHAR elements: elements + 1 u64 byte offsets into `data`.
        byte_offsets: &'a [u8],
    },
    Vector {
        dim: usize,
        data: &'a [f32],
        inv_norms: &'a [f32],
    },
    /// A field added after the part was written: every row reads as this.
    Absent(ValueRef<'a>),
}

/// One column of a part over the image.
pub(in crate::engine) struct ColView<'a> {
    dtype: DataType,
    data: ColData<'a>,
    /// Bit set = value present; None for a field that is not nullable.
    pub(in crate::engine) validity: Option<&'a [u8]>,
}

impl<'a> ColView<'a> {
    /// Field `f`'s column `c` of the image, every section's bounds checked.
    pub(super) fn new(f: &FieldSchema, c: &Column, image: &'a [u8]) -> Result<ColView<'a>> {
        let data = match layout(f).map_err(|e| corrupt(e.to_string()))? {
            Layout::Fixed(kind) => ColData::Fixed {
                kind,
                data: slice(image, &c.data)?,
            },
            Layout::Timestamp => ColData::Timestamp(slice(image, &c.data)?),
            Layout::Text | Layout::Bytes => ColData::Var(VarView::new(c, image)?),
            Layout::Array(kind) => ColData::Array {
                kind,
                index: slice(
                    image,
                    c.offsets
                        .as_ref()
                        .ok_or_else(|| corrupt("ARRAY column without element indexes"))?,
                )?,
                data: slice(image, &c.data)?,
                byte_offsets: match (kind, &c.aux) {
                    (ElementKind::VarChar, Some(aux)) => slice(image, aux)?,
                    (ElementKind::VarChar, None) => {
                        return Err(corrupt("ARRAY<VARCHAR> column without byte offsets"))
                    }
                    _ => &[],
                },
            },
            Layout::Vector(dim) => ColData::Vector {
                dim,
                data: as_f32s(slice(image, &c.data)?)?,
                inv_norms: as_f32s(slice(
                    image,
                    c.aux.as_ref().ok_or_else(|| corrupt("no norms"))?,
                )?)?,
            },
        };
        let validity = c.validity.as_ref().map(|v| slice(image, v)).transpose()?;
        Ok(ColView {
            dtype: f.dtype,
            data,
            validity,
        })
    }

    /// The column of field `f` in a part written before `f` was added: every row reads as the field's
    /// default, else null.
    pub(super) fn absent(f: &'a FieldSchema) -> ColView<'a> {
        ColView {
            dtype: f.dtype,
            data: ColData::Absent(default_ref(f).unwrap_or(ValueRef::Null)),
            validity: None,
        }
    }

    /// The value at `row`; None when the bytes are damaged.
    pub(in crate::engine) fn get(&self, row: usize) -> Option<ValueRef<'a>> {
        if let Some(v) = self.validity {
            if !bit(v, row) {
                return Some(ValueRef::Null);
            }
        }
        Some(match &self.data {
            ColData::Fixed { kind, data } => {
                let w = kind.width()?;
                let start = row.checked_mul(w)?;
                kind.read(data.get(start..start + w)?)?
            }
            ColData::Timestamp(data) => ValueRef::Timestamp(u64_at(data, row)? as i64),
            ColData::Var(v) => match self.dtype {
                DataType::Json => ValueRef::Json(v.text(row)?),
                DataType::Geometry => ValueRef::Geometry(v.bytes(row)?),
                _ => ValueRef::Str(v.text(row)?),
            },
            ColData::Array {
                kind,
                index,
                data,
                byte_offsets,
            } => {
                let at = |k: usize| u64_at(index, k).and_then(|x| usize::try_from(x).ok());
                let (start, end) = (at(row)?, at(row + 1)?);
                let len = end.checked_sub(start)?;
                match kind.width() {
                    Some(w) => ValueRef::Array(ArrayRef {
                        kind: *kind,
                        len,
                        data: data.get(start.checked_mul(w)?..end.checked_mul(w)?)?,
                        offsets: &[],
                    }),
                    None => ValueRef::Array(ArrayRef {
                        kind: *kind,
                        len,
                        data,
                        offsets: byte_offsets
                            .get(start.checked_mul(8)?..end.checked_add(1)?.checked_mul(8)?)?,
                    }),
                }
            }
            ColData::Vector { dim, data, .. } => {
                ValueRef::Vector(data.get(row * dim..row * dim + dim)?)
            }
            ColData::Absent(v) => *v,
        })
    }

    /// A vector column's rows and their 1/|v| (`inv_norms`); None for any other column.
    pub(in crate::engine) fn vectors(&self) -> Option<(&'a [f32], &'a [f32])> {
        match self.data {
            ColData::Vector {
                data, inv_norms, ..
            } => Some((data, inv_norms)),
            _ => None,
        }
    }
}

fn as_f32s(bytes: &[u8]) -> Result<&[f32]> {
    // SAFETY: every bit pattern is a valid f32; alignment is checked by requiring empty ends.
    let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(corrupt("vector section is not 4-byte aligned in memory"));
    }
    Ok(floats)
}
