//! The Milvus filter language: `parse` turns text into a syntax tree, `compile` resolves names
//! against a collection schema, type-checks, and returns a `Predicate` that the engine runs row by
//! row through `RowFilter`. No I/O; JSON values are parsed lazily, only by predicates that look
//! inside them, at most once per row and source. docs/filters.md lists the grammar, the semantics
//! (null is "unknown": a row matches only when the filter is true) and where covec differs from
//! Milvus Lite.

mod compile;
mod eval;
mod lexer;
mod parse;
mod template;

use crate::error::{Error, Result};
use crate::schema::CollectionSchema;
use crate::timestamptz::Zone;

pub use compile::Predicate;
pub use parse::MAX_DEPTH;

/// A parsed filter. `column` is the 1-based character position the node starts at (for operators,
/// the operator's position), used by error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `ISO 'text'`: a TIMESTAMPTZ instant, read when the filter is compiled (in the request's zone).
    Iso(String),
    /// `INTERVAL 'text'`: an ISO 8601 duration.
    Interval(String),
    /// `[a, b]`: only as a function argument (`in` keeps its list in `In`).
    List(Vec<Expr>),
    /// A bare name: a schema field, or a dynamic key when the schema has dynamic fields.
    Field(String),
    /// `$meta`, the dynamic-field object.
    Meta,
    /// `base["key"]` or `base[0]`.
    Index(Box<Expr>, PathStep),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In {
        lhs: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        lhs: Box<Expr>,
        pattern: String,
    },
    IsNull {
        operand: Box<Expr>,
        negated: bool,
    },
    Exists(Box<Expr>),
    /// A function call; the name is kept as written (functions match case-insensitively).
    Call {
        name: String,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl ArithOp {
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// The values of a filter template's `{name}` placeholders (Milvus's `filter_params`).
pub type Params = serde_json::Map<String, serde_json::Value>;

/// A filter expression and the values of its placeholders, as a read takes them. A `&str` is a filter
/// without placeholders.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    pub expr: &'a str,
    pub params: Option<&'a Params>,
}

impl<'a> Filter<'a> {
    pub fn new(expr: &'a str, params: &'a Params) -> Filter<'a> {
        Filter {
            expr,
            params: Some(params),
        }
    }
}

impl<'a> From<&'a str> for Filter<'a> {
    fn from(expr: &'a str) -> Filter<'a> {
        Filter { expr, params: None }
    }
}

impl<'a> From<&'a String> for Filter<'a> {
    fn from(expr: &'a String) -> Filter<'a> {
        Filter::from(expr.as_str())
    }
}

/// Parses a filter expression. An empty (or all-blank) expression is an error here; `compile`
/// accepts it as "every row".
pub fn parse(expr: &str) -> Result<Expr> {
    parse::parse(expr, &Params::new())
}

/// Parses (placeholders replaced by their values), resolves names against `schema` and type-checks;
/// `ISO '...'` literals without an offset are read in UTC.
pub fn compile<'a>(filter: impl Into<Filter<'a>>, schema: &CollectionSchema) -> Result<Predicate> {
    compile_in(filter, schema, &Zone::utc())
}

/// `compile`, with `ISO '...'` literals without an offset read in `zone` (the request's, collection's or
/// database's `timezone`).
pub fn compile_in<'a>(
    filter: impl Into<Filter<'a>>,
    schema: &CollectionSchema,
    zone: &Zone,
) -> Result<Predicate> {
    let filter = filter.into();
    if filter.expr.trim().is_empty() {
        return Ok(Predicate::everything());
    }
    let empty = Params::new();
    let ast = parse::parse(filter.expr, filter.params.unwrap_or(&empty))?;
    compile::compile(&ast, filter.expr, schema, zone)
}

fn error_at(message: String, column: usize, expr: &str) -> Error {
    Error::Filter {
        message,
        column,
        expr: expr.to_string(),
    }
}
