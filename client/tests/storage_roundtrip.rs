//! Round trips through real db files: every field type, reopen, last-write-wins, upsert, delete,
//! query paging, merge and compaction.

mod storage_util;

use covec::Value;
use covec::{DataType, Db, DefaultValue, OutputFields, Pk};
use serde_json::json;
use storage_util::*;

fn all_types_schema() -> covec::CollectionSchema {
    covec::CollectionSchema::new(
        vec![
            field("id", DataType::Int64, |f| f.is_primary = true),
            field("v", DataType::FloatVector, |f| f.dim = Some(3)),
            field("b", DataType::Bool, |_| {}),
            field("i8", DataType::Int8, |_| {}),
            field("i16", DataType::Int16, |_| {}),
            field("i32", DataType::Int32, |f| f.nullable = true),
            field("f", DataType::Float, |f| {
                f.default_value = Some(DefaultValue::Float(3.5))
            }),
            field("d", DataType::Double, |_| {}),
            field("s", DataType::VarChar, |f| f.max_length = Some(5)),
            field("j", DataType::Json, |f| f.nullable = true),
        ],
        "",
        true,
    )
}

fn full_row(id: i64) -> covec::Row {
    vec![
        ("id".into(), Value::Int(id)),
        ("v".into(), Value::FloatVector(vec![id as f32, 1.0, -2.5])),
        ("b".into(), Value::Bool(id % 2 == 0)),
        ("i8".into(), Value::Int(-128)),
        ("i16".into(), Value::Int(32767)),
        ("i32".into(), Value::Int(-7)),
        ("f".into(), Value::Float(0.25)),
        ("d".into(), Value::Float(1e300)),
        ("s".into(), Value::Str("héllo".into())),
        ("j".into(), Value::Json(json!({"a": [1, 2], "n": null}))),
        ("color".into(), Value::Str("red".into())),
    ]
}

#[test]
fn every_field_type_round_trips_and_survives_reopen() {
    let t = TempDb::new("types");
    {
        let db = t.open();
        db.create_collection("c", all_types_schema(), vec![])
            .unwrap();
        let ids = db
            .insert(
                "c",
                vec![
                    full_row(1),
                    vec![
                        ("id".into(), Value::Int(2)),
                        ("v".into(), Value::Json(json!([0.5, 0.5, 0.5]))),
                        ("b".into(), Value::Bool(true)),
                        ("i8".into(), Value::Int(127)),
                        ("i16".into(), Value::Int(-32768)),
                        ("d".into(), Value::Int(2)),
                        ("s".into(), Value::Str("".into())),
                        ("j".into(), Value::Null),
                    ],
                ],
            )
            .unwrap();
        assert_eq!(ids, vec![Pk::Int(1), Pk::Int(2)]);
    }
    let db = t.open();
    let rows = db
        .get("c", &[Pk::Int(2), Pk::Int(1), Pk::Int(9)], &all())
        .unwrap();
    assert_eq!(rows.len(), 2);
    let mut expected1 = full_row(1);
    expected1[9].1 = Value::Json(json!({"a": [1, 2], "n": null}));
    expected1[10].1 = Value::Json(json!("red"));
    assert_eq!(rows[1], expected1);
    let r2: Vec<_> = rows[0]
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(
        r2,
        vec![
            ("id", Value::Int(2)),
            ("v", Value::FloatVector(vec![0.5, 0.5, 0.5])),
            ("b", Value::Bool(true)),
            ("i8", Value::Int(127)),
            ("i16", Value::Int(-32768)),
            ("i32", Value::Null),
            ("f", Value::Float(3.5)),
            ("d", Value::Float(2.0)),
            ("s", Value::Str(String::new())),
            ("j", Value::Null),
        ]
    );
    let only = OutputFields {
        names: vec!["s".into(), "color".into()],
        all: false,
    };
    assert_eq!(
        db.get("c", &[Pk::Int(1)], &only).unwrap()[0],
        vec![
            ("id".to_string(), Value::Int(1)),
            ("s".to_string(), Value::Str("héllo".into())),
            ("color".to_string(), Value::Json(json!("red"))),
        ]
    );
    assert_eq!(
        Db::verify(t.path()).unwrap(),
        db.status().unwrap().generation
    );
}

