//! Databases, aliases, partitions, partition keys, properties, schema evolution, truncate and compaction,
//! through real db files: every change is a commit that a fresh `Db` of the same file sees.

mod storage_util;

use covec::internals::format::Catalog;
use covec::{
    CollectionSchema, DataType, Db, DefaultValue, Error, Metric, NewCollection, OutputFields, Pk,
    ScalarIndexSpec, Scope, SearchRequest, Value,
};
use storage_util::*;

fn ids(rows: &[covec::Row]) -> Vec<i64> {
    rows.iter()
        .map(|r| match &r[0].1 {
            Value::Int(i) => *i,
            other => panic!("pk {other:?}"),
        })
        .collect()
}

fn query_ids<'a>(db: &Db, target: impl Into<Scope<'a>>, filter: &str) -> Vec<i64> {
    ids(&db.query(target, filter, &all(), None, 0).unwrap())
}

fn search_ids<'a>(db: &Db, target: impl Into<Scope<'a>>, q: [f32; 2], limit: usize) -> Vec<i64> {
    let request = SearchRequest {
        anns_field: None,
        vectors: q.to_vec().into(),
        nq: 1,
        limit,
        offset: 0,
        filter: String::new(),
        output: OutputFields::default(),
        metric: None,
        params: Vec::new(),
        ..SearchRequest::default()
    };
    db.search(target, &request).unwrap()[0]
        .iter()
        .map(|h| match h.id {
            Pk::Int(i) => i,
            _ => panic!("pk"),
        })
        .collect()
}

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn code(err: Error) -> (i32, String) {
    (err.code(), err.to_string())
}

#[test]
fn databases_are_namespaces_in_one_file() {
    let t = TempDb::new("dbs");
    let db = t.open();
    db.create_database("tenant", &props(&[("k", "v")])).unwrap();
    assert_eq!(db.list_databases().unwrap(), ["default", "tenant"]);
    for target in [Scope::new("default", "c"), Scope::new("tenant", "c")] {
        db.create_collection(target, simple_schema(2), vec![])
            .unwrap();
    }
    db.insert(
        Scope::new("tenant", "c"),
        vec![simple_row(1, [1.0, 0.0], "t")],
    )
    .unwrap();
    db.insert("c", vec![simple_row(2, [0.0, 1.0], "d")])
        .unwrap();
    // A second handle of the file (what another process sees at its next call).
    let other = t.open();
    assert_eq!(query_ids(&other, Scope::new("tenant", "c"), ""), [1]);
    assert_eq!(query_ids(&other, "c", ""), [2]);
    assert_eq!(other.list_collections("tenant").unwrap(), ["c"]);
    let info = other.describe_database("tenant").unwrap();
    assert_eq!((info.id, info.properties), (2, props(&[("k", "v")])));

    let refused = db.drop_database("tenant").unwrap_err();
    assert_eq!(code(refused), (6, "database 'tenant' is not empty".into()));
    assert!(db.drop_database("default").is_err());
    let missing = db.list_collections("nodb").unwrap_err();
    assert_eq!(code(missing), (6, "database 'nodb' does not exist".into()));
    assert_eq!(db.create_database("1x", &[]).unwrap_err().code(), 802);
    assert!(db.create_database("tenant", &[]).is_err());

    db.alter_database_properties(
        "tenant",
        &props(&[("a", "1"), ("k", "w")]),
        &names(&["missing"]),
    )
    .unwrap();
    db.alter_database_properties("tenant", &[], &names(&["a"]))
        .unwrap();
    assert_eq!(
        db.describe_database("tenant").unwrap().properties,
        props(&[("k", "w")])
    );
    db.drop_collection(Scope::new("tenant", "c")).unwrap();
    db.drop_database("tenant").unwrap();
    assert_eq!(other.list_databases().unwrap(), ["default"]);
    assert_eq!(query_ids(&other, "c", ""), [2]);
}

