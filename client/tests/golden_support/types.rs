//! What a golden file of the column types holds beyond the three collections every golden file has
//! (`golden_support`): one collection `typed` with every column type catalog revision 3 added (ARRAY of
//! each element kind, TIMESTAMPTZ, GEOMETRY, FLOAT16/BFLOAT16/INT8/BINARY/SPARSE_FLOAT vectors, each
//! vector field with its own index) and an analyzed VARCHAR with a match index feeding a BM25 function,
//! so its parts carry the text-index and BM25-statistics sections. Rows come in two merged batches with
//! deletes and an upsert, then a tail the graphs have not taken in. `write` puts them in, `check` reads
//! them back and checks filters and searches on every type against values computed here.
//!
//! Compiled only against covec versions that have these types (catalog revision 3 on): golden.rs
//! includes it, write-with-old-covec.sh does not.

use covec::internals::geometry;
use covec::internals::sparse::{term_frequencies, SparseVector};
use covec::internals::text::{term_id, Analyzer};
use covec::{
    CollectionSchema, DataType, Db, FieldSchema, FunctionKind, FunctionSpec, IndexSpec,
    OutputFields, Pk, QueryVectors, Row, SearchRequest, Value,
};

pub const TYPED: &str = "typed";
const DIM: usize = 4;
/// Rows in two batches that merge into one part big enough for graphs (1,024 rows), then (after the
/// deletes and the upsert) a tail under the graphs' 10 %.
const BATCHES: [std::ops::Range<i64>; 3] = [0..600, 600..1200, 1200..1210];
const WORDS: [&str; 6] = ["apple", "river", "cloud", "stone", "forest", "garden"];
/// Midnight of 2024-01-01 UTC, in seconds since the epoch.
const EPOCH_2024: i64 = 1_704_067_200;

fn field(name: &str, dtype: DataType, tweak: impl FnOnce(&mut FieldSchema)) -> FieldSchema {
    let mut f = FieldSchema::new(name, dtype);
    tweak(&mut f);
    f
}

fn array(name: &str, element: DataType, capacity: u32) -> FieldSchema {
    field(name, DataType::Array, |f| {
        f.element_type = Some(element);
        f.max_capacity = Some(capacity);
    })
}

