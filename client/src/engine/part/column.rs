//! One column of a part, both ways: how each field type's values are laid out in the column's sections
//! (docs/format.md, "Columns"). A column type is added here and nowhere else in the codec: a `Layout`
//! (the matches on `DataType` below have no catch-all, so a new type does not compile until it has
//! one), its encoding in `encode` and its decoding in `ColView::new` and `ColView::get`. Outside the
//! codec a new type also needs its coercion (engine/coerce.rs), its catalog checks (format.rs) and a
//! row in client/tests/storage_roundtrip.rs, which round-trips every type through a db file.

use super::{bit, bitmap_of, slice, u64_at};
use crate::dense::{widen_bytes, DenseRows, Elem};
use crate::engine::coerce::absent_ref;
use crate::engine::{corrupt, section_error};
use crate::error::{Error, Result};
use crate::format::Column;
use crate::kernels::inv_norm;
use crate::rowview::{ArrayRef, ElementKind, ValueRef, VectorRef};
use crate::schema::{DataType, FieldSchema};
use crate::sparse::{build_index, encode_column, SparseColumnView, SparseMetric, SparseRef};
use crate::store::CommitBuilder;
use crate::timestamptz::{MAX_MICROS, MIN_MICROS};
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
    /// `dim` elements of a dense vector type a row in `data` (little-endian), and 1/|v| a row in
    /// `aux` (f32, 0 for a zero vector).
    Dense(Elem, usize),
    /// A binary vector's bits, packed 8 to a byte: `bytes` a row in `data`.
    Binary(usize),
    /// The sparse column section (docs/sparse.md, "Column") in `data`.
    Sparse,
}

/// Field `f`'s layout; an error for an ARRAY without a scalar element type (`CollectionSchema::validate`
/// refuses one, so only a damaged catalog reaches the codec with it).
fn layout(f: &FieldSchema) -> Result<Layout> {
    let dim = f.dim.unwrap_or(0) as usize;
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
        DataType::FloatVector => Layout::Dense(Elem::F32, dim),
        DataType::Float16Vector => Layout::Dense(Elem::F16, dim),
        DataType::BFloat16Vector => Layout::Dense(Elem::BF16, dim),
        DataType::Int8Vector => Layout::Dense(Elem::I8, dim),
        DataType::BinaryVector => Layout::Binary(dim / 8),
        DataType::SparseFloatVector => Layout::Sparse,
    })
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
        Layout::Dense(elem, dim) => {
            let mut data = Vec::with_capacity(n * dim * elem.width());
            let mut norms = Vec::with_capacity(n * 4);
            for v in values {
                let inv = match (elem, v) {
                    (Elem::F32, Value::FloatVector(x)) if x.len() == dim => {
                        x.iter()
                            .for_each(|v| data.extend_from_slice(&v.to_le_bytes()));
                        inv_norm(x)
                    }
                    (Elem::F16, Value::Float16Vector(x))
                    | (Elem::BF16, Value::BFloat16Vector(x))
                        if x.len() == dim =>
                    {
                        let start = data.len();
                        x.iter()
                            .for_each(|v| data.extend_from_slice(&v.to_le_bytes()));
                        inv_norm(&widen_bytes(elem, &data[start..]))
                    }
                    (Elem::I8, Value::Int8Vector(x)) if x.len() == dim => {
                        data.extend(x.iter().map(|&v| v as u8));
                        inv_norm(&x.iter().map(|&v| f32::from(v)).collect::<Vec<_>>())
                    }
                    _ => {
                        data.resize(data.len() + dim * elem.width(), 0);
                        0.0
                    }
                };
                norms.extend_from_slice(&inv.to_le_bytes());
            }
            Column {
                aux: Some(b.push(&norms)),
                ..fixed_column(data, b)
            }
        }
        Layout::Binary(width) => {
            let mut data = Vec::with_capacity(n * width);
            for v in values {
                match v {
                    Value::BinaryVector(x) if x.len() == width => data.extend_from_slice(x),
                    _ => data.resize(data.len() + width, 0),
                }
            }
            fixed_column(data, b)
        }
        Layout::Sparse => fixed_column(encode_column(&sparse_rows(values))?, b),
    };
    if f.nullable {
        let present = values.iter().map(|v| **v != Value::Null);
        col.validity = Some(b.push(&bitmap_of(present, n)));
    }
    Ok(col)
}

/// The rows of a sparse column's values (a null row is empty).
fn sparse_rows<'v>(values: &[&'v Value]) -> Vec<SparseRef<'v>> {
    values
        .iter()
        .map(|v| match v {
            Value::SparseFloatVector(x) => x.view(),
            _ => SparseRef::default(),
        })
        .collect()
}

