//! Name resolution and type checking: the syntax tree becomes a tree of `Node`s that `eval` runs.
//! Static types come from the schema; JSON paths and dynamic keys have no static type (`Ty::Json`)
//! and are checked per row instead, where a mismatch is "unknown" (no match), never an error.

use crate::error::{Error, Result};
use crate::fulltext::FullText;
use crate::geometry::{self, Relation};
use crate::rowview::{ElementKind, RowFilter, RowView, TextQuery};
use crate::schema::{CollectionSchema, DataType};
use crate::text::MatchQuery;
use crate::timestamptz::{self, Zone};
use crate::value::Value;

use super::{error_at, ArithOp, CmpOp, Expr, ExprKind, PathStep};

/// A literal as predicates hold it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lit {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A TIMESTAMPTZ instant (`ISO '...'`), microseconds since the epoch, UTC.
    Time(i64),
    /// An `INTERVAL '...'`, microseconds.
    Interval(i64),
}

/// Where a JSON document comes from: a JSON field, or the dynamic-field object.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Source {
    Field(String),
    Dynamic,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Contains {
    One,
    All,
    Any,
}

/// One piece of a `like` pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum LikeTok {
    Char(char),
    /// `_`
    One,
    /// `%`
    Many,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Const(Lit),
    /// A scalar schema field.
    Field(String),
    /// Element `index` of an ARRAY value (`tags[0]`).
    Element {
        operand: Box<Node>,
        index: usize,
    },
    /// A value inside the JSON document `sources[source]`; an empty path is the whole document.
    Json {
        source: usize,
        path: Vec<PathStep>,
    },
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Neg(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    In {
        lhs: Box<Node>,
        list: Vec<Lit>,
        negated: bool,
    },
    Like {
        lhs: Box<Node>,
        pattern: Vec<LikeTok>,
    },
    IsNull {
        operand: Box<Node>,
        negated: bool,
    },
    Exists {
        source: usize,
        path: Vec<PathStep>,
    },
    Contains {
        kind: Contains,
        operand: Box<Node>,
        values: Vec<Lit>,
    },
    ArrayLength(Box<Node>),
    /// `text_match` / `phrase_match`: the predicate's `text[i]`, answered by the engine.
    TextMatch(usize),
    /// `ST_CONTAINS(field, 'wkt')` and the other two-geometry relations.
    Spatial {
        operand: Box<Node>,
        relation: Relation,
        other: geo::Geometry<f64>,
    },
    /// `ST_DWITHIN(field, 'POINT(x y)', meters)`.
    DWithin {
        operand: Box<Node>,
        point: geo::Point<f64>,
        meters: f64,
    },
    /// `ST_ISVALID(field)`.
    IsValid(Box<Node>),
}

/// A compiled filter, ready to test rows. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct Predicate {
    pub(super) root: Node,
    pub(super) sources: Vec<Source>,
    pub(super) text: Vec<TextQuery>,
}

impl Predicate {
    pub(super) fn everything() -> Predicate {
        Predicate {
            root: Node::Const(Lit::Bool(true)),
            sources: Vec::new(),
            text: Vec::new(),
        }
    }

    /// True for the empty filter: callers may skip evaluation.
    pub fn matches_everything(&self) -> bool {
        matches!(self.root, Node::Const(Lit::Bool(true)))
    }

    /// The values of scalar field `field` that every matching row has one of, when the filter pins
    /// them (`f == v`, `f in [..]`, under `and`, or on every side of `or`); None when it does not.
    /// Only INT64 and VARCHAR values pin (the partition keys this serves).
    pub fn pinned_values(&self, field: &str) -> Option<Vec<Value>> {
        pinned(&self.root, field)
    }
}