#[test]
fn bad_rows_get_milvus_errors() {
    let t = TempDb::new("badrows");
    let db = t.open();
    let mut schema = all_types_schema();
    schema.enable_dynamic_field = false;
    db.create_collection("c", schema, vec![]).unwrap();
    let with = |k: &str, v: Value| {
        let mut r = full_row(1);
        r.retain(|(n, _)| n != "color" && n != k);
        r.push((k.into(), v));
        r
    };
    let msg = |r| db.insert("c", vec![r]).unwrap_err().to_string();
    assert_eq!(
        msg(with("i8", Value::Int(300))),
        "field 'i8' value 300 does not match dtype DataType.INT8"
    );
    assert_eq!(
        msg(with("v", Value::FloatVector(vec![1.0]))),
        "vector field 'v' expected dim 3, got 1"
    );
    assert_eq!(
        msg(with("s", Value::Str("toolong".into()))),
        "VARCHAR field 's' value length 7 exceeds max_length=5"
    );
    assert_eq!(
        msg(with("zzz", Value::Int(1))),
        "Attempt to insert an unexpected field `zzz` to collection without enabling dynamic field"
    );
    let mut missing = full_row(1);
    missing.retain(|(n, _)| n != "color" && n != "d");
    assert!(msg(missing).starts_with("Insert missed an field `d`"));
    assert!(msg(with("s", Value::Int(3))).contains("s field should be a varchar"));
    assert_eq!(
        db.count("c", "").unwrap(),
        0,
        "failed inserts must not commit"
    );
    assert!(matches!(
        db.insert("nope", vec![full_row(1)]),
        Err(covec::Error::CollectionNotFound { .. })
    ));
}

#[test]
fn duplicate_pk_last_write_wins() {
    let t = TempDb::new("dup");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    let ids = db
        .insert(
            "c",
            vec![
                simple_row(7, [1.0, 0.0], "a"),
                simple_row(7, [2.0, 0.0], "b"),
            ],
        )
        .unwrap();
    assert_eq!(ids, vec![Pk::Int(7), Pk::Int(7)]);
    assert_eq!(db.count("c", "").unwrap(), 1);
    db.insert("c", vec![simple_row(7, [3.0, 0.0], "c")])
        .unwrap();
    assert_eq!(db.count("c", "").unwrap(), 1);
    let rows = db.query("c", "", &all(), None, 0).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], ("tag".into(), Value::Str("c".into())));
}

#[test]
fn upsert_replaces_and_partial_merges() {
    let t = TempDb::new("upsert");
    let db = t.open();
    let mut schema = simple_schema(2);
    schema
        .fields
        .push(field("n", DataType::Int64, |f| f.nullable = true));
    schema.enable_dynamic_field = true;
    db.create_collection("c", schema, vec![]).unwrap();
    let mut r = simple_row(1, [1.0, 1.0], "a");
    r.push(("n".into(), Value::Int(5)));
    r.push(("extra".into(), Value::Int(9)));
    db.insert("c", vec![r]).unwrap();
    db.upsert(
        "c",
        vec![vec![
            ("id".into(), Value::Int(1)),
            ("tag".into(), Value::Str("b".into())),
        ]],
        true,
    )
    .unwrap();
    let got = &db.get("c", &[Pk::Int(1)], &all()).unwrap()[0];
    assert_eq!(got[1].1, Value::FloatVector(vec![1.0, 1.0]));
    assert_eq!(got[2].1, Value::Str("b".into()));
    assert_eq!(got[3].1, Value::Int(5));
    assert_eq!(got[4], ("extra".into(), Value::Json(json!(9))));
    db.upsert("c", vec![simple_row(1, [0.0, 2.0], "c")], false)
        .unwrap();
    let got = &db.get("c", &[Pk::Int(1)], &all()).unwrap()[0];
    assert_eq!(
        got.len(),
        4,
        "a full upsert replaces the row, dynamic keys included: {got:?}"
    );
    assert_eq!(got[3].1, Value::Null);
    assert_eq!(db.count("c", "").unwrap(), 1);
}

