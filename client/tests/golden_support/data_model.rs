//! What a golden file of catalog revision 3 or later holds beyond the three collections every golden file
//! has (`golden_support`): a second database with properties, a collection there with partitions (one of
//! them dropped with its rows), a part mixing partitions, a collection property, aliases in both databases,
//! a field added after rows were written, and a partition-key collection. `write` puts them in, `check`
//! reads them back.
//!
//! Unlike `golden_support/mod.rs` this is compiled only against covec versions that have these calls
//! (catalog revision 3 on): golden.rs includes it, write-with-old-covec.sh does not.

use covec::{
    CollectionSchema, DataType, Db, DefaultValue, FieldSchema, NewCollection, OutputFields, Pk,
    Row, Scope, Value,
};

pub const TENANT: &str = "tenant";
pub const DOCS: &str = "docs";
pub const KEYED: &str = "keyed";
pub const KEY_BUCKETS: u32 = 4;

fn field(name: &str, dtype: DataType) -> FieldSchema {
    FieldSchema::new(name, dtype)
}

pub fn tenant_properties() -> Vec<(String, String)> {
    vec![
        ("owner".into(), "golden".into()),
        ("timezone".into(), "UTC".into()),
    ]
}

pub fn docs_properties() -> Vec<(String, String)> {
    vec![("custom.keep".into(), "yes".into())]
}

/// `docs` as created, before `level` was added.
pub fn docs_schema() -> CollectionSchema {
    let mut id = field("id", DataType::Int64);
    id.is_primary = true;
    let mut v = field("v", DataType::FloatVector);
    v.dim = Some(4);
    let mut tag = field("tag", DataType::VarChar);
    tag.max_length = Some(32);
    CollectionSchema::new(vec![id, v, tag], "partitioned", false)
}

/// The field added to `docs` after its first rows.
pub fn level_field() -> FieldSchema {
    let mut level = field("level", DataType::Int64);
    level.nullable = true;
    level.default_value = Some(DefaultValue::Int(3));
    level
}

pub fn keyed_schema() -> CollectionSchema {
    let mut id = field("id", DataType::Int64);
    id.is_primary = true;
    let mut v = field("v", DataType::FloatVector);
    v.dim = Some(2);
    let mut group = field("group", DataType::Int64);
    group.is_partition_key = true;
    CollectionSchema::new(vec![id, v, group], "", false)
}

/// The partition a `docs` row of this id was written to (ids 80..90 went to "p3", dropped later).
pub fn docs_partition(id: i64) -> &'static str {
    match id {
        0..30 => "_default",
        30..60 => "p1",
        60..80 => "p2",
        80..90 => "p3",
        _ => "p1",
    }
}

/// `docs` rows: ids 90.. were written after `level` was added and carry it.
pub fn docs_row(id: i64) -> Row {
    let x = id as f32;
    let mut row = vec![
        ("id".to_string(), Value::Int(id)),
        ("v".to_string(), Value::FloatVector(vec![x, 1.0, -x, 0.5])),
        (
            "tag".to_string(),
            Value::Str(format!("{}-{id}", docs_partition(id))),
        ),
    ];
    if id >= 90 {
        row.push(("level".to_string(), Value::Int(id % 3)));
    }
    row
}

pub fn docs_deleted(id: i64) -> bool {
    matches!(id, 5 | 35)
}

/// Live `docs` ids, in primary-key order.
pub fn docs_live() -> Vec<i64> {
    (0..95)
        .filter(|&id| !docs_deleted(id) && docs_partition(id) != "p3")
        .collect()
}

pub fn keyed_row(id: i64) -> Row {
    vec![
        ("id".to_string(), Value::Int(id)),
        ("v".to_string(), Value::FloatVector(vec![id as f32, 1.0])),
        ("group".to_string(), Value::Int(id % 6)),
    ]
}

