//! `ranker=` as covec reads it: pymilvus's `RRFRanker` / `WeightedRanker` (as their `dict()`:
//! `{"strategy", "params"}`) or a `FunctionScore` of RERANK `Function`s (`{"functions": [{"name",
//! "type", "input_field_names", "params"}], "params"}`; a lone Function comes as a FunctionScore of
//! one), checked into an engine `Rerank`. Each function takes the parameters Milvus documents for its
//! reranker; any other key is refused by name.

use serde_json::{Map, Value as Json};

use crate::engine::{Boost, Combine, Decay, DecayFunction, Merge, Rerank, ScoreMode};
use crate::error::{Error, Result};

/// Milvus's FunctionType.RERANK.
const RERANK_FUNCTION: i64 = 3;

/// The rerank `spec` describes, checked (see the module doc).
pub fn rerank_of(spec: &Json) -> Result<Rerank> {
    let Json::Object(spec) = spec else {
        return Err(Error::param(format!(
            "ranker must be a RRFRanker, WeightedRanker, Function or FunctionScore, got {spec}"
        )));
    };
    if let Some(strategy) = spec.get("strategy") {
        let params = object(spec.get("params"), "ranker params")?;
        let merge = match strategy.as_str() {
            Some("rrf") => rrf(&params, "RRFRanker")?,
            Some("weighted") => weighted(&params, "WeightedRanker")?,
            _ => {
                return Err(Error::param(format!(
                    "unknown ranker strategy {strategy}; use RRFRanker or WeightedRanker"
                )))
            }
        };
        return Ok(Rerank {
            merge: Some(merge),
            ..Rerank::default()
        });
    }
    let functions = match spec.get("functions") {
        Some(Json::Array(fs)) if !fs.is_empty() => fs,
        _ => {
            return Err(Error::param(
                "a FunctionScore needs at least one RERANK Function",
            ))
        }
    };
    let mut rerank = Rerank::default();
    let score_params = object(spec.get("params"), "FunctionScore params")?;
    for (key, value) in &score_params {
        let mode = match value.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("multiply") => Combine::Multiply,
            Some("sum") => Combine::Sum,
            _ => {
                return Err(Error::invalid(format!(
                    "FunctionScore params.{key} must be 'Multiply' or 'Sum', got {value}"
                )))
            }
        };
        match key.as_str() {
            "boost_mode" => rerank.boost_mode = mode,
            "function_mode" => rerank.function_mode = mode,
            _ => {
                return Err(Error::param(format!(
                    "unknown FunctionScore parameter '{key}'; it takes boost_mode and function_mode"
                )))
            }
        }
    }
    for f in functions {
        let function = Function::of(f)?;
        if function.reranker == "boost" {
            rerank.boosts.push(function.boost()?);
            continue;
        }
        if rerank.merge.is_some() {
            return Err(Error::invalid(
                "a ranker holds at most one rrf, weighted or decay function besides its boost functions",
            ));
        }
        rerank.merge = Some(function.merge()?);
    }
    Ok(rerank)
}

/// One RERANK function's parts.
struct Function {
    name: String,
    inputs: Vec<String>,
    reranker: String,
    params: Map<String, Json>,
}