pub fn schema() -> CollectionSchema {
    let vector =
        |name: &str, dtype: DataType, dim: usize| field(name, dtype, |f| f.dim = Some(dim as u32));
    let mut s = CollectionSchema::new(
        vec![
            field("id", DataType::Int64, |f| f.is_primary = true),
            field("tags", DataType::Array, |f| {
                f.element_type = Some(DataType::VarChar);
                f.max_capacity = Some(4);
                f.max_length = Some(12);
            }),
            field("nums", DataType::Array, |f| {
                f.element_type = Some(DataType::Int64);
                f.max_capacity = Some(6);
                f.nullable = true;
            }),
            array("ratios", DataType::Double, 3),
            array("flags", DataType::Bool, 2),
            field("at", DataType::Timestamptz, |f| f.nullable = true),
            field("place", DataType::Geometry, |_| {}),
            field("body", DataType::VarChar, |f| {
                f.max_length = Some(200);
                f.type_params = vec![
                    ("enable_analyzer".into(), "true".into()),
                    ("enable_match".into(), "true".into()),
                    ("analyzer_params".into(), r#"{"type": "english"}"#.into()),
                ];
            }),
            vector("half", DataType::Float16Vector, DIM),
            vector("brain", DataType::BFloat16Vector, DIM),
            vector("small", DataType::Int8Vector, DIM),
            vector("bits", DataType::BinaryVector, 16),
            field("sparse", DataType::SparseFloatVector, |_| {}),
            field("bm", DataType::SparseFloatVector, |f| {
                f.is_function_output = true
            }),
        ],
        "every column type of catalog revision 3",
        false,
    );
    s.functions = vec![FunctionSpec {
        name: "body_bm25".into(),
        description: String::new(),
        kind: FunctionKind::Bm25,
        input_fields: vec!["body".into()],
        output_fields: vec!["bm".into()],
        params: vec![],
    }];
    s
}

/// The index of each vector field, as create_collection is given them.
pub fn indexes() -> Vec<IndexSpec> {
    let s = schema();
    let spec = |field: &str, index_type: &str, metric: &str, params: &[(&str, &str)]| {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        IndexSpec::from_milvus(&s, field, index_type, field, Some(metric), params)
            .unwrap()
            .unwrap()
    };
    vec![
        spec(
            "half",
            "HNSW",
            "L2",
            &[("M", "8"), ("efConstruction", "64")],
        ),
        spec("brain", "FLAT", "L2", &[]),
        spec(
            "small",
            "HNSW",
            "L2",
            &[("M", "8"), ("efConstruction", "64")],
        ),
        spec("bits", "BIN_FLAT", "HAMMING", &[]),
        spec("sparse", "SPARSE_INVERTED_INDEX", "IP", &[]),
        spec(
            "bm",
            "SPARSE_INVERTED_INDEX",
            "BM25",
            &[("bm25_k1", "1.2"), ("bm25_b", "0.75")],
        ),
    ]
}

pub fn deleted(id: i64) -> bool {
    matches!(id, 3 | 27 | 700)
}

/// Row 10 was upserted once (round 1): its vectors and time moved.
pub fn round(id: i64) -> i64 {
    i64::from(id == 10)
}

/// Live ids in primary-key order.
pub fn live() -> Vec<i64> {
    BATCHES
        .iter()
        .flat_map(|r| r.clone())
        .filter(|&id| !deleted(id))
        .collect()
}

/// The dense vector of row `id` as small integers (exact in float16, bfloat16 and int8), distinct per id.
fn dense(id: i64) -> [i64; DIM] {
    [id % 16 - 8, id / 16 % 16 - 8, id / 256 - 3, 1 + round(id)]
}

/// float16 bits of a small integer (|n| < 2048).
fn f16_bits(n: i64) -> u16 {
    if n == 0 {
        return 0;
    }
    let sign = if n < 0 { 0x8000 } else { 0 };
    let m = n.unsigned_abs();
    let exp = 63 - m.leading_zeros();
    let mantissa = ((m << (10 - exp)) & 0x3ff) as u16;
    sign | (((exp + 15) as u16) << 10) | mantissa
}

fn bf16_bits(n: i64) -> u16 {
    ((n as f32).to_bits() >> 16) as u16
}

fn bits(id: i64) -> Vec<u8> {
    vec![id as u8, (id >> 8) as u8 ^ (0x80 * round(id) as u8)]
}

/// Dimension 100 + id is this row's alone.
fn sparse(id: i64) -> SparseVector {
    SparseVector::from_pairs([
        (id % 10, 1.0 + id as f64 / 8.0),
        (10 + id % 7, 0.5),
        (100 + id, 0.25),
    ])
    .unwrap()
}

fn tags(id: i64) -> Vec<String> {
    (0..id % 4).map(|k| format!("t{}", (id + k) % 6)).collect()
}

/// None: null.
fn nums(id: i64) -> Option<Vec<i64>> {
    (id % 7 != 6).then(|| (0..id % 5).map(|k| k * id - 20).collect())
}

fn ratios(id: i64) -> [f64; 2] {
    [id as f64 / 4.0, -0.5]
}

fn flags(id: i64) -> [bool; 2] {
    [id % 2 == 0, id % 3 == 0]
}

/// Microseconds since the epoch; None: null.
fn at(id: i64) -> Option<i64> {
    (id % 5 != 4).then(|| (EPOCH_2024 + id * 7 * 86_400 + id * 3_661 + round(id)) * 1_000_000 + id)
}

/// Where row `id`'s geometry starts: half-integer coordinates, never on the test box's edges.
fn place_origin(id: i64) -> (f64, f64) {
    ((id % 10) as f64 + 0.5, (id % 6 - 2) as f64 + 0.5)
}

/// Points, small squares and segments at `place_origin`.
fn place_wkt(id: i64) -> String {
    let (x, y) = place_origin(id);
    match id % 4 {
        0 => format!("LINESTRING ({x} {y}, {} {})", x + 1.0, y + 1.0),
        1 => {
            let (a, b, c, d) = (x - 0.25, x + 0.25, y - 0.25, y + 0.25);
            format!("POLYGON (({a} {c}, {b} {c}, {b} {d}, {a} {d}, {a} {c}))")
        }
        _ => format!("POINT ({x} {y})"),
    }
}

/// The vertices of `place_wkt(id)`.
fn place_vertices(id: i64) -> Vec<(f64, f64)> {
    let (x, y) = place_origin(id);
    match id % 4 {
        0 => vec![(x, y), (x + 1.0, y + 1.0)],
        1 => vec![(x - 0.25, y - 0.25), (x + 0.25, y + 0.25)],
        _ => vec![(x, y)],
    }
}

fn body(id: i64) -> String {
    format!(
        "{} {} {} code{id}",
        WORDS[(id % 6) as usize],
        WORDS[(id / 6 % 6) as usize],
        WORDS[((id + 2) % 6) as usize]
    )
}

/// A row as insert is given it (the geometry as WKT, the time as microseconds).
pub fn input(id: i64) -> Row {
    let d = dense(id);
    let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::Str).collect());
    vec![
        ("id".into(), Value::Int(id)),
        ("tags".into(), strings(tags(id))),
        (
            "nums".into(),
            nums(id).map_or(Value::Null, |v| {
                Value::Array(v.into_iter().map(Value::Int).collect())
            }),
        ),
        (
            "ratios".into(),
            Value::Array(ratios(id).into_iter().map(Value::Float).collect()),
        ),
        (
            "flags".into(),
            Value::Array(flags(id).into_iter().map(Value::Bool).collect()),
        ),
        ("at".into(), at(id).map_or(Value::Null, Value::Timestamp)),
        ("place".into(), Value::Str(place_wkt(id))),
        ("body".into(), Value::Str(body(id))),
        (
            "half".into(),
            Value::Float16Vector(d.iter().map(|&n| f16_bits(n)).collect()),
        ),
        (
            "brain".into(),
            Value::BFloat16Vector(d.iter().map(|&n| bf16_bits(n)).collect()),
        ),
        (
            "small".into(),
            Value::Int8Vector(d.iter().map(|&n| n as i8).collect()),
        ),
        ("bits".into(), Value::BinaryVector(bits(id))),
        ("sparse".into(), Value::SparseFloatVector(sparse(id))),
    ]
}