#[test]
fn aliases_stand_for_their_collection() {
    let t = TempDb::new("aliases");
    let db = t.open();
    db.create_collection("a", simple_schema(2), vec![]).unwrap();
    db.create_collection("b", simple_schema(2), vec![]).unwrap();
    db.insert("a", vec![simple_row(1, [1.0, 0.0], "a")])
        .unwrap();
    db.insert("b", vec![simple_row(2, [0.0, 1.0], "b")])
        .unwrap();
    db.create_alias("a", "cur").unwrap();
    db.create_alias("a", "cur").unwrap(); // the same alias again changes nothing
    assert_eq!(db.describe_alias("default", "cur").unwrap(), "a");
    assert_eq!(query_ids(&db, "cur", ""), [1]);
    // Writes and descriptions go through it too.
    db.insert("cur", vec![simple_row(3, [1.0, 1.0], "a")])
        .unwrap();
    let info = db.describe_collection("cur").unwrap();
    assert_eq!(
        (info.name.as_str(), info.aliases.clone()),
        ("a", names(&["cur"]))
    );
    db.alter_alias("b", "cur").unwrap();
    assert_eq!(query_ids(&db, "cur", ""), [2]);
    assert_eq!(db.list_aliases("default", Some("b")).unwrap(), ["cur"]);
    assert!(db.list_aliases("default", Some("a")).unwrap().is_empty());

    assert!(
        db.create_alias("a", "cur").is_err(),
        "alias of another collection"
    );
    assert!(
        db.create_alias("a", "b").is_err(),
        "alias named as a collection"
    );
    assert!(db
        .create_collection("cur", simple_schema(2), vec![])
        .is_err());
    let refused = db.drop_collection("b").unwrap_err().to_string();
    assert!(
        refused.contains("has associated aliases [cur]"),
        "{refused}"
    );
    assert!(
        db.drop_collection("cur").is_err(),
        "dropping through an alias"
    );
    assert_eq!(db.alter_alias("a", "nope").unwrap_err().code(), 100);

    // A renamed collection keeps its aliases; it cannot take them to another database.
    db.rename_collection("b", "b2").unwrap();
    assert_eq!(db.describe_alias("default", "cur").unwrap(), "b2");
    db.create_database("other", &[]).unwrap();
    assert!(db
        .rename_collection("b2", Scope::new("other", "b3"))
        .is_err());
    db.drop_alias("default", "cur").unwrap();
    assert!(db.drop_alias("default", "cur").is_err());
    db.rename_collection("b2", Scope::new("other", "b3"))
        .unwrap();
    assert_eq!(query_ids(&db, Scope::new("other", "b3"), ""), [2]);
    assert!(!db.has_collection("b2").unwrap());
    db.drop_collection("b2").unwrap(); // missing: not an error
}