fn pinned(node: &Node, field: &str) -> Option<Vec<Value>> {
    let key = |lit: &Lit| match lit {
        Lit::Int(i) => Some(Value::Int(*i)),
        Lit::Str(s) => Some(Value::Str(s.clone())),
        Lit::Bool(_) | Lit::Float(_) | Lit::Time(_) | Lit::Interval(_) => None,
    };
    let is_field = |n: &Node| matches!(n, Node::Field(f) if f == field);
    match node {
        Node::Cmp(CmpOp::Eq, a, b) => match (&**a, &**b) {
            (f, Node::Const(lit)) | (Node::Const(lit), f) if is_field(f) => Some(vec![key(lit)?]),
            _ => None,
        },
        Node::In {
            lhs,
            list,
            negated: false,
        } if is_field(lhs) => list.iter().map(key).collect(),
        // Any pinning side of a conjunction bounds it.
        Node::And(children) => children.iter().find_map(|c| pinned(c, field)),
        Node::Or(children) => children
            .iter()
            .map(|c| pinned(c, field))
            .collect::<Option<Vec<_>>>()
            .map(|sets| sets.concat()),
        _ => None,
    }
}

impl RowFilter for Predicate {
    fn matches(&self, row: &dyn RowView) -> bool {
        super::eval::matches(self, row)
    }

    fn text_queries(&self) -> &[TextQuery] {
        &self.text
    }
}

/// Static types. `Json` is "known only per row".
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Bool,
    Int,
    Float,
    Str,
    Json,
    /// A TIMESTAMPTZ instant.
    Time,
    Interval,
    Array(ElementKind),
    Geometry,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Float => "float",
            Ty::Str => "string",
            Ty::Json => "json",
            Ty::Time => "timestamptz",
            Ty::Interval => "interval",
            Ty::Array(_) => "array",
            Ty::Geometry => "geometry",
        }
    }

    /// The type of an ARRAY's elements.
    fn of_element(kind: ElementKind) -> Ty {
        match kind {
            ElementKind::Bool => Ty::Bool,
            ElementKind::Int8 | ElementKind::Int16 | ElementKind::Int32 | ElementKind::Int64 => {
                Ty::Int
            }
            ElementKind::Float | ElementKind::Double => Ty::Float,
            ElementKind::VarChar => Ty::Str,
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }

    fn of_lit(lit: &Lit) -> Ty {
        match lit {
            Lit::Bool(_) => Ty::Bool,
            Lit::Int(_) => Ty::Int,
            Lit::Float(_) => Ty::Float,
            Lit::Str(_) => Ty::Str,
            Lit::Time(_) => Ty::Time,
            Lit::Interval(_) => Ty::Interval,
        }
    }
}

/// Can values of these types be compared with `==` (and, with `ordered`, `<`)?
fn comparable(a: Ty, b: Ty, ordered: bool) -> bool {
    match (a, b) {
        (Ty::Time, Ty::Time) => true,
        (Ty::Time | Ty::Interval | Ty::Array(_) | Ty::Geometry, _)
        | (_, Ty::Time | Ty::Interval | Ty::Array(_) | Ty::Geometry) => false,
        (Ty::Json, _) | (_, Ty::Json) => true,
        (x, y) if x.numeric() && y.numeric() => true,
        (Ty::Str, Ty::Str) => true,
        (Ty::Bool, Ty::Bool) => !ordered,
        _ => false,
    }
}

struct Typed {
    node: Node,
    ty: Ty,
    /// "field 'age'" when the node is a plain field, for error messages.
    field: Option<String>,
}

impl Typed {
    fn of(node: Node, ty: Ty) -> Typed {
        Typed {
            node,
            ty,
            field: None,
        }
    }

    /// "int (field 'age')" or "string".
    fn describe(&self) -> String {
        match &self.field {
            Some(f) => format!("{} (field '{f}')", self.ty.name()),
            None => self.ty.name().to_string(),
        }
    }
}

pub(super) fn compile(
    ast: &Expr,
    src: &str,
    schema: &CollectionSchema,
    zone: &Zone,
) -> Result<Predicate> {
    let mut c = Compiler {
        src,
        schema,
        zone,
        sources: Vec::new(),
        text: Vec::new(),
    };
    let root = c.expr(ast)?;
    c.boolean(&root, ast.column, "a filter")?;
    Ok(Predicate {
        root: root.node,
        sources: c.sources,
        text: c.text,
    })
}

struct Compiler<'a> {
    src: &'a str,
    schema: &'a CollectionSchema,
    /// The zone `ISO '...'` literals without an offset are read in.
    zone: &'a Zone,
    sources: Vec<Source>,
    text: Vec<TextQuery>,
}

