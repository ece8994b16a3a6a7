//! The parsers of pymilvus's search arguments never panic, whatever JSON they are given: rankers,
//! function chains and search parameters only ever answer with an error.

use covec::{chain_of, rerank_of, SearchParams};
use proptest::prelude::*;
use serde_json::{json, Map, Value as Json};

/// Arbitrary JSON, biased towards the keys and words these parsers look for.
fn json_value() -> impl Strategy<Value = Json> {
    let word = prop_oneof![
        Just("functions"),
        Just("params"),
        Just("strategy"),
        Just("rrf"),
        Just("weighted"),
        Just("weights"),
        Just("reranker"),
        Just("boost"),
        Just("decay"),
        Just("weight"),
        Just("filter"),
        Just("type"),
        Just("input_field_names"),
        Just("stage"),
        Just("L2_RERANK"),
        Just("ops"),
        Just("op"),
        Just("map"),
        Just("sort"),
        Just("limit"),
        Just("expr"),
        Just("args"),
        Just("column"),
        Just("literal"),
        Just("num_combine"),
        Just("round_decimal"),
        Just("decimal"),
        Just("mode"),
        Just("outputs"),
        Just("inputs"),
        Just("radius"),
        Just("range_filter"),
        Just("group_by_field"),
        Just("group_size"),
        Just("origin"),
        Just("scale"),
        Just("function"),
        Just("gauss"),
        Just("k"),
        Just("offset"),
    ]
    .prop_map(str::to_string);
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e6f64..1e6).prop_map(|x| json!(x)),
        Just(json!(3)),
        word.clone().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::vec((word.clone(), inner), 0..6)
                .prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn parsers_answer_every_json_without_panicking(v in json_value(), args in json_value()) {
        let _ = rerank_of(&v);
        let _ = chain_of(&v);
        let _ = SearchParams::from_milvus(Some(&v), &args);
    }
}
