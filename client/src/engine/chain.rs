//! Function chains (Milvus's L2 rerank stage) run on one query's hits: `check` types the chain against
//! the collection's schema before any search (Milvus's rules: `$id` and `$score` are the only system
//! columns, only `$score` may be written, a map's output may not shadow a schema field), `run` computes
//! the table of columns row by row and returns the hits in the chain's order, `$score` their distance.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::{ChainArg, ChainFunction, ChainOp, CollectionView, FunctionChain, NumCombine, RowId};
use crate::error::{Error, Result};
use crate::rowview::ValueRef;
use crate::schema::DataType;

const ID: &str = "$id";
const SCORE: &str = "$score";

/// What a column holds, for the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Bool,
}

/// One cell of the table.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Cell {
    fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Number(x) => Some(*x),
            _ => None,
        }
    }

    fn missing(&self) -> bool {
        matches!(self, Cell::Null) || matches!(self, Cell::Number(x) if x.is_nan())
    }

    /// Present cells in their natural order (numbers numerically, whatever their width).
    fn cmp_present(&self, other: &Cell) -> Ordering {
        match (self, other) {
            (Cell::Int(a), Cell::Int(b)) => a.cmp(b),
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            (Cell::Bool(a), Cell::Bool(b)) => a.cmp(b),
            (a, b) => match (a.number(), b.number()) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => Ordering::Equal,
            },
        }
    }
}

/// `a` before `b` in a sort: missing cells last, the rest by `desc`.
fn sort_order(a: &Cell, b: &Cell, desc: bool) -> Ordering {
    match (a.missing(), b.missing()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if desc => b.cmp_present(a),
        _ => a.cmp_present(b),
    }
}

fn kind_of(dtype: DataType) -> Option<Kind> {
    match dtype {
        DataType::Bool => Some(Kind::Bool),
        DataType::VarChar => Some(Kind::Text),
        t if t.is_integer() || matches!(t, DataType::Float | DataType::Double) => {
            Some(Kind::Number)
        }
        _ => None,
    }
}

fn fail<T>(message: String) -> Result<T> {
    Err(Error::invalid(message))
}

impl FunctionChain {
    /// Checks every operator against `view`'s schema (see the module doc).
    pub(super) fn check(&self, view: &CollectionView<'_>) -> Result<()> {
        if self.ops.is_empty() {
            return fail("function chain must contain at least one operator".into());
        }
        let schema = view.schema();
        let pk = &schema.fields[view.pk_col];
        if pk.name == ID || pk.name == SCORE {
            return fail(format!(
                "function chain primary key field '{}' conflicts with the system column of that name",
                pk.name
            ));
        }
        let pk_kind = kind_of(pk.dtype).unwrap_or(Kind::Number);
        let mut symbols: HashMap<&str, Kind> = HashMap::from([
            (SCORE, Kind::Number),
            (ID, pk_kind),
            (pk.name.as_str(), pk_kind),
        ]);
        let resolve = |symbols: &mut HashMap<&str, Kind>, name: &str| -> Result<Kind> {
            if let Some(kind) = symbols.get(name) {
                return Ok(*kind);
            }
            if name.starts_with('$') {
                return fail(format!(
                    "system input '{name}' is not supported by L2 rerank function chain; it reads $id and $score"
                ));
            }
            let Some(field) = schema.field(name) else {
                return fail(format!(
                    "function chain input '{name}' is neither a previous output nor a collection field"
                ));
            };
            kind_of(field.dtype).ok_or_else(|| {
                Error::invalid(format!(
                    "function chain input field '{name}' has unsupported type {}",
                    field.dtype.name()
                ))
            })
        };
        for (i, op) in self.ops.iter().enumerate() {
            let context =
                |e: Error| Error::invalid(format!("function chain op[{i}]: {}", message_of(e)));
            match op {
                ChainOp::Map {
                    output,
                    function,
                    args,
                } => {
                    let kinds = args
                        .iter()
                        .map(|a| match a {
                            ChainArg::Column(name) => resolve(&mut symbols, name),
                            ChainArg::Number(_) => Ok(Kind::Number),
                        })
                        .collect::<Result<Vec<_>>>()
                        .map_err(context)?;
                    check_function(function, &kinds).map_err(context)?;
                    if output == ID || (output.starts_with('$') && output != SCORE) {
                        return Err(context(Error::invalid(format!(
                            "system output '{output}' is not writable by L2 rerank function chain; write $score or a column of your own"
                        ))));
                    }
                    if schema.field(output).is_some() {
                        return Err(context(Error::invalid(format!(
                            "function chain output '{output}' conflicts with a collection field"
                        ))));
                    }
                    symbols.insert(output, Kind::Number);
                }
                ChainOp::Sort {
                    column, tie_break, ..
                } => {
                    resolve(&mut symbols, column).map_err(context)?;
                    if let Some(t) = tie_break {
                        resolve(&mut symbols, t).map_err(context)?;
                    }
                }
                ChainOp::Limit { .. } => {}
            }
        }
        Ok(())
    }