/// Writes the data model's additions into the golden db `db` (which holds the three base collections).
pub fn write(db: &Db) -> covec::Result<()> {
    db.create_database(TENANT, &tenant_properties())?;
    let docs = Scope::new(TENANT, DOCS);
    let new = NewCollection {
        properties: docs_properties(),
        ..NewCollection::new(docs_schema(), Vec::new())
    };
    db.create_collection_with(docs, new)?;
    for p in ["p1", "p2", "p3"] {
        db.create_partition(docs, p)?;
    }
    // Equal batches merge: the part holding 0..60 mixes "_default" and "p1" (a partition column).
    for (range, partition) in [(0..30, ""), (30..60, "p1"), (60..80, "p2"), (80..90, "p3")] {
        let names: Vec<String> = std::iter::once(partition.to_string())
            .filter(|p| !p.is_empty())
            .collect();
        db.insert(docs.partitions(&names), range.map(docs_row).collect())?;
    }
    db.delete_ids(docs, &[Pk::Int(5), Pk::Int(35)])?;
    db.drop_partition(docs, "p3")?;
    db.add_collection_field(docs, level_field())?;
    let p1 = vec!["p1".to_string()];
    db.insert(docs.partitions(&p1), (90..95).map(docs_row).collect())?;
    db.create_alias(docs, "current")?;
    db.create_alias(crate::golden_support::EVERY_TYPE, "every")?;
    let keyed = NewCollection {
        num_partitions: Some(KEY_BUCKETS),
        ..NewCollection::new(keyed_schema(), Vec::new())
    };
    db.create_collection_with(KEYED, keyed)?;
    db.insert(KEYED, (0..60).map(keyed_row).collect())?;
    Ok(())
}

fn all() -> OutputFields {
    OutputFields {
        names: Vec::new(),
        all: true,
    }
}

fn pks(rows: &[Row]) -> Vec<i64> {
    rows.iter()
        .map(|r| match r[0].1 {
            Value::Int(i) => i,
            ref other => panic!("pk {other:?}"),
        })
        .collect()
}

/// The row of `docs` as reads return it: `level` is its default (3) for rows written before it was added.
fn docs_stored(id: i64) -> Row {
    let mut row = docs_row(id);
    if id < 90 {
        row.push(("level".to_string(), Value::Int(3)));
    }
    row
}

/// Checks everything `write` put in, read through `db`; `file` names the golden file in failures.
pub fn check(db: &Db, file: &str) {
    assert_eq!(db.list_databases().unwrap(), ["default", TENANT], "{file}");
    let tenant = db.describe_database(TENANT).unwrap();
    assert_eq!(tenant.properties, tenant_properties(), "{file}");
    assert_eq!(db.list_collections(TENANT).unwrap(), [DOCS], "{file}");

    let docs = Scope::new(TENANT, DOCS);
    let info = db
        .describe_collection(Scope::new(TENANT, "current"))
        .unwrap();
    let mut schema = docs_schema();
    let mut level = level_field();
    level.id = schema.next_field_id;
    schema.fields.push(level);
    schema.next_field_id += 1;
    assert_eq!(info.schema, schema, "{file}");
    assert_eq!(info.name, DOCS, "{file}");
    assert_eq!(info.properties, docs_properties(), "{file}");
    assert_eq!(info.partitions, ["_default", "p1", "p2"], "{file}");
    assert_eq!(info.aliases, ["current"], "{file}");
    assert_eq!(
        db.describe_alias("default", "every").unwrap(),
        crate::golden_support::EVERY_TYPE
    );

    let stored = db.query(docs, "", &all(), None, 0).unwrap();
    let want: Vec<Row> = docs_live().into_iter().map(docs_stored).collect();
    assert_eq!(stored, want, "{file}: docs rows");
    for partition in ["_default", "p1", "p2"] {
        let names = vec![partition.to_string()];
        let got = pks(&db
            .query(docs.partitions(&names), "", &all(), None, 0)
            .unwrap());
        let want: Vec<i64> = docs_live()
            .into_iter()
            .filter(|&id| docs_partition(id) == partition)
            .collect();
        assert_eq!(got, want, "{file}: partition {partition}");
        assert_eq!(
            db.partition_row_count(docs, partition).unwrap(),
            want.len() as u64
        );
    }
    assert_eq!(
        db.count(docs, "level == 3").unwrap(),
        docs_live().iter().filter(|&&id| id < 90).count() as u64,
        "{file}: the added field's default"
    );

    let keyed = db.describe_collection(KEYED).unwrap();
    assert_eq!(keyed.schema, keyed_schema(), "{file}");
    assert_eq!(keyed.partitions.len(), KEY_BUCKETS as usize, "{file}");
    let counts: Vec<u64> = keyed
        .partitions
        .iter()
        .map(|p| db.partition_row_count(KEYED, p).unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 60, "{file}");
    assert!(counts.iter().all(|c| c % 10 == 0), "{file}: {counts:?}");
    let group_two = pks(&db.query(KEYED, "group == 2", &all(), None, 0).unwrap());
    assert_eq!(
        group_two,
        (0..60).filter(|i| i % 6 == 2).collect::<Vec<_>>(),
        "{file}"
    );
    assert_eq!(
        db.query(KEYED, "id == 7", &all(), None, 0).unwrap(),
        [keyed_row(7)],
        "{file}"
    );
}
