//! Row evaluation with SQL three-valued logic: a value is `V::Null` when a field is null, a JSON key
//! is missing, types do not match at run time, or arithmetic fails (division by zero, overflow).
//! Comparisons with null are unknown, `not unknown` is unknown, and a row matches only when the
//! whole filter is true.

use std::cell::OnceCell;
use std::cmp::Ordering;

use serde_json::Value as Json;

use crate::geometry;
use crate::rowview::{ArrayRef, RowView, ValueRef};

use super::compile::{Contains, LikeTok, Lit, Node, Predicate, Source};
use super::{ArithOp, CmpOp, PathStep};

#[derive(Debug, Clone, Copy)]
enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// A JSON array or object (JSON scalars become the variants above).
    Json(&'a Json),
    /// A TIMESTAMPTZ instant, microseconds since the epoch (UTC).
    Time(i64),
    /// An INTERVAL, microseconds.
    Interval(i64),
    Array(ArrayRef<'a>),
    /// A GEOMETRY value's WKB.
    Geo(&'a [u8]),
}

impl<'a> V<'a> {
    fn of_lit(lit: &'a Lit) -> V<'a> {
        match lit {
            Lit::Bool(b) => V::Bool(*b),
            Lit::Int(i) => V::Int(*i),
            Lit::Float(f) => V::Float(*f),
            Lit::Str(s) => V::Str(s),
            Lit::Time(t) => V::Time(*t),
            Lit::Interval(d) => V::Interval(*d),
        }
    }

    /// A field value or array element as predicates see it (vectors and JSON text are not compared).
    fn of_field(v: ValueRef<'a>) -> V<'a> {
        match v {
            ValueRef::Null | ValueRef::Vector(_) | ValueRef::Json(_) => V::Null,
            ValueRef::Bool(b) => V::Bool(b),
            ValueRef::Int(i) => V::Int(i),
            ValueRef::Float(f) => V::Float(f),
            ValueRef::Str(s) => V::Str(s),
            ValueRef::Timestamp(t) => V::Time(t),
            ValueRef::Geometry(g) => V::Geo(g),
            ValueRef::Array(a) => V::Array(a),
        }
    }

    fn of_json(j: &'a Json) -> V<'a> {
        match j {
            Json::Null => V::Null,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => V::Int(i),
                None => n.as_f64().map_or(V::Null, V::Float),
            },
            Json::String(s) => V::Str(s),
            Json::Array(_) | Json::Object(_) => V::Json(j),
        }
    }

    fn truth(b: Option<bool>) -> V<'a> {
        b.map_or(V::Null, V::Bool)
    }

    /// The three-valued truth of a boolean operand; non-booleans (from JSON) are unknown.
    fn as_truth(self) -> Option<bool> {
        match self {
            V::Bool(b) => Some(b),
            _ => None,
        }
    }
}

pub(super) fn matches(p: &Predicate, row: &dyn RowView) -> bool {
    let ctx = Ctx {
        row,
        sources: &p.sources,
        docs: (0..p.sources.len()).map(|_| OnceCell::new()).collect(),
    };
    matches!(ctx.eval(&p.root), V::Bool(true))
}

struct Ctx<'r> {
    row: &'r dyn RowView,
    sources: &'r [Source],
    /// Each JSON source parsed at most once per row, on first use; `None` when null or unparsable.
    docs: Vec<OnceCell<Option<Json>>>,
}

impl<'r> Ctx<'r> {
    fn doc(&self, source: usize) -> Option<&Json> {
        let cell = self.docs.get(source)?;
        cell.get_or_init(|| {
            let text = match self.sources.get(source)? {
                Source::Field(name) => match self.row.value(name) {
                    ValueRef::Json(t) | ValueRef::Str(t) => t,
                    _ => return None,
                },
                Source::Dynamic => self.row.dynamic()?,
            };
            serde_json::from_str(text).ok()
        })
        .as_ref()
    }

    fn lookup(&self, source: usize, path: &[PathStep]) -> Option<&Json> {
        let mut cur = self.doc(source)?;
        for step in path {
            cur = match (step, cur) {
                (PathStep::Key(k), Json::Object(map)) => map.get(k)?,
                (PathStep::Index(i), Json::Array(items)) => items.get(usize::try_from(*i).ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    fn eval<'s>(&'s self, node: &'s Node) -> V<'s> {
        match node {
            Node::Const(lit) => V::of_lit(lit),
            Node::Field(name) => V::of_field(self.row.value(name)),
            Node::Element { operand, index } => match self.eval(operand) {
                V::Array(a) => a.get(*index).map_or(V::Null, V::of_field),
                _ => V::Null,
            },
            Node::Json { source, path } => self.lookup(*source, path).map_or(V::Null, V::of_json),
            Node::Not(inner) => V::truth(self.eval(inner).as_truth().map(|b| !b)),
            Node::And(items) => {
                let mut unknown = false;
                for item in items {
                    match self.eval(item).as_truth() {
                        Some(false) => return V::Bool(false),
                        Some(true) => {}
                        None => unknown = true,
                    }
                }
                if unknown {
                    V::Null
                } else {
                    V::Bool(true)
                }
            }
            Node::Or(items) => {
                let mut unknown = false;
                for item in items {
                    match self.eval(item).as_truth() {
                        Some(true) => return V::Bool(true),
                        Some(false) => {}
                        None => unknown = true,
                    }
                }
                if unknown {
                    V::Null
                } else {
                    V::Bool(false)
                }
            }
            Node::Neg(inner) => match self.eval(inner) {
                V::Int(i) => i.checked_neg().map_or(V::Null, V::Int),
                V::Float(f) => V::Float(-f),
                _ => V::Null,
            },
            Node::Arith(op, l, r) => arith(*op, self.eval(l), self.eval(r)),
            Node::Cmp(op, l, r) => V::truth(compare(*op, self.eval(l), self.eval(r))),
            Node::In { lhs, list, negated } => {
                let v = self.eval(lhs);
                let found = member(v, list);
                V::truth(found.map(|f| f != *negated))
            }
            Node::Like { lhs, pattern } => match self.eval(lhs) {
                V::Str(s) => V::Bool(like(pattern, s)),
                _ => V::Null,
            },
            Node::IsNull { operand, negated } => {
                V::Bool(matches!(self.eval(operand), V::Null) != *negated)
            }
            Node::Exists { source, path } => V::Bool(self.lookup(*source, path).is_some()),
            Node::Contains {
                kind,
                operand,
                values,
            } => {
                let found = |has: &dyn Fn(&Lit) -> bool| {
                    V::Bool(match kind {
                        Contains::One | Contains::All => values.iter().all(has),
                        Contains::Any => values.iter().any(has),
                    })
                };
                let equal =
                    |v: V<'_>, lit: &Lit| compare(CmpOp::Eq, v, V::of_lit(lit)) == Some(true);
                match self.eval(operand) {
                    V::Json(Json::Array(items)) => {
                        found(&|lit| items.iter().any(|j| equal(V::of_json(j), lit)))
                    }
                    V::Array(a) => found(&|lit| a.iter().any(|e| equal(V::of_field(e), lit))),
                    _ => V::Null,
                }
            }
            Node::ArrayLength(operand) => match self.eval(operand) {
                V::Json(Json::Array(items)) => i64::try_from(items.len()).map_or(V::Null, V::Int),
                V::Array(a) => i64::try_from(a.len).map_or(V::Null, V::Int),
                _ => V::Null,
            },
            Node::TextMatch(i) => V::Bool(self.row.text_match(*i)),
            Node::Spatial {
                operand,
                relation,
                other,
            } => match self.geometry(operand) {
                Some(g) => V::Bool(geometry::relate(&g, other, *relation)),
                None => V::Null,
            },
            Node::DWithin {
                operand,
                point,
                meters,
            } => match self.geometry(operand) {
                Some(g) => V::Bool(geometry::dwithin_meters(&g, *point, *meters)),
                None => V::Null,
            },
            Node::IsValid(operand) => match self.geometry(operand) {
                Some(g) => V::Bool(geometry::is_valid(&g)),
                None => V::Null,
            },
        }
    }
}

impl Ctx<'_> {
    /// The geometry a GEOMETRY operand holds in this row; None when null (or its stored bytes are damaged).
    fn geometry(&self, operand: &Node) -> Option<geo::Geometry<f64>> {
        match self.eval(operand) {
            V::Geo(wkb) => geometry::decode(wkb),
            _ => None,
        }
    }
}

/// `Some(true)` if `v` equals an element, `Some(false)` if it is comparable and equals none,
/// `None` (unknown) for null or a type that matches no element.
fn member(v: V<'_>, list: &[Lit]) -> Option<bool> {
    if matches!(v, V::Null) {
        return None;
    }
    let mut comparable = list.is_empty();
    for lit in list {
        match compare(CmpOp::Eq, v, V::of_lit(lit)) {
            Some(true) => return Some(true),
            Some(false) => comparable = true,
            None => {}
        }
    }
    comparable.then_some(false)
}

fn arith<'a>(op: ArithOp, l: V<'a>, r: V<'a>) -> V<'a> {
    match (l, r) {
        // Instants move by intervals; the type check admits no other mix with them.
        (V::Time(t), V::Interval(d)) => match op {
            ArithOp::Add => t.checked_add(d).map_or(V::Null, V::Time),
            ArithOp::Sub => t.checked_sub(d).map_or(V::Null, V::Time),
            _ => V::Null,
        },
        (V::Interval(d), V::Time(t)) if op == ArithOp::Add => {
            t.checked_add(d).map_or(V::Null, V::Time)
        }
        (V::Time(_) | V::Interval(_), _) | (_, V::Time(_) | V::Interval(_)) => V::Null,
        // Integers stay integers except under `/`, which divides as floats (Milvus Lite: 21 / 2 is
        // 10.5); overflow and division by zero are unknown.
        (V::Int(a), V::Int(b)) if op != ArithOp::Div => {
            let out = match op {
                ArithOp::Add => a.checked_add(b),
                ArithOp::Sub => a.checked_sub(b),
                ArithOp::Mul => a.checked_mul(b),
                ArithOp::Mod => a.checked_rem(b),
                ArithOp::Div => None,
            };
            out.map_or(V::Null, V::Int)
        }
        (_, V::Int(0)) if op == ArithOp::Div => V::Null,
        (a, b) => match (number(a), number(b)) {
            (Some(a), Some(b)) => V::Float(match op {
                ArithOp::Add => a + b,
                ArithOp::Sub => a - b,
                ArithOp::Mul => a * b,
                ArithOp::Div => a / b,
                ArithOp::Mod => a % b,
            }),
            _ => V::Null,
        },
    }
}

fn number(v: V<'_>) -> Option<f64> {
    match v {
        V::Int(i) => Some(i as f64),
        V::Float(f) => Some(f),
        _ => None,
    }
}

/// None when either side is null or the types cannot be compared (or NaN is involved).
fn compare(op: CmpOp, l: V<'_>, r: V<'_>) -> Option<bool> {
    let ord = match (l, r) {
        (V::Int(a), V::Int(b)) | (V::Time(a), V::Time(b)) => a.cmp(&b),
        (V::Str(a), V::Str(b)) => a.cmp(b),
        (V::Bool(a), V::Bool(b)) => {
            return match op {
                CmpOp::Eq => Some(a == b),
                CmpOp::Ne => Some(a != b),
                _ => None,
            }
        }
        (a, b) => number(a)?.partial_cmp(&number(b)?)?,
    };
    Some(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

/// `like` matching over characters: greedy, backtracking only to the last `%`, so a pattern with
/// one `%` is linear and the worst case is O(pattern x text).
fn like(pattern: &[LikeTok], text: &str) -> bool {
    let (mut p, mut t) = (0, 0);
    // After a `%`: the pattern position following it and the text position it has absorbed up to.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let next = text[t..].chars().next();
        let step = match (pattern.get(p), next) {
            (Some(LikeTok::Many), _) => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            (Some(LikeTok::One), Some(c)) => Some(c),
            (Some(LikeTok::Char(want)), Some(c)) if *want == c => Some(c),
            (None, None) => return true,
            _ => None,
        };
        if let Some(c) = step {
            p += 1;
            t += c.len_utf8();
            continue;
        }
        // Mismatch: let the last `%` absorb one more character, or fail.
        let Some((after, absorbed)) = star else {
            return false;
        };
        let Some(c) = text[absorbed..].chars().next() else {
            return false;
        };
        star = Some((after, absorbed + c.len_utf8()));
        p = after;
        t = absorbed + c.len_utf8();
    }
}