    /// The chain run on `hits` (scores and rows in the search's order).
    pub(super) fn run(
        &self,
        view: &CollectionView<'_>,
        hits: Vec<(f64, RowId)>,
    ) -> Result<Vec<(f64, RowId)>> {
        let pk_name = &view.schema().fields[view.pk_col].name;
        let mut rows = hits
            .into_iter()
            .map(|(score, id)| {
                let pk = match view.pk(id)? {
                    crate::value::Pk::Int(i) => Cell::Int(i),
                    crate::value::Pk::Str(s) => Cell::Text(s),
                };
                let cells = HashMap::from([
                    (SCORE.to_string(), Cell::Number(score)),
                    (ID.to_string(), pk.clone()),
                    (pk_name.clone(), pk),
                ]);
                Ok(Row { id, cells })
            })
            .collect::<Result<Vec<_>>>()?;
        for op in &self.ops {
            match op {
                ChainOp::Map {
                    output,
                    function,
                    args,
                } => {
                    for row in &mut rows {
                        let values = args
                            .iter()
                            .map(|a| match a {
                                ChainArg::Column(name) => Ok(row.cell(view, name)?.number()),
                                ChainArg::Number(x) => Ok(Some(*x)),
                            })
                            .collect::<Result<Vec<_>>>()?;
                        let value = apply(function, &values)?;
                        row.cells
                            .insert(output.clone(), value.map_or(Cell::Null, Cell::Number));
                    }
                }
                ChainOp::Sort {
                    column,
                    desc,
                    tie_break,
                } => {
                    let mut keyed = rows
                        .into_iter()
                        .map(|mut row| {
                            let key = row.cell(view, column)?;
                            let tie = match tie_break {
                                Some(t) => Some(row.cell(view, t)?),
                                None => None,
                            };
                            Ok((key, tie, row))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    keyed.sort_by(|a, b| {
                        sort_order(&a.0, &b.0, *desc).then_with(|| match (&a.1, &b.1) {
                            (Some(x), Some(y)) => sort_order(x, y, false),
                            _ => Ordering::Equal,
                        })
                    });
                    rows = keyed.into_iter().map(|(_, _, row)| row).collect();
                }
                ChainOp::Limit { limit, offset } => {
                    rows = rows.into_iter().skip(*offset).take(*limit).collect();
                }
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let score = row
                    .cells
                    .get(SCORE)
                    .and_then(Cell::number)
                    .unwrap_or(f64::NAN);
                (score, row.id)
            })
            .collect())
    }
}

/// The message of an error made by `fail`.
fn message_of(e: Error) -> String {
    match e {
        Error::Invalid { message, .. } => message,
        other => other.to_string(),
    }
}

/// One row of the table: its id and the cells computed or read so far.
struct Row {
    id: RowId,
    cells: HashMap<String, Cell>,
}

impl Row {
    /// The cell of column `name`, read from the row's field the first time (the checks made sure
    /// it is one).
    fn cell(&mut self, view: &CollectionView<'_>, name: &str) -> Result<Cell> {
        if let Some(cell) = self.cells.get(name) {
            return Ok(cell.clone());
        }
        let c = view
            .field_index(name)
            .ok_or_else(|| Error::Internal(format!("function chain column {name} checked")))?;
        let cell = match view.parts[self.id.part].cols[c].get(self.id.row) {
            Some(ValueRef::Int(i)) => Cell::Int(i),
            Some(ValueRef::Float(x)) => Cell::Number(x),
            Some(ValueRef::Str(s)) => Cell::Text(s.to_string()),
            Some(ValueRef::Bool(b)) => Cell::Bool(b),
            _ => Cell::Null,
        };
        self.cells.insert(name.to_string(), cell.clone());
        Ok(cell)
    }
}

fn check_function(function: &ChainFunction, kinds: &[Kind]) -> Result<()> {
    let numbers = kinds.iter().all(|k| *k == Kind::Number);
    match function {
        ChainFunction::NumCombine { mode, weights } => {
            if kinds.len() < 2 || !numbers {
                return fail(
                    "expression num_combine: num_combine requires at least two numeric arguments"
                        .into(),
                );
            }
            if *mode == NumCombine::Weighted && weights.len() != kinds.len() {
                return fail(format!(
                    "expression num_combine: weighted num_combine requires {} weights",
                    kinds.len()
                ));
            }
        }
        ChainFunction::Decay(_) => {
            if kinds.len() != 1 || !numbers {
                return fail(
                    "expression decay: decay requires exactly one numeric argument".into(),
                );
            }
        }
        ChainFunction::RoundDecimal { .. } => {
            if kinds.len() != 1 || !numbers {
                return fail(
                    "expression round_decimal: round_decimal requires exactly one numeric argument"
                        .into(),
                );
            }
        }
    }
    Ok(())
}

/// `function` of one row's `values` (None: null).
fn apply(function: &ChainFunction, values: &[Option<f64>]) -> Result<Option<f64>> {
    Ok(match function {
        ChainFunction::NumCombine { mode, weights } => {
            let Some(xs) = values.iter().copied().collect::<Option<Vec<f64>>>() else {
                return Ok(Some(0.0));
            };
            let result = match mode {
                NumCombine::Multiply => xs.iter().product(),
                NumCombine::Sum => xs.iter().sum(),
                NumCombine::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                NumCombine::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
                NumCombine::Avg => xs.iter().map(|x| x / xs.len() as f64).sum(),
                NumCombine::Weighted => xs.iter().zip(weights).map(|(x, w)| x * w).sum(),
            };
            if !result.is_finite() {
                return fail("num_combine produced a non-finite result".into());
            }
            Some(result)
        }
        ChainFunction::Decay(decay) => Some(values[0].map_or(0.0, |x| decay.factor(x))),
        ChainFunction::RoundDecimal { decimal } => values[0].map(|x| {
            let scale = 10f64.powi(*decimal as i32);
            (x * scale).round() / scale
        }),
    })
}