#[test]
fn partitions_hold_rows_and_confine_reads() {
    let t = TempDb::new("partitions");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![flat_index(Metric::L2)])
        .unwrap();
    db.create_partition("c", "p1").unwrap();
    db.create_partition("c", "p2").unwrap();
    assert_eq!(db.list_partitions("c").unwrap(), ["_default", "p1", "p2"]);
    let p1 = names(&["p1"]);
    let p2 = names(&["p2"]);
    let both = names(&["p1", "p2"]);
    let c = Scope::from("c");
    db.insert(
        c,
        (0..4)
            .map(|i| simple_row(i, [i as f32, 0.0], "d"))
            .collect(),
    )
    .unwrap();
    // Writes of equal size merge into one part of several partitions (a partition column).
    db.insert(
        c.partitions(&p1),
        (4..8)
            .map(|i| simple_row(i, [i as f32, 0.0], "p1"))
            .collect(),
    )
    .unwrap();
    db.insert(
        c.partitions(&p2),
        (8..16)
            .map(|i| simple_row(i, [i as f32, 0.0], "p2"))
            .collect(),
    )
    .unwrap();
    assert_eq!(query_ids(&db, c.partitions(&p1), ""), [4, 5, 6, 7]);
    assert_eq!(
        query_ids(&db, c.partitions(&both), "id % 2 == 0"),
        [4, 6, 8, 10, 12, 14]
    );
    assert_eq!(db.count(c.partitions(&p2), "").unwrap(), 8);
    assert_eq!(db.partition_row_count(c, "_default").unwrap(), 4);
    assert_eq!(search_ids(&db, c.partitions(&p1), [0.0, 0.0], 2), [4, 5]);
    assert_eq!(search_ids(&db, c, [0.0, 0.0], 2), [0, 1]);
    assert_eq!(
        db.get(c.partitions(&p1), &[Pk::Int(1), Pk::Int(5)], &all())
            .unwrap()
            .len(),
        1
    );

    // A key has one live row per collection: an upsert into another partition moves it.
    db.upsert(
        c.partitions(&p2),
        vec![simple_row(5, [5.0, 5.0], "moved")],
        false,
    )
    .unwrap();
    assert_eq!(query_ids(&db, c.partitions(&p1), ""), [4, 6, 7]);
    assert_eq!(db.count(c, "").unwrap(), 16);
    // A delete confined to a partition leaves the others' rows.
    assert_eq!(
        db.delete_ids(c.partitions(&p1), &[Pk::Int(5), Pk::Int(6)])
            .unwrap(),
        1
    );
    assert_eq!(db.delete_filter(c.partitions(&p2), "id < 10").unwrap(), 3);
    assert_eq!(query_ids(&db, c, "id < 10"), [0, 1, 2, 3, 4, 7]);

    // Dropping a partition drops its rows, in every process.
    db.drop_partition(c, "p2").unwrap();
    let other = t.open();
    assert_eq!(other.list_partitions(c).unwrap(), ["_default", "p1"]);
    assert_eq!(query_ids(&other, c, ""), [0, 1, 2, 3, 4, 7]);
    let missing = other.count(c.partitions(&p2), "").unwrap_err();
    assert_eq!(
        code(missing),
        (200, "partition not found[partition=p2]".into())
    );
    assert!(db
        .insert(c.partitions(&p2), vec![simple_row(99, [0.0, 0.0], "x")])
        .is_err());
    assert!(db.drop_partition(c, "_default").is_err());
    assert_eq!(db.create_partition(c, "9x").unwrap_err().code(), 1100);
    assert!(db.create_partition(c, "p1").is_err());
    // Compaction keeps every row where it was.
    db.compact(c).unwrap();
    assert_eq!(query_ids(&db, c.partitions(&p1), ""), [4, 7]);
    assert_eq!(query_ids(&db, c, ""), [0, 1, 2, 3, 4, 7]);
}

fn keyed_schema() -> CollectionSchema {
    let mut schema = simple_schema(2);
    schema.fields[2].is_partition_key = true;
    schema
}