/// The row as reads return it: the geometry as its WKB, and the BM25 function's output: the term
/// frequencies of the body under the english analyzer (a change to that analyzer would make stored
/// outputs disagree with the queries it analyzes, so it shows here).
pub fn stored(id: i64) -> Row {
    let mut row = input(id);
    let wkb = geometry::encode(&geometry::parse_wkt(&place_wkt(id)).unwrap());
    row.iter_mut().find(|(n, _)| n == "place").unwrap().1 = Value::Geometry(wkb);
    let english = Analyzer::from_params(&serde_json::json!({"type": "english"})).unwrap();
    let terms = english
        .tokens(&body(id))
        .into_iter()
        .map(|t| term_id(&t.text));
    row.push((
        "bm".into(),
        Value::SparseFloatVector(term_frequencies(terms)),
    ));
    row
}

/// Writes `typed` into the golden db `db` (which holds the three base collections).
pub fn write(db: &Db) -> covec::Result<()> {
    db.create_collection(TYPED, schema(), indexes())?;
    let [first, second, tail] = BATCHES;
    db.insert(TYPED, first.map(input).collect())?;
    db.insert(TYPED, second.map(input).collect())?;
    // Graphs first, then deletes and an upsert that leave deleted rows (and their BM25 statistics) in
    // the indexed part.
    db.flush(TYPED)?;
    let doomed: Vec<Pk> = BATCHES
        .iter()
        .flat_map(|r| r.clone())
        .filter(|&id| deleted(id))
        .map(Pk::Int)
        .collect();
    db.delete_ids(TYPED, &doomed)?;
    db.upsert(TYPED, vec![input(10)], false)?;
    db.insert(TYPED, tail.map(input).collect())?;
    // A build the tail might start is waited for, so the file does not depend on timing.
    covec::internals::builder::BuildLock::wait(db.path()).map(drop)
}

fn ids(rows: &[Row]) -> Vec<i64> {
    rows.iter()
        .map(|r| match r[0].1 {
            Value::Int(i) => i,
            ref other => panic!("pk {other:?}"),
        })
        .collect()
}

fn search(db: &Db, field: &str, vectors: QueryVectors, limit: usize) -> Vec<(i64, f32)> {
    let request = SearchRequest {
        anns_field: Some(field.into()),
        vectors,
        nq: 1,
        limit,
        params: vec![("ef".into(), "256".into())],
        ..SearchRequest::default()
    };
    let hits = db.search(TYPED, &request).unwrap();
    hits[0]
        .iter()
        .map(|h| match h.id {
            Pk::Int(i) => (i, h.distance),
            ref other => panic!("pk {other:?}"),
        })
        .collect()
}