impl Function {
    fn of(f: &Json) -> Result<Function> {
        let name = f
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let kind = f.get("type").and_then(Json::as_i64);
        if kind != Some(RERANK_FUNCTION) {
            return Err(Error::param(format!(
                "ranker function '{name}' must be a FunctionType.RERANK function"
            )));
        }
        let inputs = match f.get("input_field_names") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(names)) => names
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::param(format!(
                        "input_field_names of ranker function '{name}' must be field names"
                    ))
                })?,
            Some(other) => {
                return Err(Error::param(format!(
                    "input_field_names of ranker function '{name}' must be a list, got {other}"
                )))
            }
        };
        let params = object(f.get("params"), "ranker function params")?;
        let reranker = match params.get("reranker") {
            Some(Json::String(r)) => r.to_ascii_lowercase(),
            _ if params.contains_key("provider") => "model".to_string(),
            _ => {
                return Err(Error::invalid(format!(
                    "ranker function '{name}' needs params.reranker: boost, rrf, weighted or decay"
                )))
            }
        };
        Ok(Function {
            name,
            inputs,
            reranker,
            params,
        })
    }

    /// Refuses any parameter but `known` (and `reranker`).
    fn only(&self, known: &[&str]) -> Result<()> {
        match self
            .params
            .keys()
            .find(|k| *k != "reranker" && !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some(k) => Err(Error::param(format!(
                "unknown parameter '{k}' of the {} ranker function '{}'; it takes {}",
                self.reranker,
                self.name,
                known.join(", ")
            ))),
        }
    }

    fn no_inputs(&self) -> Result<()> {
        if self.inputs.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "{} ranker function '{}' requires empty input_field_names",
                self.reranker, self.name
            )))
        }
    }

    fn boost(&self) -> Result<Boost> {
        self.no_inputs()?;
        if self.params.contains_key("random_score") {
            return Err(Error::param(format!(
                "boost ranker function '{}': random_score is not supported by covec yet",
                self.name
            )));
        }
        self.only(&["weight", "filter"])?;
        let weight = match self.params.get("weight") {
            None => {
                return Err(Error::invalid(format!(
                    "Boost Ranker function '{}' requires params.weight",
                    self.name
                )))
            }
            Some(w) => number(w).ok_or_else(|| {
                Error::invalid(format!(
                    "Boost Ranker function '{}' params.weight must be a number, got {w}",
                    self.name
                ))
            })?,
        };
        let filter = match self.params.get("filter") {
            None | Some(Json::Null) => None,
            Some(Json::String(f)) => Some(f.clone()).filter(|f| !f.trim().is_empty()),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "Boost Ranker function '{}' params.filter must be a string, got {other}",
                    self.name
                )))
            }
        };
        Ok(Boost {
            name: self.name.clone(),
            filter,
            weight,
        })
    }

    fn merge(&self) -> Result<Merge> {
        let what = format!("ranker function '{}'", self.name);
        match self.reranker.as_str() {
            "rrf" => {
                self.no_inputs()?;
                self.only(&["k"])?;
                rrf(&self.params, &what)
            }
            "weighted" => {
                self.no_inputs()?;
                self.only(&["weights", "norm_score"])?;
                weighted(&self.params, &what)
            }
            "decay" => self.decay(),
            "model" => Err(Error::param(format!(
                "{what}: model rerankers call an external service, which covec does not; rerank the hits in your code"
            ))),
            other => Err(Error::invalid(format!(
                "{what}: unsupported reranker '{other}'; covec has boost, rrf, weighted and decay"
            ))),
        }
    }

    fn decay(&self) -> Result<Merge> {
        self.only(&[
            "function",
            "origin",
            "scale",
            "offset",
            "decay",
            "score_mode",
            "norm_score",
        ])?;
        let [field] = &self.inputs[..] else {
            return Err(Error::invalid(format!(
                "decay reranker '{}' requires exactly 1 input field, got {}",
                self.name,
                self.inputs.len()
            )));
        };
        let get = |key: &str, default: Option<f64>| -> Result<f64> {
            match self.params.get(key) {
                None => default.ok_or_else(|| {
                    Error::invalid(format!(
                        "decay reranker '{}' requires params.{key}",
                        self.name
                    ))
                }),
                Some(v) => number(v).ok_or_else(|| {
                    Error::invalid(format!(
                        "decay reranker '{}': {key} must be a number, got {v}",
                        self.name
                    ))
                }),
            }
        };
        let function = match self.params.get("function").and_then(Json::as_str) {
            Some("gauss") => DecayFunction::Gauss,
            Some("exp") => DecayFunction::Exp,
            Some("linear") => DecayFunction::Linear,
            other => {
                return Err(Error::invalid(format!(
                    "decay reranker '{}': invalid function {}, must be one of exp, gauss, linear",
                    self.name,
                    other.unwrap_or("(none)")
                )))
            }
        };
        let decay = Decay {
            function,
            origin: get("origin", None)?,
            scale: get("scale", None)?,
            offset: get("offset", Some(0.0))?,
            decay: get("decay", Some(0.5))?,
        };
        if decay.scale <= 0.0 {
            return Err(Error::invalid(format!(
                "decay: scale must be > 0, got {}",
                decay.scale
            )));
        }
        if decay.offset < 0.0 {
            return Err(Error::invalid(format!(
                "decay: offset must be >= 0, got {}",
                decay.offset
            )));
        }
        if !(decay.decay > 0.0 && decay.decay < 1.0) {
            return Err(Error::invalid(format!(
                "decay: decay must be 0 < decay < 1, got {}",
                decay.decay
            )));
        }
        let mode = match self.params.get("score_mode") {
            None => ScoreMode::Max,
            Some(v) => match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("max") => ScoreMode::Max,
                Some("sum") => ScoreMode::Sum,
                Some("avg") => ScoreMode::Avg,
                _ => {
                    return Err(Error::invalid(format!(
                        "unsupported score_mode {v}: only supports [max, sum, avg]"
                    )))
                }
            },
        };
        Ok(Merge::Decay {
            field: field.clone(),
            decay,
            mode,
            norm_score: flag(self.params.get("norm_score"), "norm_score")?.unwrap_or(false),
        })
    }
}