#[test]
fn a_partition_key_routes_rows_and_prunes_filters() {
    let t = TempDb::new("key");
    let db = t.open();
    let new = NewCollection {
        num_partitions: Some(4),
        ..NewCollection::new(keyed_schema(), vec![])
    };
    db.create_collection_with("k", new).unwrap();
    let buckets = db.list_partitions("k").unwrap();
    assert_eq!(
        buckets,
        ["_default_0", "_default_1", "_default_2", "_default_3"]
    );
    let tag = |i: i64| format!("tenant{}", i % 5);
    db.insert(
        "k",
        (0..50)
            .map(|i| simple_row(i, [i as f32, 1.0], &tag(i)))
            .collect(),
    )
    .unwrap();
    // The buckets hold every row, the 10 rows of each key value together in one of them.
    let counts: Vec<u64> = buckets
        .iter()
        .map(|b| db.partition_row_count("k", b).unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 50);
    assert!(counts.iter().all(|c| c % 10 == 0), "{counts:?}");
    assert!(counts.iter().filter(|&&c| c > 0).count() >= 2, "{counts:?}");
    // A filter that pins the key reads its buckets only, with the answer of a full scan.
    assert_eq!(
        query_ids(&db, "k", "tag in [\"tenant1\", \"tenant3\"] and id < 20"),
        [1, 3, 6, 8, 11, 13, 16, 18]
    );
    assert_eq!(
        query_ids(&db, "k", "tag == \"tenant2\" or tag == \"tenant4\""),
        (0..50)
            .filter(|i| i % 5 == 2 || i % 5 == 4)
            .collect::<Vec<_>>()
    );
    let p = names(&["_default_0"]);
    let refused = db.count(Scope::from("k").partitions(&p), "").unwrap_err();
    assert!(
        refused.to_string().contains("partition key mode"),
        "{refused}"
    );
    assert!(db.create_partition("k", "manual").is_err());
    assert!(db.drop_partition("k", "_default_0").is_err());
    // Upserts keep one row per key whatever bucket the new value routes it to.
    db.upsert("k", vec![simple_row(0, [0.0, 0.0], "elsewhere")], false)
        .unwrap();
    assert_eq!(db.count("k", "").unwrap(), 50);
    assert_eq!(query_ids(&db, "k", "tag == \"elsewhere\""), [0]);
}

#[test]
fn partition_keys_are_checked_as_milvus_checks_them() {
    let t = TempDb::new("badkey");
    let db = t.open();
    let mut two = keyed_schema();
    two.fields
        .push(field("t2", DataType::Int64, |f| f.is_partition_key = true));
    let mut float = simple_schema(2);
    float
        .fields
        .push(field("f", DataType::Float, |f| f.is_partition_key = true));
    let mut primary = simple_schema(2);
    primary.fields[0].is_partition_key = true;
    let mut nullable = keyed_schema();
    nullable.fields[2].nullable = true;
    for schema in [two, float, primary, nullable] {
        let err = db.create_collection("bad", schema, vec![]).unwrap_err();
        assert_eq!(err.code(), 1100, "{err}");
    }
    let without_key = NewCollection {
        num_partitions: Some(4),
        ..NewCollection::new(simple_schema(2), vec![])
    };
    assert!(db.create_collection_with("bad", without_key).is_err());
    assert!(db.list_collections("default").unwrap().is_empty());
}

#[test]
fn an_added_field_reads_as_its_default_in_older_rows() {
    let t = TempDb::new("evolve");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    db.insert(
        "c",
        (0..3)
            .map(|i| simple_row(i, [i as f32, 0.0], "old"))
            .collect(),
    )
    .unwrap();
    let with_default = field("level", DataType::Int64, |f| {
        f.nullable = true;
        f.default_value = Some(DefaultValue::Int(7));
    });
    db.add_collection_field("c", with_default).unwrap();
    db.add_collection_field("c", field("note", DataType::VarChar, |f| f.nullable = true))
        .unwrap();
    let schema = db.describe_collection("c").unwrap().schema;
    let field_ids: Vec<i64> = schema.fields.iter().map(|f| f.id).collect();
    assert_eq!(
        (field_ids, schema.next_field_id),
        (vec![100, 101, 102, 103, 104], 105)
    );
    let mut row = simple_row(3, [3.0, 0.0], "new");
    row.push(("level".into(), Value::Int(1)));
    row.push(("note".into(), Value::Str("hi".into())));
    db.insert("c", vec![row]).unwrap();
    let value = |id: i64, name: &str| {
        let rows = db.get("c", &[Pk::Int(id)], &all()).unwrap();
        rows[0].iter().find(|(n, _)| n == name).unwrap().1.clone()
    };
    assert_eq!(
        (value(0, "level"), value(0, "note")),
        (Value::Int(7), Value::Null)
    );
    assert_eq!(
        (value(3, "level"), value(3, "note")),
        (Value::Int(1), Value::Str("hi".into()))
    );
    assert_eq!(query_ids(&db, "c", "level == 7"), [0, 1, 2]);
    assert_eq!(query_ids(&db, "c", "note is null"), [0, 1, 2]);
    // Compaction rewrites the old rows with their values in full.
    db.compact("c").unwrap();
    assert_eq!(value(1, "level"), Value::Int(7));
    assert_eq!(query_ids(&db, "c", "level == 7"), [0, 1, 2]);

    let not_nullable = field("x", DataType::Int64, |_| {});
    assert_eq!(
        db.add_collection_field("c", not_nullable)
            .unwrap_err()
            .code(),
        1100
    );
    let dup = field("tag", DataType::Int64, |f| f.nullable = true);
    assert!(db.add_collection_field("c", dup).is_err());
    let array = field("a", DataType::Array, |f| f.nullable = true);
    assert!(
        db.add_collection_field("c", array).is_err(),
        "no ARRAY column yet"
    );
}

