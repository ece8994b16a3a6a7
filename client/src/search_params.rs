//! pymilvus's search arguments as covec reads them: the `search_params` dict, the `offset`,
//! `round_decimal` and grouping keyword arguments, and (in `rerank`) the `ranker=` of a search or a
//! hybrid search. Every key is honoured, accepted because it only tunes an index type covec serves
//! with HNSW (the answer means the same without it), or refused with a `ParamError` that names it, so a
//! search never returns a plausible answer to a question it did not ask (docs/compatibility.md,
//! "Parameters").

mod chain;
mod rerank;

use serde_json::Value as Json;

pub use chain::chain_of;
pub use rerank::rerank_of;

use crate::engine::{GroupBy, Range};
use crate::error::{Error, Result};
use crate::schema::Metric;

/// Keys the engine reads (`SearchRequest::params`); it refuses any other.
pub(crate) const HONOURED: [&str; 5] = [
    "ef",
    "drop_ratio_search",
    "bm25_k1",
    "bm25_b",
    "analyzer_name",
];

/// Keys that tune an IVF, DiskANN, SCANN, quantized or AUTOINDEX index in Milvus, which covec serves with
/// HNSW; and `hints` and `page_retain_order`, which choose how Milvus reaches the same answer.
const TUNING: [&str; 9] = [
    "nprobe",
    "max_empty_result_buckets",
    "search_list",
    "reorder_k",
    "refine_k",
    "rbq_query_bits",
    "level",
    "hints",
    "page_retain_order",
];

/// The grouping keys, as keyword arguments or in `search_params`.
const GROUPING: [&str; 3] = ["group_by_field", "group_size", "strict_group_size"];

/// Milvus accepts `round_decimal` -1 (no rounding) or 0 to 6.
const MAX_ROUND_DECIMAL: i64 = 6;

/// A search's parameters, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchParams {
    /// `metric_type`: when given, it must be the index's metric (the search checks).
    pub metric: Option<Metric>,
    /// Hits skipped before `limit` are returned.
    pub offset: usize,
    /// What the engine reads (`ef`), values JSON-encoded as `SearchRequest::params` holds them.
    pub params: Vec<(String, String)>,
    /// Decimals distances are rounded to (`round_decimal`), none when -1.
    pub round_decimal: Option<u32>,
    /// Range search bounds (`radius`, `range_filter`).
    pub range: Range,
    /// Grouping search (`group_by_field`, `group_size`, `strict_group_size`).
    pub group_by: Option<GroupBy>,
}

