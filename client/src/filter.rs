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

/// Parses a filter expression. An empty (or all-blank) expression is an error here; `compile`
/// accepts it as "every row".
pub fn parse(expr: &str) -> Result<Expr> {
    parse::parse(expr)
}

/// Parses, resolves names against `schema` and type-checks `expr`; `ISO '...'` literals without an offset
/// are read in UTC.
pub fn compile(expr: &str, schema: &CollectionSchema) -> Result<Predicate> {
    compile_in(expr, schema, &Zone::utc())
}

/// `compile`, with `ISO '...'` literals without an offset read in `zone` (the request's, collection's or
/// database's `timezone`).
pub fn compile_in(expr: &str, schema: &CollectionSchema, zone: &Zone) -> Result<Predicate> {
    if expr.trim().is_empty() {
        return Ok(Predicate::everything());
    }
    let ast = parse::parse(expr)?;
    compile::compile(&ast, expr, schema, zone)
}

fn error_at(message: String, column: usize, expr: &str) -> Error {
    Error::Filter {
        message,
        column,
        expr: expr.to_string(),
    }
}