#[test]
fn fields_alter_as_milvus_allows() {
    let t = TempDb::new("alter");
    let db = t.open();
    let mut schema = simple_schema(2);
    schema.fields[2].max_length = Some(4);
    db.create_collection("c", schema, vec![]).unwrap();
    assert!(db
        .insert("c", vec![simple_row(1, [0.0, 0.0], "toolong")])
        .is_err());
    db.alter_collection_field(
        "c",
        "tag",
        &props(&[("max_length", "16"), ("mmap.enabled", "true")]),
    )
    .unwrap();
    db.insert("c", vec![simple_row(1, [0.0, 0.0], "toolong")])
        .unwrap();
    let tag = db.describe_collection("c").unwrap().schema.fields[2].clone();
    assert_eq!(tag.max_length, Some(16));
    assert_eq!(tag.type_param("mmap.enabled"), Some("true"));
    let refused = db
        .alter_collection_field("c", "tag", &props(&[("nullable", "true")]))
        .unwrap_err();
    assert_eq!(
        code(refused),
        (
            1100,
            "nullable does not allow update in collection field param".into()
        )
    );
    assert!(db
        .alter_collection_field("c", "v", &props(&[("max_length", "8")]))
        .is_err());
}

#[test]
fn properties_truncate_and_compaction() {
    let t = TempDb::new("admin");
    let db = t.open();
    let new = NewCollection {
        properties: props(&[("mmap.enabled", "false")]),
        ..NewCollection::new(simple_schema(2), vec![])
    };
    db.create_collection_with("c", new).unwrap();
    db.alter_collection_properties("c", &props(&[("custom", "1")]), &[])
        .unwrap();
    db.alter_collection_properties("c", &props(&[("custom", "2")]), &names(&["mmap.enabled"]))
        .unwrap();
    assert_eq!(
        db.describe_collection("c").unwrap().properties,
        props(&[("custom", "2")])
    );
    let ttl = db
        .alter_collection_properties("c", &props(&[("collection.ttl.seconds", "60")]), &[])
        .unwrap_err();
    assert!(ttl.to_string().contains("collection.ttl.seconds"), "{ttl}");

    for batch in 0..4 {
        let rows = (batch * 500..batch * 500 + 500)
            .map(|i| simple_row(i, [i as f32, 1.0], "t"))
            .collect();
        db.insert("c", rows).unwrap();
    }
    let doomed: Vec<Pk> = (0..2000).filter(|i| i % 3 != 0).map(Pk::Int).collect();
    db.delete_ids("c", &doomed).unwrap();
    let before = query_ids(&db, "c", "");
    let size = std::fs::metadata(t.path()).unwrap().len();
    let job = db.compact("c").unwrap();
    assert!(db.compaction_done(job).unwrap() && !db.compaction_done(job + 1).unwrap());
    assert_eq!(query_ids(&t.open(), "c", ""), before);
    let compacted = std::fs::metadata(t.path()).unwrap().len();
    assert!(compacted * 2 < size, "{size} -> {compacted} bytes");
    assert!(Db::verify(t.path()).is_ok());
    // Nothing left to reclaim: a second compaction commits nothing.
    assert_eq!(db.compact("c").unwrap(), job);

    db.create_partition("c", "p").unwrap();
    db.create_alias("c", "al").unwrap();
    db.truncate_collection("al").unwrap();
    let info = db.describe_collection("c").unwrap();
    assert_eq!(info.row_count, 0);
    assert_eq!(
        (info.partitions, info.aliases),
        (names(&["_default", "p"]), names(&["al"]))
    );
    assert_eq!(info.properties, props(&[("custom", "2")]));
    db.insert("c", vec![simple_row(1, [0.0, 1.0], "new")])
        .unwrap();
    assert_eq!(query_ids(&db, "c", ""), [1]);
}