/// The inverted index section by `metric` over a sparse field's `values` in stored order: built from
/// the column section they encode to, as `encode` stores it.
pub(super) fn sparse_index(values: &[&Value], metric: SparseMetric) -> Result<Vec<u8>> {
    let column = encode_column(&sparse_rows(values))?;
    // The column is read in place, 8-byte aligned, as a mapped section is.
    let mut words = vec![0u64; column.len().div_ceil(8)];
    for (word, bytes) in words.iter_mut().zip(column.chunks(8)) {
        let mut w = [0u8; 8];
        w[..bytes.len()].copy_from_slice(bytes);
        *word = u64::from_le_bytes(w);
    }
    // SAFETY: the u64s' memory is `column.len()` initialised bytes (and padding) with the bytes of
    // `column` in order on this little-endian target; u8 has no alignment or validity needs.
    let aligned = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), column.len()) };
    let view = SparseColumnView::wrap(aligned, values.len())?;
    build_index(&view, metric)
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
    Dense {
        dim: usize,
        rows: DenseRows<'a>,
        inv_norms: &'a [f32],
    },
    Binary {
        width: usize,
        data: &'a [u8],
    },
    Sparse(SparseColumnView<'a>),
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
    /// Field `f`'s column `c` of a part of `n` rows in the image, every section's bounds checked.
    pub(super) fn new(
        f: &FieldSchema,
        c: &Column,
        n: usize,
        image: &'a [u8],
    ) -> Result<ColView<'a>> {
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
            Layout::Dense(elem, dim) => ColData::Dense {
                dim,
                rows: DenseRows::from_bytes(elem, slice(image, &c.data)?)
                    .ok_or_else(|| corrupt("vector section is not aligned in memory"))?,
                inv_norms: as_f32s(slice(
                    image,
                    c.aux.as_ref().ok_or_else(|| corrupt("no norms"))?,
                )?)?,
            },
            Layout::Binary(width) => ColData::Binary {
                width,
                data: slice(image, &c.data)?,
            },
            Layout::Sparse => ColData::Sparse(
                SparseColumnView::wrap(slice(image, &c.data)?, n).map_err(section_error)?,
            ),
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
            data: ColData::Absent(absent_ref(f)),
            validity: None,
        }
    }

    /// Whether the field was added after the part was written: no column, every row reads as the default.
    pub(in crate::engine) fn is_absent(&self) -> bool {
        matches!(self.data, ColData::Absent(_))
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
            // An instant outside years 1..9999 is none that coercion lets in: damage.
            ColData::Timestamp(data) => {
                let t = u64_at(data, row)? as i64;
                (MIN_MICROS..=MAX_MICROS)
                    .contains(&t)
                    .then_some(ValueRef::Timestamp(t))?
            }
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
            ColData::Dense { dim, rows, .. } => {
                let range = row * dim..row * dim + dim;
                ValueRef::Vector(match rows {
                    DenseRows::F32(v) => VectorRef::Float(v.get(range)?),
                    DenseRows::F16(v) => VectorRef::Float16(v.get(range)?),
                    DenseRows::BF16(v) => VectorRef::BFloat16(v.get(range)?),
                    DenseRows::I8(v) => VectorRef::Int8(v.get(range)?),
                })
            }
            ColData::Binary { width, data } => ValueRef::Vector(VectorRef::Binary(
                data.get(row * width..row * width + width)?,
            )),
            ColData::Sparse(view) => {
                let r = view.row(row).ok()?;
                ValueRef::Vector(VectorRef::Sparse {
                    indices: r.indices(),
                    values: r.values(),
                })
            }
            ColData::Absent(v) => *v,
        })
    }

    /// A vector column's rows; None for any other column (and a field added after the part).
    pub(in crate::engine) fn vectors(&self) -> Option<VectorColumn<'a>> {
        match self.data {
            ColData::Dense {
                rows, inv_norms, ..
            } => Some(VectorColumn::Dense { rows, inv_norms }),
            ColData::Binary { width, data } => Some(VectorColumn::Binary { width, data }),
            ColData::Sparse(view) => Some(VectorColumn::Sparse(view)),
            _ => None,
        }
    }
}

/// A vector column's rows as search reads them.
#[derive(Clone, Copy)]
pub(in crate::engine) enum VectorColumn<'a> {
    /// Dense rows of any element type and their 1/|v|.
    Dense {
        rows: DenseRows<'a>,
        inv_norms: &'a [f32],
    },
    /// Binary vectors of `width` bytes each.
    Binary {
        width: usize,
        data: &'a [u8],
    },
    Sparse(SparseColumnView<'a>),
}

fn as_f32s(bytes: &[u8]) -> Result<&[f32]> {
    // SAFETY: every bit pattern is a valid f32; alignment is checked by requiring empty ends.
    let (head, floats, tail) = unsafe { bytes.align_to::<f32>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(corrupt("vector section is not 4-byte aligned in memory"));
    }
    Ok(floats)
}