#[test]
fn delete_and_query_paging_in_pk_order() {
    let t = TempDb::new("query");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    for batch in [[5, 3, 9], [1, 7, 2]] {
        let rows = batch
            .iter()
            .map(|&i| simple_row(i, [i as f32, 0.0], "x"))
            .collect();
        db.insert("c", rows).unwrap();
    }
    assert_eq!(
        db.delete_ids("c", &[Pk::Int(3), Pk::Int(4), Pk::Int(3)])
            .unwrap(),
        1
    );
    let ids = |rows: Vec<covec::Row>| rows.into_iter().map(|r| r[0].1.clone()).collect::<Vec<_>>();
    let none = OutputFields::default();
    assert_eq!(
        ids(db.query("c", "", &none, None, 0).unwrap()),
        [1, 2, 5, 7, 9].map(Value::Int).to_vec()
    );
    assert_eq!(
        ids(db.query("c", "", &none, Some(2), 1).unwrap()),
        [2, 5].map(Value::Int).to_vec()
    );
    assert_eq!(
        ids(db.query("c", "id > 1 and id != 7", &none, None, 1).unwrap()),
        [5, 9].map(Value::Int).to_vec()
    );
    assert_eq!(db.delete_filter("c", "id >= 7").unwrap(), 2);
    assert_eq!(db.count("c", "").unwrap(), 3);
    assert!(db.query("c", "id = 1", &none, None, 0).is_err());
}

#[test]
fn many_parts_and_many_deletes_merge_without_losing_rows() {
    let t = TempDb::new("merge");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    for i in 0..12 {
        db.insert("c", vec![simple_row(i, [i as f32, 1.0], "m")])
            .unwrap();
    }
    let image = covec::internals::store::CommittedImage::open(t.path()).unwrap();
    let map = image.map().unwrap();
    let snap = covec::internals::engine::Snapshot::open(&map).unwrap();
    let parts = snap
        .catalog()
        .collection("default", "c")
        .unwrap()
        .parts
        .len();
    assert!(parts <= 8, "{parts} parts");
    let gone: Vec<Pk> = (0..6).map(Pk::Int).collect();
    assert_eq!(db.delete_ids("c", &gone).unwrap(), 6);
    let rows = db.query("c", "", &all(), None, 0).unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0][1].1, Value::FloatVector(vec![6.0, 1.0]));
    assert_eq!(db.count("c", "").unwrap(), 6);
    assert!(Db::verify(t.path()).is_ok());
}

/// A commit's bytes depend only on the db's state and the write: two dbs given the same writes differ
/// only in their 4 KiB headers (db id, commit ids). Here one delete marks rows in three parts, whose
/// new deletion bitmaps are appended in part order.
#[test]
fn the_same_writes_append_the_same_bytes() {
    let write = |t: &TempDb| {
        let db = t.open();
        db.create_collection("c", simple_schema(2), vec![]).unwrap();
        for (start, n) in [(0, 100), (100, 10), (110, 5)] {
            let rows = (start..start + n)
                .map(|i| simple_row(i, [i as f32, 1.0], "d"))
                .collect();
            db.insert("c", rows).unwrap();
        }
        let gone: Vec<Pk> = (0..115).step_by(7).map(Pk::Int).collect();
        assert_eq!(db.delete_ids("c", &gone).unwrap(), 17);
        std::fs::read(t.path()).unwrap()
    };
    let (a, b) = (TempDb::new("same-a"), TempDb::new("same-b"));
    let (a, b) = (write(&a), write(&b));
    let header = covec::internals::format::HEADER_LEN as usize;
    assert_eq!(a.len(), b.len());
    assert!(
        a[header..] == b[header..],
        "the files differ after the header"
    );
}