impl SearchParams {
    /// From pymilvus's arguments: `search_params` (a JSON object, or None) and `arguments`, the
    /// keyword arguments of the search that reach here (`offset`, `round_decimal`, `group_by_field`,
    /// `group_size`, `strict_group_size`; a JSON object, null values meaning not given). As pymilvus
    /// does, the keys of `search_params` other than `params` are merged into `params`; a key in both
    /// with different values is ambiguous, and so is `offset` or a grouping key given both ways.
    pub fn from_milvus(search_params: Option<&Json>, arguments: &Json) -> Result<SearchParams> {
        let empty = serde_json::Map::new();
        let top = match search_params {
            None | Some(Json::Null) => &empty,
            Some(Json::Object(map)) => map,
            Some(other) => {
                return Err(Error::param(format!(
                    "search_params must be a dict, got {other}"
                )))
            }
        };
        let argument = |name: &str| arguments.get(name).filter(|v| !v.is_null());
        let mut merged = match top.get("params") {
            None | Some(Json::Null) => serde_json::Map::new(),
            Some(Json::Object(map)) => map.clone(),
            Some(other) => {
                return Err(Error::param(format!(
                    "Search params must be a dict, got {other}"
                )))
            }
        };
        for (key, value) in top.iter().filter(|(k, _)| *k != "params") {
            match merged.get(key) {
                Some(inner) if !same(inner, value) => {
                    return Err(Error::param(format!(
                        "ambiguous parameter: {key}, in search_param: {value}, in search_param.params: {inner}"
                    )))
                }
                Some(_) => {}
                None => {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
        if argument("offset").is_some() && top.contains_key("offset") {
            return Err(Error::param(
                "Provide offset both in kwargs and param, expect just one",
            ));
        }
        for key in GROUPING {
            if let (Some(a), Some(p)) = (argument(key), merged.get(key)) {
                if !same(a, p) {
                    return Err(Error::param(format!(
                        "ambiguous parameter: {key}, as an argument: {a}, in search_params: {p}"
                    )));
                }
            }
        }

        let mut out = SearchParams::default();
        if let Some(n) = argument("round_decimal") {
            out.round_decimal = round_decimal_of(n)?;
        }
        let mut grouping: [Option<Json>; 3] = Default::default();
        for (key, value) in merged {
            match key.as_str() {
                "metric_type" => match value {
                    Json::String(name) => out.metric = Some(Metric::parse(&name)?),
                    Json::Null => {}
                    other => {
                        return Err(Error::param(format!(
                            "metric_type must be a string, got {other}"
                        )))
                    }
                },
                "offset" if !value.is_null() => out.offset = offset_of(&value)?,
                "offset" => {}
                "radius" => out.range.radius = bound_of("radius", &value)?,
                "range_filter" => out.range.range_filter = bound_of("range_filter", &value)?,
                "ignore_growing" => {
                    // Milvus skips rows not yet sealed into a segment; covec searches every row.
                    if value != Json::Bool(false) {
                        return Err(not_yet("ignore_growing", "searching indexed rows only"));
                    }
                }
                k if GROUPING.contains(&k) => {
                    let i = GROUPING.iter().position(|g| *g == k).unwrap_or(0);
                    grouping[i] = Some(value).filter(|v| !v.is_null());
                }
                k if HONOURED.contains(&k) => out.params.push((key, value.to_string())),
                k if TUNING.contains(&k) => {}
                k => {
                    return Err(Error::param(format!(
                        "unknown search parameter '{k}'; covec reads {}, metric_type, offset, radius, range_filter and the grouping keys, and accepts {} (they tune index types covec serves with HNSW)",
                        HONOURED.join(", "),
                        TUNING.join(", ")
                    )))
                }
            }
        }
        for (slot, key) in grouping.iter_mut().zip(GROUPING) {
            if slot.is_none() {
                *slot = argument(key).cloned();
            }
        }
        out.group_by = group_by_of(&grouping)?;
        // As in pymilvus, the keyword argument wins over an offset inside `params`.
        if let Some(o) = argument("offset") {
            out.offset = offset_of(o)?;
        }
        Ok(out)
    }

    /// A distance as the search returns it: rounded half away from zero to `round_decimal` decimals
    /// as Milvus rounds, then widened as pymilvus reads a float32 distance.
    pub fn distance(&self, d: f32) -> f64 {
        match self.round_decimal {
            None => f64::from(d),
            Some(n) => {
                let scale = 10f64.powi(n as i32);
                (f64::from(d) * scale).round() / scale
            }
        }
    }
}

fn not_yet(key: &str, feature: &str) -> Error {
    Error::param(format!(
        "search parameter '{key}' ({feature}) is not supported by covec yet"
    ))
}

/// Values compared as pymilvus compares them (Python's `!=`: 1 equals 1.0).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A range search bound: a number.
fn bound_of(key: &str, value: &Json) -> Result<Option<f32>> {
    match value {
        Json::Null => Ok(None),
        Json::Number(n) => Ok(n.as_f64().map(|x| x as f32)),
        other => Err(Error::param(format!("{key} must be a number, got {other}"))),
    }
}

/// `group_by_field`, `group_size`, `strict_group_size` (each None when not given) as a grouping.
fn group_by_of(keys: &[Option<Json>; 3]) -> Result<Option<GroupBy>> {
    let [field, size, strict] = keys;
    let Some(field) = field else {
        return match (size, strict) {
            (None, None) => Ok(None),
            _ => Err(Error::param(
                "group_size and strict_group_size need group_by_field: name the field to group by",
            )),
        };
    };
    let field = match field {
        Json::String(s) if !s.is_empty() => s.clone(),
        other => {
            return Err(Error::param(format!(
                "group_by_field must be a field name, got {other}"
            )))
        }
    };
    let size = match size {
        None => 1,
        Some(v) => v
            .as_u64()
            .filter(|&n| n >= 1)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                Error::param(format!("group_size must be a positive integer, got {v}"))
            })?,
    };
    let strict = match strict {
        None => false,
        Some(Json::Bool(b)) => *b,
        Some(other) => {
            return Err(Error::param(format!(
                "strict_group_size must be a bool, got {other}"
            )))
        }
    };
    Ok(Some(GroupBy {
        field,
        size,
        strict,
    }))
}

fn offset_of(value: &Json) -> Result<usize> {
    value
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            Error::param(format!(
                "wrong type for offset, expect a non-negative int, got {value}"
            ))
        })
}

