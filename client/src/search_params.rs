//! pymilvus's search arguments as covec reads them: the `search_params` dict, `offset` and
//! `round_decimal`. Every key is honoured, accepted because it only tunes an index type covec serves
//! with HNSW (the answer means the same without it), or refused with a `ParamError` that names it, so a
//! search never returns a plausible answer to a question it did not ask (docs/compatibility.md,
//! "Parameters").

use serde_json::Value as Json;

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

/// Keys that change what a search answers, each with the feature they wait for.
const NOT_YET: [(&str, &str); 5] = [
    ("radius", "range search"),
    ("range_filter", "range search"),
    ("group_by_field", "grouping search"),
    ("group_size", "grouping search"),
    ("strict_group_size", "grouping search"),
];

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
}

impl SearchParams {
    /// From pymilvus's arguments: `search_params` (a JSON object, or None) and the `offset` and
    /// `round_decimal` keyword arguments (None when not given). As pymilvus does, the keys of
    /// `search_params` other than `params` are merged into `params`; a key in both with different values
    /// is ambiguous, and so is `offset` given both ways.
    pub fn from_milvus(
        search_params: Option<&Json>,
        offset: Option<&Json>,
        round_decimal: Option<&Json>,
    ) -> Result<SearchParams> {
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
        if offset.is_some_and(|o| !o.is_null()) && top.contains_key("offset") {
            return Err(Error::param(
                "Provide offset both in kwargs and param, expect just one",
            ));
        }

        let mut out = SearchParams::default();
        if let Some(n) = round_decimal.filter(|n| !n.is_null()) {
            out.round_decimal = round_decimal_of(n)?;
        }
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
                "ignore_growing" => {
                    // Milvus skips rows not yet sealed into a segment; covec searches every row.
                    if value != Json::Bool(false) {
                        return Err(not_yet("ignore_growing", "searching indexed rows only"));
                    }
                }
                k if HONOURED.contains(&k) => out.params.push((key, value.to_string())),
                k if TUNING.contains(&k) => {}
                k => {
                    return Err(match NOT_YET.iter().find(|(name, _)| *name == k) {
                        Some((name, feature)) => not_yet(name, feature),
                        None => Error::param(format!(
                            "unknown search parameter '{k}'; covec reads ef, metric_type and offset, and accepts {} (they tune index types covec serves with HNSW)",
                            TUNING.join(", ")
                        )),
                    })
                }
            }
        }
        // As in pymilvus, the keyword argument wins over an offset inside `params`.
        if let Some(o) = offset.filter(|o| !o.is_null()) {
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
        SearchParams::from_milvus(Some(&search_params), None, None)
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
            SearchParams::from_milvus(None, None, None).unwrap(),
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
        for (key, feature) in [
            ("radius", "range search"),
            ("range_filter", "range search"),
            ("group_by_field", "grouping search"),
            ("group_size", "grouping search"),
        ] {
            for p in [json!({key: 1}), json!({"params": {key: 1}})] {
                let message = refused(params(p));
                assert!(
                    message.contains(&format!("'{key}' ({feature})"))
                        && message.contains("not supported by covec yet"),
                    "{message}"
                );
            }
        }
        let message = refused(params(json!({"ignore_growing": true})));
        assert!(message.contains("'ignore_growing'"), "{message}");
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
        assert!(SearchParams::from_milvus(Some(&json!([])), None, None).is_err());
        let both = SearchParams::from_milvus(Some(&json!({"offset": 1})), Some(&json!(1)), None);
        assert!(refused(both).contains("offset both in kwargs and param"));
    }

    #[test]
    fn offset_and_round_decimal_arguments() {
        let p = SearchParams::from_milvus(None, Some(&json!(4)), Some(&json!(2))).unwrap();
        assert_eq!((p.offset, p.round_decimal), (4, Some(2)));
        let none = SearchParams::from_milvus(None, Some(&Json::Null), Some(&json!(-1))).unwrap();
        assert_eq!((none.offset, none.round_decimal), (0, None));
        for bad in [json!(7), json!(-2), json!(1.5), json!("2")] {
            assert!(
                SearchParams::from_milvus(None, None, Some(&bad)).is_err(),
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