/// The db at `t` with its newest catalog edited and committed as a newer generation (checksums right, as
/// a hostile or buggy writer would leave it); the error opening it.
fn open_with_catalog(t: &TempDb, edit: impl FnOnce(&mut Catalog)) -> Error {
    use covec::internals::format;
    let mut bytes = std::fs::read(t.path()).unwrap();
    let (_, mut meta) = format::decode_header(&bytes, bytes.len() as u64, t.path()).unwrap();
    let mut catalog = covec::internals::engine::Snapshot::open(&bytes)
        .unwrap()
        .catalog()
        .clone();
    edit(&mut catalog);
    let encoded = format::encode_catalog(&catalog).unwrap();
    let offset = format::align_up(bytes.len() as u64).unwrap();
    bytes.resize(offset as usize, 0);
    bytes.extend_from_slice(&encoded);
    meta.generation += 1;
    meta.catalog_offset = offset;
    meta.catalog_len = encoded.len() as u64;
    meta.catalog_xxh3 = xxhash_rust::xxh3::xxh3_64(&encoded);
    meta.committed_len = bytes.len() as u64;
    let at = format::SLOT_OFFSETS[meta.slot_index()];
    bytes[at..at + format::SLOT_LEN].copy_from_slice(&format::encode_meta(&meta));
    let hostile = TempDb::new("hostile");
    std::fs::write(hostile.path(), bytes).unwrap();
    match Db::open(hostile.path(), &options()) {
        Ok(_) => panic!("a hostile catalog was accepted"),
        Err(e) => e,
    }
}

/// Catalogs whose names or references do not hold together are damaged, whatever their checksums say.
#[test]
fn inconsistent_catalogs_are_refused() {
    let t = TempDb::new("hostile-base");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    db.create_partition("c", "p").unwrap();
    db.insert("c", vec![simple_row(0, [0.0, 0.0], "a")])
        .unwrap();
    let p = names(&["p"]);
    db.insert(
        Scope::from("c").partitions(&p),
        vec![simple_row(1, [1.0, 0.0], "b")],
    )
    .unwrap();
    db.create_alias("c", "al").unwrap();
    drop(db);
    type Edit = Box<dyn FnOnce(&mut Catalog)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "alias of a missing collection",
            Box::new(|c| c.aliases[0].collection = 99),
        ),
        (
            "alias named as a collection",
            Box::new(|c| c.aliases[0].alias = "c".into()),
        ),
        (
            "collection in a missing database",
            Box::new(|c| c.collections[0].db = "x".into()),
        ),
        (
            "two collections of one name",
            Box::new(|c| c.collections.push(c.collections[0].clone())),
        ),
        (
            "duplicate field ids",
            Box::new(|c| c.collections[0].schema.fields[1].id = 100),
        ),
        (
            "partition ids at next_partition_id",
            Box::new(|c| c.collections[0].next_partition_id = 1),
        ),
        (
            "part partition ids descending",
            Box::new(|c| c.collections[0].parts[0].partitions.ids.reverse()),
        ),
        (
            "part without partitions",
            Box::new(|c| c.collections[0].parts[0].partitions.ids.clear()),
        ),
        (
            "several partitions, no column",
            Box::new(|c| c.collections[0].parts[0].partitions.rows = None),
        ),
        (
            "more columns than fields",
            Box::new(|c| {
                let extra = c.collections[0].parts[0].columns[0].clone();
                c.collections[0].parts[0].columns.push(extra)
            }),
        ),
        (
            "no primary-key column",
            Box::new(|c| c.collections[0].parts[0].columns.clear()),
        ),
        (
            "an index whose metric the field cannot take",
            Box::new(|c| {
                let mut spec = flat_index(Metric::Hamming);
                spec.index_name = "h".into();
                c.collections[0].indexes.push(spec)
            }),
        ),
        (
            "no default database",
            Box::new(|c| c.databases[0].name = "other".into()),
        ),
    ];
    for (what, edit) in edits {
        let err = open_with_catalog(&t, edit);
        assert!(matches!(err, Error::Corrupt { .. }), "{what}: {err}");
    }
}