fn round_decimal_of(value: &Json) -> Result<Option<u32>> {
    match value.as_i64() {
        Some(-1) => Ok(None),
        Some(n) if (0..=MAX_ROUND_DECIMAL).contains(&n) => Ok(Some(n as u32)),
        _ => Err(Error::param(format!(
            "round_decimal {value} is invalid, should be -1 or an integer in range [0, {MAX_ROUND_DECIMAL}]"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ClientCheck;

    fn params(search_params: Json) -> Result<SearchParams> {
        SearchParams::from_milvus(Some(&search_params), &json!({}))
    }

    fn refused(result: Result<SearchParams>) -> String {
        match result {
            Err(Error::ClientSide {
                check: ClientCheck::Param,
                message,
            }) => message,
            other => panic!("expected a ParamError, got {other:?}"),
        }
    }

    #[test]
    fn top_level_keys_merge_into_params_as_pymilvus_does() {
        let p = params(json!({"metric_type": "l2", "params": {"ef": 32}, "offset": 3})).unwrap();
        assert_eq!(p.metric, Some(Metric::L2));
        assert_eq!(p.offset, 3);
        assert_eq!(p.params, vec![("ef".to_string(), "32".to_string())]);
        let top = params(json!({"ef": 40})).unwrap();
        assert_eq!(top.params, vec![("ef".to_string(), "40".to_string())]);
        // The same value both ways is not ambiguous; 1 and 1.0 are the same value in Python.
        assert!(params(json!({"ef": 8, "params": {"ef": 8.0}})).is_ok());
        let message = refused(params(json!({"ef": 8, "params": {"ef": 9}})));
        assert!(message.starts_with("ambiguous parameter: ef"), "{message}");
    }

    #[test]
    fn nothing_given_is_the_default() {
        assert_eq!(
            SearchParams::from_milvus(None, &json!({})).unwrap(),
            SearchParams::default()
        );
        assert_eq!(
            params(json!({"params": null})).unwrap(),
            SearchParams::default()
        );
    }

    #[test]
    fn tuning_keys_of_other_index_types_are_accepted_and_not_passed_on() {
        let p = params(json!({"params": {"nprobe": 16, "search_list": 100, "level": 2}, "hints": "iterative_filter"}))
            .unwrap();
        assert!(p.params.is_empty());
        assert!(params(json!({"ignore_growing": false})).is_ok());
    }

    #[test]
    fn keys_that_change_the_answer_are_refused_by_name() {
        let message = refused(params(json!({"ignore_growing": true})));
        assert!(message.contains("'ignore_growing'"), "{message}");
    }

    #[test]
    fn range_bounds_are_read_from_either_level() {
        let p = params(json!({"params": {"radius": 0.5, "range_filter": 1}})).unwrap();
        assert_eq!(
            p.range,
            Range {
                radius: Some(0.5),
                range_filter: Some(1.0)
            }
        );
        let top = params(json!({"radius": 2})).unwrap();
        assert_eq!(top.range.radius, Some(2.0));
        assert_eq!(top.range.range_filter, None);
        assert!(
            refused(params(json!({"params": {"radius": "1"}}))).contains("radius must be a number")
        );
    }

    #[test]
    fn grouping_comes_from_arguments_or_search_params() {
        let args = json!({"group_by_field": "doc", "group_size": 3, "strict_group_size": true});
        let p = SearchParams::from_milvus(None, &args).unwrap();
        assert_eq!(
            p.group_by,
            Some(GroupBy {
                field: "doc".into(),
                size: 3,
                strict: true
            })
        );
        let p = params(json!({"group_by_field": "doc"})).unwrap();
        assert_eq!(p.group_by.map(|g| (g.size, g.strict)), Some((1, false)));
        // The same key both ways must agree.
        let both = SearchParams::from_milvus(
            Some(&json!({"group_by_field": "a"})),
            &json!({"group_by_field": "b"}),
        );
        assert!(refused(both).contains("ambiguous parameter: group_by_field"));
        for bad in [
            json!({"group_size": 2}),
            json!({"group_by_field": "a", "group_size": 0}),
            json!({"group_by_field": "a", "group_size": 1.5}),
            json!({"group_by_field": 3}),
            json!({"group_by_field": "a", "strict_group_size": "yes"}),
        ] {
            assert!(SearchParams::from_milvus(None, &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let message = refused(params(json!({"params": {"eff": 64}})));
        assert!(
            message.contains("unknown search parameter 'eff'"),
            "{message}"
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        assert!(params(json!({"params": [1]})).is_err());
        assert!(params(json!({"offset": -1})).is_err());
        assert!(params(json!({"offset": "2"})).is_err());
        assert!(params(json!({"metric_type": 3})).is_err());
        assert!(params(json!({"metric_type": "EUCLIDEAN"})).is_err());
        assert!(SearchParams::from_milvus(Some(&json!([])), &json!({})).is_err());
        let both = SearchParams::from_milvus(Some(&json!({"offset": 1})), &json!({"offset": 1}));
        assert!(refused(both).contains("offset both in kwargs and param"));
    }

    #[test]
    fn offset_and_round_decimal_arguments() {
        let p = SearchParams::from_milvus(None, &json!({"offset": 4, "round_decimal": 2})).unwrap();
        assert_eq!((p.offset, p.round_decimal), (4, Some(2)));
        let none =
            SearchParams::from_milvus(None, &json!({"offset": null, "round_decimal": -1})).unwrap();
        assert_eq!((none.offset, none.round_decimal), (0, None));
        for bad in [json!(7), json!(-2), json!(1.5), json!("2")] {
            assert!(
                SearchParams::from_milvus(None, &json!({"round_decimal": bad})).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn distances_round_half_away_from_zero_as_milvus_does() {
        let p = SearchParams {
            round_decimal: Some(2),
            ..SearchParams::default()
        };
        assert_eq!(p.distance(0.123_456), 0.12);
        assert_eq!(p.distance(-0.125), -0.13);
        assert_eq!(p.distance(2.5), 2.5);
        let whole = SearchParams {
            round_decimal: Some(0),
            ..SearchParams::default()
        };
        assert_eq!(whole.distance(2.5), 3.0);
        assert_eq!(SearchParams::default().distance(0.1), f64::from(0.1f32));
    }
}