/// Checks everything `write` put in, read through `db`; `file` names the golden file in failures.
pub fn check(db: &Db, file: &str) {
    let info = db.describe_collection(TYPED).unwrap();
    assert_eq!(info.schema, schema(), "{file}: typed schema");
    assert_eq!(info.indexes, indexes(), "{file}: typed indexes");
    let all = OutputFields {
        names: Vec::new(),
        all: true,
    };
    let rows = db.query(TYPED, "", &all, None, 0).unwrap();
    assert_eq!(ids(&rows), live(), "{file}: typed ids");
    for (got, id) in rows.iter().zip(live()) {
        assert_eq!(got, &stored(id), "{file}: typed row {id}");
    }

    // Filters on every new column type, counted here from the rows' own values.
    let count =
        |keep: &dyn Fn(i64) -> bool| live().into_iter().filter(|&id| keep(id)).count() as u64;
    let words =
        |id: i64| -> Vec<String> { body(id).split(' ').take(3).map(String::from).collect() };
    let april = (1_711_929_600i64) * 1_000_000; // 2024-04-01T00:00:00Z
    let thirty_days = 30 * 86_400 * 1_000_000i64;
    let filters: Vec<(&str, u64)> = vec![
        (
            r#"array_contains(tags, "t3")"#,
            count(&|id| tags(id).contains(&"t3".to_string())),
        ),
        (
            "array_contains_any(nums, [-20, 4])",
            count(&|id| nums(id).is_some_and(|v| v.contains(&-20) || v.contains(&4))),
        ),
        ("array_length(tags) == 2", count(&|id| tags(id).len() == 2)),
        (
            "nums[1] > 0",
            count(&|id| nums(id).is_some_and(|v| v.get(1).is_some_and(|&x| x > 0))),
        ),
        ("nums is null", count(&|id| nums(id).is_none())),
        ("flags[1] == true", count(&|id| flags(id)[1])),
        ("ratios[0] >= 5.0", count(&|id| ratios(id)[0] >= 5.0)),
        ("at is null", count(&|id| at(id).is_none())),
        (
            "at > ISO '2024-04-01T00:00:00Z'",
            count(&|id| at(id).is_some_and(|t| t > april)),
        ),
        (
            "at + INTERVAL 'P30D' <= ISO '2024-04-01T00:00:00Z'",
            count(&|id| at(id).is_some_and(|t| t + thirty_days <= april)),
        ),
        (
            "ST_WITHIN(place, 'POLYGON((0 0, 5 0, 5 5, 0 5, 0 0))')",
            count(&|id| {
                place_vertices(id)
                    .iter()
                    .all(|&(x, y)| 0.0 < x && x < 5.0 && 0.0 < y && y < 5.0)
            }),
        ),
        (
            "text_match(body, 'apple')",
            count(&|id| words(id).iter().any(|w| w == "apple")),
        ),
        (
            "phrase_match(body, 'apple river')",
            count(&|id| words(id).windows(2).any(|w| w == ["apple", "river"])),
        ),
    ];
    for (filter, want) in filters {
        assert!(want > 0, "{file}: {filter} selects nothing here");
        assert_eq!(
            db.count(TYPED, filter).unwrap(),
            want,
            "{file}: count({filter})"
        );
    }

    // Each dense field, the tail's rows included: a row's own vector finds it at distance 0.
    for id in [0, 10, 26, 999, 1205] {
        let query: Vec<f32> = dense(id).iter().map(|&n| n as f32).collect();
        for field in ["half", "brain", "small"] {
            let hits = search(db, field, query.clone().into(), 1);
            assert_eq!(hits, [(id, 0.0)], "{file}: {field} search for row {id}");
        }
        let hits = search(db, "bits", QueryVectors::Binary(bits(id)), 1);
        assert_eq!(hits, [(id, 0.0)], "{file}: bits search for row {id}");
        // Only row `id` has dimension 100 + id, where it holds 0.25.
        let only = SparseVector::from_pairs([(100 + id, 4.0)]).unwrap();
        let hits = search(db, "sparse", QueryVectors::Sparse(vec![only]), 5);
        assert_eq!(hits, [(id, 1.0)], "{file}: sparse search for row {id}");
        // BM25: `code<id>` is in row `id`'s body alone.
        let hits = search(db, "bm", QueryVectors::Text(vec![format!("code{id}")]), 5);
        assert_eq!(ids_of(&hits), [id], "{file}: BM25 search for code{id}");
        assert!(hits[0].1 > 0.0, "{file}: BM25 score {:?}", hits[0]);
    }
    // A sparse query over shared dimensions: inner products counted here, best first.
    let query = SparseVector::from_pairs([(3, 1.0), (12, 2.0)]).unwrap();
    let mut want: Vec<f32> = live()
        .into_iter()
        .map(|id| {
            let v = sparse(id);
            v.view()
                .iter()
                .map(|(i, x)| match i {
                    3 => x,
                    12 => 2.0 * x,
                    _ => 0.0,
                })
                .sum::<f32>()
        })
        .filter(|&s| s > 0.0)
        .collect();
    want.sort_by(|a, b| b.total_cmp(a));
    want.truncate(100);
    let got = search(db, "sparse", QueryVectors::Sparse(vec![query]), 100);
    let scores: Vec<f32> = got.iter().map(|h| h.1).collect();
    assert_eq!(scores, want, "{file}: sparse scores");
}

fn ids_of(hits: &[(i64, f32)]) -> Vec<i64> {
    hits.iter().map(|h| h.0).collect()
}
