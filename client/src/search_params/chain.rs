//! `function_chains=` as covec reads it: pymilvus's `FunctionChain` as the Python front describes it
//! (`{"name", "stage", "ops": [{"op", "expr": {"name", "args": [{"column"} | {"literal"}], "params"},
//! "inputs", "outputs", "params"}]}`), checked into an engine `FunctionChain`: the L2_RERANK stage, the
//! operators map, sort and limit, and the expressions num_combine, decay and round_decimal, with
//! Milvus's rules for each. The checks that need the schema are the engine's (`engine::chain`).

use serde_json::{Map, Value as Json};

use crate::engine::{
    ChainArg, ChainFunction, ChainOp, Decay, DecayFunction, FunctionChain, NumCombine,
};
use crate::error::{Error, Result};

/// The chain `spec` describes, checked (see the module doc).
pub fn chain_of(spec: &Json) -> Result<FunctionChain> {
    let stage = spec.get("stage").and_then(Json::as_str).unwrap_or("");
    if stage != "L2_RERANK" {
        return Err(Error::invalid(format!(
            "function chain stage {stage} is not supported in search request; a search runs L2_RERANK chains"
        )));
    }
    let ops = match spec.get("ops") {
        Some(Json::Array(ops)) => ops,
        _ => {
            return Err(Error::invalid(
                "function chain must contain at least one operator",
            ))
        }
    };
    let ops = ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            op_of(op).map_err(|e| Error::invalid(format!("function chain op[{i}]: {}", text(e))))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(FunctionChain {
        name: spec
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
        ops,
    })
}

fn text(e: Error) -> String {
    match e {
        Error::Invalid { message, .. } | Error::ClientSide { message, .. } => message,
        other => other.to_string(),
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(Error::invalid(message))
}

fn names(op: &Json, key: &str) -> Result<Vec<String>> {
    match op.get(key) {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .map(|n| match n.as_str() {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => fail(format!("{key} names must not be empty")),
            })
            .collect(),
        Some(other) => fail(format!("{key} must be a list of names, got {other}")),
    }
}

fn params(value: Option<&Json>) -> Result<Map<String, Json>> {
    match value {
        None | Some(Json::Null) => Ok(Map::new()),
        Some(Json::Object(m)) => Ok(m.clone()),
        Some(other) => fail(format!("params must be a dict, got {other}")),
    }
}

fn op_of(op: &Json) -> Result<ChainOp> {
    let kind = op.get("op").and_then(Json::as_str).unwrap_or("");
    let expr = op.get("expr").filter(|e| !e.is_null());
    let inputs = names(op, "inputs")?;
    let outputs = names(op, "outputs")?;
    let params = params(op.get("params"))?;
    match kind {
        "map" => {
            let Some(expr) = expr else {
                return fail("map operator requires an expression");
            };
            if !inputs.is_empty() {
                return fail("map operator must not declare op.inputs");
            }
            let [output] = &outputs[..] else {
                return fail("map operator requires exactly one output");
            };
            let (function, args) = expr_of(expr)?;
            Ok(ChainOp::Map {
                output: output.clone(),
                function,
                args,
            })
        }
        "sort" => {
            if expr.is_some() || !outputs.is_empty() {
                return fail("sort operator must not contain expression or outputs");
            }
            let column = match params.get("column") {
                Some(Json::String(c)) if !c.is_empty() => c.clone(),
                _ => return fail("sort column must be a non-empty string"),
            };
            let desc = match params.get("desc") {
                None => true,
                Some(Json::Bool(b)) => *b,
                Some(_) => return fail("sort desc must be a boolean"),
            };
            let tie_break = match params.get("tie_break_col") {
                None | Some(Json::Null) => None,
                Some(Json::String(t)) if !t.is_empty() => Some(t.clone()),
                Some(_) => return fail("sort tie_break_col must be a non-empty string"),
            };
            let expected: Vec<String> = std::iter::once(column.clone())
                .chain(tie_break.clone())
                .collect();
            if inputs != expected {
                return fail("sort inputs must match column and tie_break_col");
            }
            if let Some(k) = params
                .keys()
                .find(|k| !["column", "desc", "tie_break_col"].contains(&k.as_str()))
            {
                return fail(format!("unknown sort parameter '{k}'"));
            }
            Ok(ChainOp::Sort {
                column,
                desc,
                tie_break,
            })
        }
        "limit" => {
            if expr.is_some() || !inputs.is_empty() || !outputs.is_empty() {
                return fail("limit operator must not contain expression, inputs, or outputs");
            }
            let count = |key: &str, default: Option<u64>, at_least: u64| -> Result<usize> {
                match params.get(key) {
                    None => default.map(|d| d as usize).ok_or(()),
                    Some(v) => v
                        .as_u64()
                        .filter(|&n| n >= at_least)
                        .map(|n| n as usize)
                        .ok_or(()),
                }
                .or_else(|()| {
                    fail(if at_least > 0 {
                        format!("function chain {key} must be a positive integer")
                    } else {
                        format!("function chain {key} must be a non-negative integer")
                    })
                })
            };
            Ok(ChainOp::Limit {
                limit: count("limit", None, 1)?,
                offset: count("offset", Some(0), 0)?,
            })
        }
        other => fail(format!("unsupported function chain operator: {other}")),
    }
}

fn expr_of(expr: &Json) -> Result<(ChainFunction, Vec<ChainArg>)> {
    let name = expr.get("name").and_then(Json::as_str).unwrap_or("");
    let context = |e: Error| Error::invalid(format!("expression {name}: {}", text(e)));
    let args = match expr.get("args") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|a| {
                if let Some(Json::String(c)) = a.get("column") {
                    return Ok(ChainArg::Column(c.clone()));
                }
                match a.get("literal") {
                    Some(Json::Number(n)) => Ok(ChainArg::Number(n.as_f64().unwrap_or(f64::NAN))),
                    Some(other) => fail(format!(
                        "function chain literals are numbers here, got {other}"
                    )),
                    None => fail("unsupported function chain expression argument type"),
                }
            })
            .collect::<Result<Vec<_>>>()
            .map_err(context)?,
        Some(other) => {
            return Err(context(Error::invalid(format!(
                "args must be a list, got {other}"
            ))))
        }
    };
    let params = params(expr.get("params")).map_err(context)?;
    let function = function_of(name, &params).map_err(context)?;
    Ok((function, args))
}