impl Compiler<'_> {
    fn err<T>(&self, message: String, column: usize) -> Result<T> {
        Err(error_at(message, column, self.src))
    }

    fn source(&mut self, source: Source) -> usize {
        match self.sources.iter().position(|s| *s == source) {
            Some(i) => i,
            None => {
                self.sources.push(source);
                self.sources.len() - 1
            }
        }
    }

    fn boolean(&self, t: &Typed, column: usize, what: &str) -> Result<()> {
        if matches!(t.ty, Ty::Bool | Ty::Json) {
            Ok(())
        } else {
            self.err(
                format!("{what} must be a boolean expression, got {}", t.describe()),
                column,
            )
        }
    }

    fn expr(&mut self, e: &Expr) -> Result<Typed> {
        let col = e.column;
        Ok(match &e.kind {
            ExprKind::Bool(b) => Typed::of(Node::Const(Lit::Bool(*b)), Ty::Bool),
            ExprKind::Int(i) => Typed::of(Node::Const(Lit::Int(*i)), Ty::Int),
            ExprKind::Float(f) => Typed::of(Node::Const(Lit::Float(*f)), Ty::Float),
            ExprKind::Str(s) => Typed::of(Node::Const(Lit::Str(s.clone())), Ty::Str),
            ExprKind::Iso(text) => match timestamptz::parse(text, self.zone) {
                Ok(t) => Typed::of(Node::Const(Lit::Time(t)), Ty::Time),
                Err(e) => return self.err(format!("ISO literal: {e}"), col),
            },
            ExprKind::Interval(text) => match timestamptz::parse_interval(text) {
                Ok(d) => Typed::of(Node::Const(Lit::Interval(d)), Ty::Interval),
                Err(e) => return self.err(e, col),
            },
            ExprKind::List(_) => {
                return self.err(
                    "a list is only allowed after 'in' or as a function argument".into(),
                    col,
                )
            }
            ExprKind::Field(name) => self.field(name, col)?,
            ExprKind::Meta => {
                if !self.schema.enable_dynamic_field {
                    return self.err(
                        "$meta needs a collection with enable_dynamic_field=True".into(),
                        col,
                    );
                }
                let source = self.source(Source::Dynamic);
                Typed::of(
                    Node::Json {
                        source,
                        path: Vec::new(),
                    },
                    Ty::Json,
                )
            }
            ExprKind::Index(base, step) => {
                let base = self.expr(base)?;
                match (base.node, base.ty, step) {
                    (Node::Json { source, mut path }, _, _) => {
                        path.push(step.clone());
                        Typed::of(Node::Json { source, path }, Ty::Json)
                    }
                    (operand, Ty::Array(kind), PathStep::Index(i)) => {
                        let Ok(index) = usize::try_from(*i) else {
                            return self.err(format!("array index {i} is negative"), col);
                        };
                        Typed::of(
                            Node::Element {
                                operand: Box::new(operand),
                                index,
                            },
                            Ty::of_element(kind),
                        )
                    }
                    (_, Ty::Array(_), PathStep::Key(k)) => {
                        return self.err(
                            format!(
                            "an ARRAY field is indexed by position (e.g. [0]), not by key \"{k}\""
                        ),
                            col,
                        )
                    }
                    (_, ty, _) => {
                        let what = match &base.field {
                            Some(f) => format!("{} (field '{f}')", ty.name()),
                            None => ty.name().to_string(),
                        };
                        return self.err(
                            format!(
                                "only ARRAY and JSON fields, dynamic keys and $meta can be indexed with [...], not {what}"
                            ),
                            col,
                        );
                    }
                }
            }
            ExprKind::Neg(inner) => {
                let t = self.expr(inner)?;
                if !(t.ty.numeric() || t.ty == Ty::Json) {
                    return self.err(
                        format!("unary '-' needs a number, got {}", t.describe()),
                        col,
                    );
                }
                Typed::of(Node::Neg(Box::new(t.node)), t.ty)
            }
            ExprKind::Not(inner) => {
                let t = self.expr(inner)?;
                self.boolean(&t, col, "the operand of 'not'")?;
                Typed::of(Node::Not(Box::new(t.node)), Ty::Bool)
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for item in items {
                    let t = self.expr(item)?;
                    self.boolean(&t, item.column, "each side of 'and'/'or'")?;
                    nodes.push(t.node);
                }
                let node = if matches!(e.kind, ExprKind::And(_)) {
                    Node::And(nodes)
                } else {
                    Node::Or(nodes)
                };
                Typed::of(node, Ty::Bool)
            }
            ExprKind::Arith(op, l, r) => {
                let (l, r) = (self.expr(l)?, self.expr(r)?);
                let time = match (l.ty, *op, r.ty) {
                    (Ty::Time, ArithOp::Add | ArithOp::Sub, Ty::Interval)
                    | (Ty::Interval, ArithOp::Add, Ty::Time) => Some(true),
                    (Ty::Time | Ty::Interval, _, _) | (_, _, Ty::Time | Ty::Interval) => {
                        Some(false)
                    }
                    _ => None,
                };
                match time {
                    Some(true) => {
                        return Ok(Typed::of(
                            Node::Arith(*op, Box::new(l.node), Box::new(r.node)),
                            Ty::Time,
                        ))
                    }
                    Some(false) => {
                        return self.err(
                            format!(
                                "arithmetic '{}' on time: only timestamptz + interval, timestamptz - interval and interval + timestamptz are allowed, got {} and {}",
                                op.symbol(),
                                l.describe(),
                                r.describe()
                            ),
                            col,
                        )
                    }
                    None => {}
                }
                for side in [&l, &r] {
                    if !(side.ty.numeric() || side.ty == Ty::Json) {
                        return self.err(
                            format!(
                                "arithmetic '{}' needs numbers: left side is {}, right side is {}",
                                op.symbol(),
                                l.describe(),
                                r.describe()
                            ),
                            col,
                        );
                    }
                }
                let ty = match (l.ty, r.ty) {
                    (Ty::Json, _) | (_, Ty::Json) => Ty::Json,
                    (Ty::Int, Ty::Int) => Ty::Int,
                    _ => Ty::Float,
                };
                Typed::of(Node::Arith(*op, Box::new(l.node), Box::new(r.node)), ty)
            }
            ExprKind::Cmp(op, l, r) => {
                let (l, r) = (self.expr(l)?, self.expr(r)?);
                let ordered = !matches!(op, CmpOp::Eq | CmpOp::Ne);
                if !comparable(l.ty, r.ty, ordered) {
                    return self.err(
                        format!(
                            "comparison '{}' between incompatible types: left side is {}, right side is {}",
                            op.symbol(),
                            l.describe(),
                            r.describe()
                        ),
                        col,
                    );
                }
                Typed::of(Node::Cmp(*op, Box::new(l.node), Box::new(r.node)), Ty::Bool)
            }
            ExprKind::In { lhs, list, negated } => {
                let l = self.expr(lhs)?;
                let list = self.literals(list, "'in'")?;
                if let Some(first) = list.first() {
                    let ty = Ty::of_lit(first);
                    if !comparable(l.ty, ty, false) {
                        return self.err(
                            format!(
                                "'in' between incompatible types: left side is {}, the list holds {}",
                                l.describe(),
                                ty.name()
                            ),
                            col,
                        );
                    }
                }
                Typed::of(
                    Node::In {
                        lhs: Box::new(l.node),
                        list,
                        negated: *negated,
                    },
                    Ty::Bool,
                )
            }
            ExprKind::Like { lhs, pattern } => {
                let l = self.expr(lhs)?;
                if !matches!(l.ty, Ty::Str | Ty::Json) {
                    return self.err(format!("'like' needs a string, got {}", l.describe()), col);
                }
                Typed::of(
                    Node::Like {
                        lhs: Box::new(l.node),
                        pattern: like_pattern(pattern),
                    },
                    Ty::Bool,
                )
            }
            ExprKind::IsNull { operand, negated } => {
                let t = self.expr(operand)?;
                Typed::of(
                    Node::IsNull {
                        operand: Box::new(t.node),
                        negated: *negated,
                    },
                    Ty::Bool,
                )
            }
            ExprKind::Exists(operand) => {
                let t = self.expr(operand)?;
                match t.node {
                    Node::Json { source, path } if !path.is_empty() => {
                        Typed::of(Node::Exists { source, path }, Ty::Bool)
                    }
                    _ => {
                        return self.err(
                            "'exists' needs a JSON path or a dynamic key, e.g. exists meta[\"k\"]"
                                .into(),
                            col,
                        )
                    }
                }
            }
            ExprKind::Call { name, args } => self.call(name, args, col)?,
        })
    }

    fn field(&mut self, name: &str, col: usize) -> Result<Typed> {
        let Some(f) = self.schema.field(name) else {
            if self.schema.enable_dynamic_field {
                let source = self.source(Source::Dynamic);
                return Ok(Typed::of(
                    Node::Json {
                        source,
                        path: vec![PathStep::Key(name.to_string())],
                    },
                    Ty::Json,
                ));
            }
            let mut names: Vec<&str> = self.schema.fields.iter().map(|f| f.name.as_str()).collect();
            names.sort_unstable();
            let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            return self.err(
                format!(
                    "unknown field '{name}' (available fields: [{}])",
                    list.join(", ")
                ),
                col,
            );
        };
        let ty = match f.dtype {
            DataType::Bool => Ty::Bool,
            d if d.is_integer() => Ty::Int,
            DataType::Float | DataType::Double => Ty::Float,
            DataType::VarChar => Ty::Str,
            DataType::Timestamptz => Ty::Time,
            DataType::Geometry => Ty::Geometry,
            DataType::Array => match f.element_type.and_then(DataType::element_kind) {
                Some(kind) => Ty::Array(kind),
                None => return self.err(format!("ARRAY field '{name}' has no element type"), col),
            },
            DataType::Json => {
                let source = self.source(Source::Field(name.to_string()));
                return Ok(Typed {
                    node: Node::Json {
                        source,
                        path: Vec::new(),
                    },
                    ty: Ty::Json,
                    field: Some(name.to_string()),
                });
            }
            other => {
                return self.err(
                    format!(
                        "field '{name}' is a {} and cannot be used in a filter",
                        other.name()
                    ),
                    col,
                )
            }
        };
        Ok(Typed {
            node: Node::Field(name.to_string()),
            ty,
            field: Some(name.to_string()),
        })
    }

    /// List elements: literals of one kind (ints and floats mix).
    fn literals(&self, items: &[Expr], what: &str) -> Result<Vec<Lit>> {
        let mut out: Vec<Lit> = Vec::with_capacity(items.len());
        for item in items {
            let lit = match &item.kind {
                ExprKind::Bool(b) => Lit::Bool(*b),
                ExprKind::Int(i) => Lit::Int(*i),
                ExprKind::Float(f) => Lit::Float(*f),
                ExprKind::Str(s) => Lit::Str(s.clone()),
                _ => {
                    return self.err(
                        format!("the list of {what} must hold only literals"),
                        item.column,
                    )
                }
            };
            if let Some(first) = out.first() {
                let (a, b) = (Ty::of_lit(first), Ty::of_lit(&lit));
                if !comparable(a, b, false) {
                    return self.err(
                        format!(
                            "list elements must be of compatible types, got {} and {}",
                            a.name(),
                            b.name()
                        ),
                        item.column,
                    );
                }
            }
            out.push(lit);
        }
        Ok(out)
    }

    fn call(&mut self, name: &str, args: &[Expr], col: usize) -> Result<Typed> {
        let lower = name.to_ascii_lowercase();
        let arity = |n: usize| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                self.err(
                    format!("{name} takes {n} argument(s), got {}", args.len()),
                    col,
                )
            }
        };
        let contains = match lower.as_str() {
            "json_contains" | "array_contains" => Some(Contains::One),
            "json_contains_all" | "array_contains_all" => Some(Contains::All),
            "json_contains_any" | "array_contains_any" => Some(Contains::Any),
            _ => None,
        };
        if let Some(kind) = contains {
            arity(2)?;
            let (operand, elements) = self.array_operand(name, &args[0])?;
            let values = match (&args[1].kind, kind) {
                (ExprKind::List(items), Contains::All | Contains::Any) => {
                    self.literals(items, name)?
                }
                (_, Contains::All | Contains::Any) => {
                    return self.err(
                        format!("the second argument of {name} must be a list, e.g. [1, 2]"),
                        args[1].column,
                    )
                }
                (_, Contains::One) => self.literals(std::slice::from_ref(&args[1]), name)?,
            };
            if let (Some(element), Some(first)) = (elements, values.first()) {
                let ty = Ty::of_lit(first);
                if !comparable(Ty::of_element(element), ty, false) {
                    return self.err(
                        format!(
                            "{name}: a {} value cannot be an element of {} (elements are {})",
                            ty.name(),
                            describe_arg(&args[0]),
                            Ty::of_element(element).name()
                        ),
                        args[1].column,
                    );
                }
            }
            return Ok(Typed::of(
                Node::Contains {
                    kind,
                    operand: Box::new(operand),
                    values,
                },
                Ty::Bool,
            ));
        }
        match lower.as_str() {
            "array_length" => {
                arity(1)?;
                let (operand, _) = self.array_operand(name, &args[0])?;
                Ok(Typed::of(Node::ArrayLength(Box::new(operand)), Ty::Int))
            }
            "text_match" | "phrase_match" => self.text_match(&lower, args, col),
            l if l.starts_with("st_") || l.starts_with("geometry_") => {
                self.spatial(name, args, col)
            }
            _ => self.err(format!("unknown function '{name}'"), col),
        }
    }

    /// `text_match(field, 'query')` and `phrase_match(field, 'query'[, slop])` on a match-enabled VARCHAR
    /// field: the query is analyzed now, by the field's analyzer; rows are answered from the field's match
    /// index (`TextQuery`).
    fn text_match(&mut self, name: &str, args: &[Expr], col: usize) -> Result<Typed> {
        let phrase = name == "phrase_match";
        let usage = if phrase {
            "phrase_match(field, 'phrase') or phrase_match(field, 'phrase', slop)"
        } else {
            "text_match(field, 'words')"
        };
        if !(2..=2 + usize::from(phrase)).contains(&args.len()) {
            return self.err(
                format!("{name} takes {usage}, got {} argument(s)", args.len()),
                col,
            );
        }
        let field = match &args[0].kind {
            ExprKind::Field(f) => self.schema.fields.iter().position(|x| &x.name == f),
            _ => None,
        };
        let Some(field) = field.filter(|&c| self.schema.fields[c].dtype == DataType::VarChar)
        else {
            return self.err(
                format!("the first argument of {name} must be a VARCHAR field: {usage}"),
                args[0].column,
            );
        };
        let ExprKind::Str(text) = &args[1].kind else {
            return self.err(
                format!("the second argument of {name} must be a quoted string: {usage}"),
                args[1].column,
            );
        };
        let full_text =
            FullText::of(self.schema).map_err(|e| error_at(e.to_string(), col, self.src))?;
        let Some(analyzer) = full_text.match_analyzer(field) else {
            return Err(Error::invalid_code(
                1100,
                format!(
                    "{name} needs field '{}' created with enable_analyzer=True and enable_match=True, which \
                     build its match index",
                    self.schema.fields[field].name
                ),
            ));
        };
        let query = if phrase {
            let slop = match args.get(2).map(|a| &a.kind) {
                None => 0,
                Some(ExprKind::Int(k)) => match u32::try_from(*k) {
                    Ok(k) => k,
                    Err(_) => {
                        return self.err(
                            format!(
                                "the slop of {name} must be an integer from 0 to 2^32-1, got {k}"
                            ),
                            args[2].column,
                        )
                    }
                },
                Some(_) => {
                    return self.err(
                        format!("the slop of {name} must be an integer: {usage}"),
                        args[2].column,
                    )
                }
            };
            MatchQuery::phrase_match(analyzer, text, slop)?
        } else {
            MatchQuery::text_match(analyzer, text, 1)
        };
        self.text.push(TextQuery { field, query });
        Ok(Typed::of(Node::TextMatch(self.text.len() - 1), Ty::Bool))
    }

    /// The array argument of the contains family and array_length: an ARRAY field (with its element type),
    /// or a JSON field, path or dynamic key (checked per row).
    fn array_operand(&mut self, name: &str, arg: &Expr) -> Result<(Node, Option<ElementKind>)> {
        let t = self.expr(arg)?;
        match t.ty {
            Ty::Json => Ok((t.node, None)),
            Ty::Array(kind) => Ok((t.node, Some(kind))),
            _ => self.err(
                format!(
                    "{name} needs an ARRAY field or a JSON array (a JSON field, path or dynamic key), got {}",
                    t.describe()
                ),
                arg.column,
            ),
        }
    }

    /// `ST_EQUALS`, `ST_TOUCHES`, `ST_OVERLAPS`, `ST_CROSSES`, `ST_CONTAINS`, `ST_INTERSECTS`, `ST_WITHIN`
    /// (field, 'wkt'); `ST_DWITHIN(field, 'POINT(x y)', meters)`; `ST_ISVALID(field)`. Milvus Lite's
    /// `geometry_*` names are accepted for each.
    fn spatial(&mut self, name: &str, args: &[Expr], col: usize) -> Result<Typed> {
        let upper = name.to_ascii_uppercase();
        let canonical = match upper.strip_prefix("GEOMETRY_") {
            Some(rest) => format!("ST_{rest}"),
            None => upper,
        };
        let relation = Relation::from_function(&canonical);
        let want = match (relation, canonical.as_str()) {
            (Some(_), _) => 2,
            (None, "ST_DWITHIN") => 3,
            (None, "ST_ISVALID") => 1,
            _ => return self.err(format!("unknown function '{name}'"), col),
        };
        if args.len() != want {
            return self.err(
                format!("{name} takes {want} argument(s), got {}", args.len()),
                col,
            );
        }
        let t = self.expr(&args[0])?;
        if t.ty != Ty::Geometry {
            return self.err(
                format!("{name} needs a GEOMETRY field, got {}", t.describe()),
                args[0].column,
            );
        }
        let operand = Box::new(t.node);
        if want == 1 {
            return Ok(Typed::of(Node::IsValid(operand), Ty::Bool));
        }
        let ExprKind::Str(text) = &args[1].kind else {
            return self.err(
                format!("the second argument of {name} must be a quoted WKT geometry, e.g. 'POINT(1 2)'"),
                args[1].column,
            );
        };
        let other = match geometry::parse_wkt(text) {
            Ok(g) => g,
            Err(e) => {
                return self.err(
                    format!("{name}: invalid WKT geometry '{text}': {e}"),
                    args[1].column,
                )
            }
        };
        if let Some(relation) = relation {
            return Ok(Typed::of(
                Node::Spatial {
                    operand,
                    relation,
                    other,
                },
                Ty::Bool,
            ));
        }
        let geo::Geometry::Point(point) = other else {
            return self.err(
                format!("{name} measures the distance to a POINT, got '{text}'"),
                args[1].column,
            );
        };
        let meters = match args[2].kind {
            ExprKind::Int(i) => i as f64,
            ExprKind::Float(f) => f,
            _ => f64::NAN,
        };
        if meters.is_nan() || meters < 0.0 || point.x().is_nan() {
            return self.err(
                format!("the third argument of {name} must be a distance in meters (a number >= 0), and the point must not be empty"),
                args[2].column,
            );
        }
        Ok(Typed::of(
            Node::DWithin {
                operand,
                point,
                meters,
            },
            Ty::Bool,
        ))
    }
}

/// How a function argument reads in an error: "field 'tags'" for a bare field name, else "its first argument".
fn describe_arg(arg: &Expr) -> String {
    match &arg.kind {
        ExprKind::Field(f) => format!("field '{f}'"),
        _ => "its first argument".to_string(),
    }
}

/// `%` any run, `_` any one character; a backslash makes the next character literal (`\%`, `\_`,
/// `\\`; a covec extension, Milvus has no escapes).
fn like_pattern(pattern: &str) -> Vec<LikeTok> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '%' => LikeTok::Many,
            '_' => LikeTok::One,
            '\\' => LikeTok::Char(chars.next().unwrap_or('\\')),
            c => LikeTok::Char(c),
        });
    }
    out
}