fn scalar(field: &str, name: &str, index_type: &str) -> ScalarIndexSpec {
    ScalarIndexSpec {
        field: field.into(),
        index_name: name.into(),
        index_type: index_type.into(),
        params: Vec::new(),
    }
}

#[test]
fn scalar_indexes_are_kept_named_and_dropped_by_name() {
    let t = TempDb::new("scalar_indexes");
    let db = t.open();
    let new = NewCollection {
        scalar_indexes: vec![scalar("tag", "tag_inverted", "INVERTED")],
        ..NewCollection::new(simple_schema(2), vec![flat_index(Metric::L2)])
    };
    db.create_collection_with("c", new).unwrap();
    db.insert(
        "c",
        vec![
            simple_row(1, [0.0, 1.0], "a"),
            simple_row(2, [1.0, 0.0], "b"),
        ],
    )
    .unwrap();
    // A second index on a field, a taken name (both code 35, as Milvus), a type the field does not take.
    let second = db.create_scalar_index("c", scalar("tag", "other", "TRIE"));
    assert_eq!(code(second.unwrap_err()).0, 35);
    let taken = db.create_scalar_index("c", scalar("id", "tag_inverted", "STL_SORT"));
    assert_eq!(
        code(taken.unwrap_err()),
        (
            35,
            "index name 'tag_inverted' is taken by the index on field 'tag'".into()
        )
    );
    let misfit = db.create_scalar_index("c", scalar("id", "id", "TRIE"));
    assert_eq!(code(misfit.unwrap_err()).0, 6);
    db.create_scalar_index("c", scalar("id", "id", "STL_SORT"))
        .unwrap();

    // Kept by the commit (a fresh Db sees them); filters answer as they do without them.
    let again = t.open();
    let info = again.describe_collection("c").unwrap();
    assert_eq!(
        info.scalar_indexes,
        [
            scalar("tag", "tag_inverted", "INVERTED"),
            scalar("id", "id", "STL_SORT")
        ]
    );
    assert_eq!(query_ids(&again, "c", "tag == \"b\""), [2]);

    // Dropped by name, or by Milvus Lite's "<field>_idx"; the vector index is named after its field.
    again.drop_index("c", "tag_inverted").unwrap();
    again.drop_index("c", "id_idx").unwrap();
    again.drop_index("c", "v_idx").unwrap();
    assert_eq!(
        code(again.drop_index("c", "v").unwrap_err()),
        (700, "index 'v' does not exist".into())
    );
    let info = t.open().describe_collection("c").unwrap();
    assert!(info.scalar_indexes.is_empty() && info.indexes.is_empty());
    assert_eq!(search_ids(&t.open(), "c", [1.0, 0.0], 1), [2]);
}