fn number(params: &Map<String, Json>, key: &str, default: Option<f64>) -> Result<f64> {
    match params.get(key) {
        None => default.map_or_else(|| fail(format!("requires {key}")), Ok),
        Some(Json::Number(n)) => n
            .as_f64()
            .map_or_else(|| fail(format!("{key} must be numeric")), Ok),
        Some(_) => fail(format!("{key} must be numeric")),
    }
}

fn only(params: &Map<String, Json>, known: &[&str]) -> Result<()> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => fail(format!(
            "unknown parameter '{k}'; it takes {}",
            known.join(", ")
        )),
    }
}

fn function_of(name: &str, params: &Map<String, Json>) -> Result<ChainFunction> {
    match name {
        "num_combine" => {
            only(params, &["mode", "weights"])?;
            let mode = match params.get("mode").map(|m| m.as_str()) {
                None | Some(Some("sum")) => NumCombine::Sum,
                Some(Some("multiply")) => NumCombine::Multiply,
                Some(Some("max")) => NumCombine::Max,
                Some(Some("min")) => NumCombine::Min,
                Some(Some("avg")) => NumCombine::Avg,
                Some(Some("weighted")) => NumCombine::Weighted,
                Some(other) => return fail(format!("unsupported num_combine mode: {}", other.unwrap_or("(not a string)"))),
            };
            let weights = match params.get("weights") {
                None => Vec::new(),
                Some(_) if mode != NumCombine::Weighted => {
                    return fail("num_combine weights require mode='weighted'")
                }
                Some(Json::Array(ws)) => ws
                    .iter()
                    .map(|w| w.as_f64().filter(|x| x.is_finite()))
                    .collect::<Option<Vec<_>>>()
                    .map_or_else(|| fail("num_combine weights must be finite numbers"), Ok)?,
                Some(_) => return fail("num_combine weights must be a list of numbers"),
            };
            if mode == NumCombine::Weighted && weights.is_empty() {
                return fail("weighted num_combine requires weights");
            }
            Ok(ChainFunction::NumCombine { mode, weights })
        }
        "decay" => {
            only(params, &["function", "origin", "scale", "offset", "decay"])?;
            let function = match params.get("function").and_then(Json::as_str) {
                Some("gauss") => DecayFunction::Gauss,
                Some("exp") => DecayFunction::Exp,
                Some("linear") => DecayFunction::Linear,
                other => return fail(format!("unsupported decay function: {}", other.unwrap_or("(none)"))),
            };
            let decay = Decay {
                function,
                origin: number(params, "origin", None)?,
                scale: number(params, "scale", None)?,
                offset: number(params, "offset", Some(0.0))?,
                decay: number(params, "decay", Some(0.5))?,
            };
            if decay.scale <= 0.0 || decay.offset < 0.0 || !(decay.decay > 0.0 && decay.decay < 1.0) {
                return fail("decay requires scale > 0, offset >= 0, and 0 < decay < 1");
            }
            Ok(ChainFunction::Decay(decay))
        }
        "round_decimal" => {
            only(params, &["decimal"])?;
            match params.get("decimal").and_then(Json::as_u64) {
                Some(d) if d <= 6 => Ok(ChainFunction::RoundDecimal { decimal: d as u32 }),
                _ => fail("round_decimal decimal must be an integer in [0, 6]"),
            }
        }
        "rerank_model" | "xgboost" => Err(Error::param(format!(
            "{name} calls a model service or loads a model, which covec does not; rerank the hits in your code"
        ))),
        other => fail(format!("unsupported function chain expression: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(spec: Json) -> String {
        chain_of(&spec).unwrap_err().to_string()
    }

    fn map(output: &str, expr: Json) -> Json {
        json!({"op": "map", "expr": expr, "inputs": [], "outputs": [output], "params": {}})
    }

    #[test]
    fn pymilvus_chains_become_engine_chains() {
        let spec = json!({"name": "c", "stage": "L2_RERANK", "ops": [
            map("t", json!({"name": "num_combine", "args": [{"column": "$score"}, {"column": "pop"}, {"literal": 2}], "params": {"mode": "weighted", "weights": [1.0, 0.5, 1]}})),
            map("$score", json!({"name": "round_decimal", "args": [{"column": "t"}], "params": {"decimal": 2}})),
            {"op": "sort", "inputs": ["$score", "$id"], "params": {"column": "$score", "desc": false, "tie_break_col": "$id"}},
            {"op": "limit", "params": {"limit": 5, "offset": 1}},
        ]});
        let chain = chain_of(&spec).unwrap();
        assert_eq!(chain.ops.len(), 4);
        assert_eq!(
            chain.ops[0],
            ChainOp::Map {
                output: "t".into(),
                function: ChainFunction::NumCombine {
                    mode: NumCombine::Weighted,
                    weights: vec![1.0, 0.5, 1.0]
                },
                args: vec![
                    ChainArg::Column("$score".into()),
                    ChainArg::Column("pop".into()),
                    ChainArg::Number(2.0)
                ],
            }
        );
        assert_eq!(
            chain.ops[2],
            ChainOp::Sort {
                column: "$score".into(),
                desc: false,
                tie_break: Some("$id".into())
            }
        );
        assert_eq!(
            chain.ops[3],
            ChainOp::Limit {
                limit: 5,
                offset: 1
            }
        );
    }

    #[test]
    fn malformed_chains_are_refused_with_the_operator_named() {
        let chain = |op: Json| json!({"stage": "L2_RERANK", "ops": [op]});
        assert!(message(json!({"stage": "INGESTION", "ops": []}))
            .contains("stage INGESTION is not supported"));
        assert!(message(chain(json!({"op": "filter"})))
            .contains("op[0]: unsupported function chain operator: filter"));
        assert!(
            message(chain(json!({"op": "limit", "params": {"limit": 0}})))
                .contains("limit must be a positive integer")
        );
        assert!(message(chain(
            json!({"op": "sort", "inputs": ["a"], "params": {"column": "b"}})
        ))
        .contains("sort inputs must match"));
        assert!(message(chain(map(
            "x",
            json!({"name": "num_combine", "args": [], "params": {"mode": "median"}})
        )))
        .contains("unsupported num_combine mode: median"));
        assert!(message(chain(map(
            "x",
            json!({"name": "round_decimal", "args": [], "params": {"decimal": 9}})
        )))
        .contains("decimal must be an integer in [0, 6]"));
        assert!(message(chain(map("x", json!({"name": "decay", "args": [], "params": {"function": "exp", "origin": 0, "scale": 0}})))).contains("scale > 0"));
        assert!(
            message(chain(map("x", json!({"name": "softmax", "args": []}))))
                .contains("unsupported function chain expression: softmax")
        );
        assert!(
            message(chain(map("x", json!({"name": "rerank_model", "args": []}))))
                .contains("which covec does not")
        );
        assert!(message(chain(map(
            "x",
            json!({"name": "num_combine", "args": [{"literal": "a"}]})
        )))
        .contains("literals are numbers"));
    }
}