fn rrf(params: &Map<String, Json>, what: &str) -> Result<Merge> {
    let k = match params.get("k") {
        None => 60.0,
        Some(v) => number(v)
            .ok_or_else(|| Error::invalid(format!("{what}: k must be a number, got {v}")))?,
    };
    Ok(Merge::Rrf { k })
}

fn weighted(params: &Map<String, Json>, what: &str) -> Result<Merge> {
    let weights = match params.get("weights") {
        Some(Json::Array(ws)) if !ws.is_empty() => ws
            .iter()
            .map(number)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::invalid(format!("{what}: weights must be numbers")))?,
        Some(Json::String(text)) => {
            // Milvus passes function parameters as text: a JSON array.
            let parsed: Json = serde_json::from_str(text).map_err(|_| {
                Error::invalid(format!("{what}: weights must be an array, got {text}"))
            })?;
            let mut params = params.clone();
            params.insert("weights".into(), parsed);
            return weighted(&params, what);
        }
        _ => {
            return Err(Error::invalid(format!(
                "{what}: a weighted reranker requires a weights parameter, one weight per AnnSearchRequest"
            )))
        }
    };
    Ok(Merge::Weighted {
        weights,
        norm_score: flag(params.get("norm_score"), "norm_score")?.unwrap_or(false),
    })
}

/// A JSON object (None or null: empty).
fn object(value: Option<&Json>, what: &str) -> Result<Map<String, Json>> {
    match value {
        None | Some(Json::Null) => Ok(Map::new()),
        Some(Json::Object(m)) => Ok(m.clone()),
        Some(other) => Err(Error::param(format!("{what} must be a dict, got {other}"))),
    }
}

