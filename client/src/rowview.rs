//! The seam between the engine (which owns the columns) and the filter language (which evaluates
//! predicates): the engine shows one row at a time through `RowView`, a compiled filter answers
//! `RowFilter::matches`. Neither side knows the other's internals.

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

/// One row as the engine exposes it to predicates.
pub trait RowView {
    /// The value of a schema field by name (`Null` for a null value or an unknown name).
    fn value(&self, field: &str) -> ValueRef<'_>;
    /// The row's dynamic-field object (`$meta`) as JSON text, if the collection has dynamic fields.
    fn dynamic(&self) -> Option<&str>;
}

/// A compiled predicate over rows.
pub trait RowFilter: Send + Sync {
    fn matches(&self, row: &dyn RowView) -> bool;
}