#[test]
fn compaction_shrinks_the_file_and_keeps_data() {
    let t = TempDb::new("compact");
    let db = t.open();
    db.create_collection("c", simple_schema(256), vec![])
        .unwrap();
    let big = |i: i64| {
        vec![
            ("id".into(), Value::Int(i)),
            ("v".into(), Value::FloatVector(vec![i as f32; 256])),
            ("tag".into(), Value::Str("z".into())),
        ]
    };
    // 2000 rows x 1 KiB, rewritten several times: the old copies become garbage.
    for _ in 0..4 {
        db.insert("c", (0..2000).map(big).collect()).unwrap();
    }
    // A builder compacts after the commit that makes it due.
    drop(covec::internals::builder::BuildLock::wait(t.path()).unwrap());
    let len = std::fs::metadata(t.path()).unwrap().len();
    assert!(
        len < 5 << 20,
        "file is {len} bytes after rewrites; compaction should have run"
    );
    assert_eq!(db.count("c", "").unwrap(), 2000);
    let row = &db.get("c", &[Pk::Int(1999)], &all()).unwrap()[0];
    assert_eq!(row[1].1, Value::FloatVector(vec![1999.0; 256]));
    assert!(Db::verify(t.path()).is_ok());
}

#[test]
fn two_handles_share_state_and_see_each_others_commits() {
    let t = TempDb::new("share");
    let a = t.open();
    let b = t.open();
    a.create_collection("c", simple_schema(2), vec![]).unwrap();
    assert!(b.has_collection("c").unwrap());
    let g = b.status().unwrap().generation;
    a.insert("c", vec![simple_row(1, [1.0, 0.0], "a")]).unwrap();
    assert_eq!(b.status().unwrap().generation, g + 1);
    assert_eq!(b.count("c", "").unwrap(), 1);
    a.rename_collection("c", "d").unwrap();
    assert_eq!(
        b.list_collections("default").unwrap(),
        vec!["d".to_string()]
    );
    b.drop_collection("d").unwrap();
    b.drop_collection("d").unwrap();
    assert!(a.list_collections("default").unwrap().is_empty());
}

#[test]
fn auto_ids_count_up_and_skip_explicit_ones_and_varchar_keys_sort() {
    let t = TempDb::new("autoid");
    let db = t.open();
    let mut schema = simple_schema(2);
    schema.fields[0].auto_id = true;
    db.create_collection("a", schema, vec![]).unwrap();
    let row = |id: Option<i64>| {
        let mut r = simple_row(0, [1.0, 0.0], "x");
        match id {
            Some(i) => r[0].1 = Value::Int(i),
            None => {
                r.remove(0);
            }
        }
        r
    };
    let ids = db.insert("a", vec![row(None), row(None)]).unwrap();
    assert_eq!(ids, vec![Pk::Int(1), Pk::Int(2)]);
    db.insert("a", vec![row(Some(10))]).unwrap();
    assert_eq!(db.insert("a", vec![row(None)]).unwrap(), vec![Pk::Int(11)]);

    let mut schema = simple_schema(2);
    schema.fields[0] = field("id", DataType::VarChar, |f| f.is_primary = true);
    db.create_collection("s", schema, vec![]).unwrap();
    let srow = |k: &str| {
        let mut r = simple_row(0, [1.0, 0.0], "x");
        r[0].1 = Value::Str(k.into());
        r
    };
    db.insert("s", vec![srow("pear"), srow("apple")]).unwrap();
    db.insert("s", vec![srow("fig")]).unwrap();
    let keys: Vec<Value> = db
        .query("s", "", &OutputFields::default(), None, 0)
        .unwrap()
        .into_iter()
        .map(|r| r[0].1.clone())
        .collect();
    assert_eq!(
        keys,
        ["apple", "fig", "pear"]
            .map(|k| Value::Str(k.into()))
            .to_vec()
    );
    assert_eq!(
        db.get("s", &[Pk::Str("fig".into())], &all()).unwrap().len(),
        1
    );
}
