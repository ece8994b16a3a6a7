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
use crate::rowview::ValueRef;
use crate::schema::{DataType, FieldSchema};
use crate::store::CommitBuilder;
use crate::value::Value;

/// How one field's values are laid out in its column's sections.
#[derive(Clone, Copy)]
enum Layout {
    /// `width` little-endian bytes a row in `data`.
    Fixed(usize),
    /// UTF-8 text: rows + 1 u64 offsets in `offsets`, into the bytes of `data`.
    Text,
    /// `dim` f32 a row in `data`, and 1/|v| a row in `aux`.
    Vector(usize),
}

/// Field `f`'s layout; an error naming the type (and the ones covec stores) for a type the codec does not
/// store yet: create_collection refuses such fields through `check_stored`, so only a damaged catalog
/// reaches the codec with one.
fn layout(f: &FieldSchema) -> Result<Layout> {
    layout_of(f.dtype, f.dim).ok_or_else(|| {
        let stored: Vec<&str> = DataType::variants()
            .filter(|&t| layout_of(t, None).is_some())
            .map(DataType::name)
            .collect();
        Error::invalid(format!(
            "field '{}': data type {} is not supported by covec yet; supported: {}",
            f.name,
            f.dtype.name(),
            stored.join(", ")
        ))
    })
}

fn layout_of(dtype: DataType, dim: Option<u32>) -> Option<Layout> {
    Some(match dtype {
        DataType::Bool
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float
        | DataType::Double => Layout::Fixed(dtype.fixed_width().unwrap_or(0)),
        DataType::VarChar | DataType::Json => Layout::Text,
        DataType::FloatVector => Layout::Vector(dim.unwrap_or(0) as usize),
        DataType::Array
        | DataType::Geometry
        | DataType::Timestamptz
        | DataType::BinaryVector
        | DataType::Float16Vector
        | DataType::BFloat16Vector
        | DataType::SparseFloatVector
        | DataType::Int8Vector => return None,
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
        Layout::Fixed(width) => {
            let mut data = Vec::with_capacity(n * width);
            for v in values {
                put_fixed(f.dtype, v, width, &mut data);
            }
            Column {
                data: b.push(&data),
                offsets: None,
                aux: None,
                validity: None,
            }
        }
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

/// A text column of `texts` (also the dynamic-field column: each row's `$meta` object as JSON text).
pub(super) fn encode_text(texts: &[String], b: &mut CommitBuilder) -> Column {
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
        aux: None,
        validity: None,
    }
}

/// Appends `v` as `width` bytes of a fixed-width column of type `t` (zeros for a null).
fn put_fixed(t: DataType, v: &Value, width: usize, out: &mut Vec<u8>) {
    match (t, v) {
        (DataType::Bool, Value::Bool(x)) => out.push(u8::from(*x)),
        (DataType::Int8, Value::Int(i)) => out.push(*i as i8 as u8),
        (DataType::Int16, Value::Int(i)) => out.extend_from_slice(&(*i as i16).to_le_bytes()),
        (DataType::Int32, Value::Int(i)) => out.extend_from_slice(&(*i as i32).to_le_bytes()),
        (DataType::Int64, Value::Int(i)) => out.extend_from_slice(&i.to_le_bytes()),
        (DataType::Float, Value::Float(x)) => out.extend_from_slice(&(*x as f32).to_le_bytes()),
        (DataType::Double, Value::Float(x)) => out.extend_from_slice(&x.to_le_bytes()),
        _ => out.resize(out.len() + width, 0),
    }
}

/// The value `put_fixed` stored as the bytes `b` of one row; None for a type it does not store.
fn get_fixed(t: DataType, b: &[u8]) -> Option<ValueRef<'static>> {
    let mut x = [0u8; 8];
    x[..b.len()].copy_from_slice(b);
    Some(match t {
        DataType::Bool => ValueRef::Bool(b[0] != 0),
        DataType::Int8 => ValueRef::Int(i64::from(b[0] as i8)),
        DataType::Int16 => ValueRef::Int(i64::from(i16::from_le_bytes([b[0], b[1]]))),
        DataType::Int32 => ValueRef::Int(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        DataType::Int64 => ValueRef::Int(i64::from_le_bytes(x)),
        DataType::Float => ValueRef::Float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        DataType::Double => ValueRef::Float(f64::from_le_bytes(x)),
        DataType::VarChar
        | DataType::Array
        | DataType::Json
        | DataType::Geometry
        | DataType::Timestamptz
        | DataType::BinaryVector
        | DataType::FloatVector
        | DataType::Float16Vector
        | DataType::BFloat16Vector
        | DataType::SparseFloatVector
        | DataType::Int8Vector => return None,
    })
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

    /// None when the offsets or the UTF-8 are damaged.
    pub(in crate::engine) fn text(&self, row: usize) -> Option<&'a str> {
        let start = usize::try_from(u64_at(self.offsets, row)?).ok()?;
        let end = usize::try_from(u64_at(self.offsets, row + 1)?).ok()?;
        std::str::from_utf8(self.bytes.get(start..end)?).ok()
    }
}

enum ColData<'a> {
    Fixed {
        width: usize,
        data: &'a [u8],
    },
    Text(VarView<'a>),
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
            Layout::Fixed(width) => ColData::Fixed {
                width,
                data: slice(image, &c.data)?,
            },
            Layout::Text => ColData::Text(VarView::new(c, image)?),
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
            ColData::Fixed { width, data } => {
                get_fixed(self.dtype, data.get(row * width..row * width + width)?)?
            }
            ColData::Text(v) => {
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
            ColData::Absent(v) => *v,
        })
    }

    /// Whether the part was written before the field was added (`absent`).
    pub(in crate::engine) fn is_absent(&self) -> bool {
        matches!(self.data, ColData::Absent(_))
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
