//! The seam between the engine (which owns the columns) and the filter language (which evaluates
//! predicates): the engine shows one row at a time through `RowView`, a compiled filter answers
//! `RowFilter::matches`. Neither side knows the other's internals. A filter's `text_match` and
//! `phrase_match` calls are `TextQuery`s the engine answers per part from the field's match index before
//! it shows the part's rows (`RowView::text_match`).

use crate::text::MatchQuery;

/// A borrowed field value of one row. JSON fields and the dynamic-field object are JSON text, parsed
/// only by the predicates that look inside them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Json(&'a str),
    Vector(VectorRef<'a>),
    /// TIMESTAMPTZ: microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// GEOMETRY: the stored WKB (docs/format.md), decoded by the predicates that look at it.
    Geometry(&'a [u8]),
    Array(ArrayRef<'a>),
}

/// A borrowed vector of any vector type, as its column stores it (see `value::Value`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VectorRef<'a> {
    Float(&'a [f32]),
    Float16(&'a [u16]),
    BFloat16(&'a [u16]),
    Int8(&'a [i8]),
    Binary(&'a [u8]),
    Sparse {
        indices: &'a [u32],
        values: &'a [f32],
    },
}

/// The element type of an ARRAY field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementKind {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    VarChar,
}

impl ElementKind {
    /// Bytes per element in the column's data, or None for VARCHAR elements.
    pub fn width(self) -> Option<usize> {
        match self {
            ElementKind::Bool | ElementKind::Int8 => Some(1),
            ElementKind::Int16 => Some(2),
            ElementKind::Int32 | ElementKind::Float => Some(4),
            ElementKind::Int64 | ElementKind::Double => Some(8),
            ElementKind::VarChar => None,
        }
    }

    /// The value of one element of `width()` little-endian bytes; None for VARCHAR or a short slice.
    pub fn read(self, b: &[u8]) -> Option<ValueRef<'static>> {
        let w = self.width()?;
        let b = b.get(..w)?;
        let mut x = [0u8; 8];
        x[..w].copy_from_slice(b);
        let int = i64::from_le_bytes(x);
        // Sign-extend the narrower integers from their top bit.
        let shift = 64 - 8 * w as u32;
        Some(match self {
            ElementKind::Bool => ValueRef::Bool(b[0] != 0),
            ElementKind::Int8 | ElementKind::Int16 | ElementKind::Int32 | ElementKind::Int64 => {
                ValueRef::Int((int << shift) >> shift)
            }
            ElementKind::Float => ValueRef::Float(f64::from(f32::from_bits(int as u32))),
            ElementKind::Double => ValueRef::Float(f64::from_bits(int as u64)),
            ElementKind::VarChar => return None,
        })
    }
}

/// One row's ARRAY value over the column's bytes. Fixed-width elements are `data`, back to back; VARCHAR
/// elements are `data[offsets[i]..offsets[i + 1]]`, `offsets` being the row's `len + 1` little-endian u64
/// byte offsets. Reads are bounds-checked: damaged bytes read as a missing element, never a panic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayRef<'a> {
    pub kind: ElementKind,
    pub len: usize,
    pub data: &'a [u8],
    pub offsets: &'a [u8],
}

impl<'a> ArrayRef<'a> {
    /// Element `i`; None past the end or over damaged bytes.
    pub fn get(&self, i: usize) -> Option<ValueRef<'a>> {
        if i >= self.len {
            return None;
        }
        let Some(w) = self.kind.width() else {
            let at = |k: usize| -> Option<usize> {
                let start = k.checked_mul(8)?;
                let b = self.offsets.get(start..start + 8)?;
                usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok()
            };
            let bytes = self.data.get(at(i)?..at(i + 1)?)?;
            return std::str::from_utf8(bytes).ok().map(ValueRef::Str);
        };
        let start = i.checked_mul(w)?;
        self.kind.read(self.data.get(start..start + w)?)
    }

    /// The elements in order (a damaged one ends the sequence).
    pub fn iter(&self) -> impl Iterator<Item = ValueRef<'a>> + '_ {
        (0..self.len).map_while(|i| self.get(i))
    }
}

/// A `text_match` or `phrase_match` of a filter: a match-enabled VARCHAR field (schema position) and the
/// query, analyzed by the field's analyzer.
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery {
    pub field: usize,
    pub query: MatchQuery,
}

/// One row as the engine exposes it to predicates.
pub trait RowView {
    /// The value of a schema field by name (`Null` for a null value or an unknown name).
    fn value(&self, field: &str) -> ValueRef<'_>;
    /// The row's dynamic-field object (`$meta`) as JSON text, if the collection has dynamic fields.
    fn dynamic(&self) -> Option<&str>;
    /// Whether the row matches the `i`-th of the filter's `RowFilter::text_queries`.
    fn text_match(&self, i: usize) -> bool;
}

/// A compiled predicate over rows.
pub trait RowFilter: Send + Sync {
    fn matches(&self, row: &dyn RowView) -> bool;
    /// The filter's text queries, in the order `RowView::text_match` numbers them.
    fn text_queries(&self) -> &[TextQuery];
}