/// A finite number, or text holding one (Milvus carries function parameters as text).
fn number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// A bool, or the text "true" / "false".
fn flag(value: Option<&Json>, key: &str) -> Result<Option<bool>> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Json::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(Error::invalid(format!("{key} must be a bool, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn function(params: Json, inputs: Json) -> Json {
        json!({"functions": [{"name": "f", "type": 3, "input_field_names": inputs, "params": params}]})
    }

    fn message(spec: Json) -> String {
        rerank_of(&spec).unwrap_err().to_string()
    }

    #[test]
    fn pymilvus_rankers_become_merges() {
        let rrf = rerank_of(&json!({"strategy": "rrf", "params": {"k": 30}})).unwrap();
        assert_eq!(rrf.merge, Some(Merge::Rrf { k: 30.0 }));
        let w = rerank_of(
            &json!({"strategy": "weighted", "params": {"weights": [0.2, 0.8], "norm_score": true}}),
        )
        .unwrap();
        assert_eq!(
            w.merge,
            Some(Merge::Weighted {
                weights: vec![0.2, 0.8],
                norm_score: true
            })
        );
        assert!(
            message(json!({"strategy": "max", "params": {}})).contains("unknown ranker strategy")
        );
    }

    #[test]
    fn boost_functions_and_their_modes() {
        let spec = json!({"functions": [
            {"name": "a", "type": 3, "input_field_names": [], "params": {"reranker": "boost", "weight": "1.5", "filter": "x > 1"}},
            {"name": "b", "type": 3, "input_field_names": [], "params": {"reranker": "Boost", "weight": 2}},
        ], "params": {"boost_mode": "Sum", "function_mode": "multiply"}});
        let r = rerank_of(&spec).unwrap();
        assert_eq!(r.boosts.len(), 2);
        assert_eq!(r.boosts[0].weight, 1.5);
        assert_eq!(r.boosts[0].filter.as_deref(), Some("x > 1"));
        assert_eq!(r.boosts[1].filter, None);
        assert_eq!(
            (r.boost_mode, r.function_mode),
            (Combine::Sum, Combine::Multiply)
        );
        assert_eq!(r.merge, None);
        assert!(message(function(json!({"reranker": "boost"}), json!([])))
            .contains("requires params.weight"));
        assert!(message(function(
            json!({"reranker": "boost", "weight": "x"}),
            json!([])
        ))
        .contains("weight must be a number"));
        assert!(message(function(
            json!({"reranker": "boost", "weight": 1, "wieght": 2}),
            json!([])
        ))
        .contains("unknown parameter 'wieght'"));
        assert!(message(function(
            json!({"reranker": "boost", "weight": 1}),
            json!(["f"])
        ))
        .contains("empty input_field_names"));
        assert!(message(json!({"functions": [], "params": {}})).contains("at least one RERANK"));
        let bad_mode = json!({"functions": [{"name": "a", "type": 3, "params": {"reranker": "boost", "weight": 1}}], "params": {"boost_mode": "max"}});
        assert!(message(bad_mode).contains("'Multiply' or 'Sum'"));
    }

    #[test]
    fn decay_functions_are_checked_as_milvus_checks_them() {
        let ok = function(
            json!({"reranker": "decay", "function": "gauss", "origin": 10, "scale": "5", "score_mode": "SUM"}),
            json!(["ts"]),
        );
        let Some(Merge::Decay {
            field,
            decay,
            mode,
            norm_score,
        }) = rerank_of(&ok).unwrap().merge
        else {
            panic!("a decay merge");
        };
        assert_eq!(
            (field.as_str(), mode, norm_score),
            ("ts", ScoreMode::Sum, false)
        );
        assert_eq!(
            (decay.origin, decay.scale, decay.offset, decay.decay),
            (10.0, 5.0, 0.0, 0.5)
        );
        for (params, expected) in [
            (
                json!({"reranker": "decay", "function": "cubic", "origin": 0, "scale": 1}),
                "invalid function",
            ),
            (
                json!({"reranker": "decay", "function": "exp", "scale": 1}),
                "requires params.origin",
            ),
            (
                json!({"reranker": "decay", "function": "exp", "origin": 0, "scale": 0}),
                "scale must be > 0",
            ),
            (
                json!({"reranker": "decay", "function": "exp", "origin": 0, "scale": 1, "decay": 1}),
                "0 < decay < 1",
            ),
            (
                json!({"reranker": "decay", "function": "exp", "origin": 0, "scale": 1, "offset": -1}),
                "offset must be >= 0",
            ),
            (
                json!({"reranker": "decay", "function": "exp", "origin": 0, "scale": 1, "score_mode": "min"}),
                "score_mode",
            ),
        ] {
            let m = message(function(params, json!(["ts"])));
            assert!(m.contains(expected), "{m}");
        }
        let two = function(
            json!({"reranker": "decay", "function": "exp", "origin": 0, "scale": 1}),
            json!(["a", "b"]),
        );
        assert!(message(two).contains("exactly 1 input field"));
    }

    #[test]
    fn one_merge_at_most_and_no_model_or_unknown_reranker() {
        let two = json!({"functions": [
            {"name": "a", "type": 3, "params": {"reranker": "rrf"}},
            {"name": "b", "type": 3, "params": {"reranker": "weighted", "weights": [1]}},
        ]});
        assert!(message(two).contains("at most one"));
        assert!(message(function(
            json!({"reranker": "model", "provider": "x"}),
            json!(["t"])
        ))
        .contains("external service"));
        assert!(message(function(json!({"reranker": "magic"}), json!([])))
            .contains("unsupported reranker 'magic'"));
        assert!(message(function(json!({}), json!([]))).contains("needs params.reranker"));
        let wrong_type =
            json!({"functions": [{"name": "a", "type": 1, "params": {"reranker": "rrf"}}]});
        assert!(message(wrong_type).contains("RERANK"));
        let text_weights = function(
            json!({"reranker": "weighted", "weights": "[0.5, 0.5]", "norm_score": "true"}),
            json!([]),
        );
        assert_eq!(
            rerank_of(&text_weights).unwrap().merge,
            Some(Merge::Weighted {
                weights: vec![0.5, 0.5],
                norm_score: true
            })
        );
    }
}
