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
