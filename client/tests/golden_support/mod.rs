//! The contents of the golden db files (client/tests/data/golden/): three collections whose every value follows
//! from a seed, written by `write` and checked by client/tests/golden.rs against what this module says they hold.
//!
//! This file is compiled against old covec versions too (client/tests/data/golden/README.md says how): it may use
//! only the API every covec since the first one has (`Db`, schema and value types); what differs between
//! versions comes from the caller (`Version`): the index kinds it stores and how its schemas are built (the
//! struct literals of the first versions do not compile against catalog revision 3's types, whose
//! constructors the first versions lack).
#![allow(dead_code)]

use std::path::Path;

use covec::{
    CollectionSchema, DataType, Db, DefaultValue, FieldSchema, IndexKind, IndexSpec, Metric,
    OpenOptions, Pk, Row, Value,
};

/// What the covec version at hand offers: the index kinds it can store, by the Milvus index name the
/// collections ask for, and its schema constructors.
pub struct Version {
    pub hnsw: IndexKind,
    pub hnsw_sq8: IndexKind,
    /// A field of this name and type with every other property at its default.
    pub field: fn(&str, DataType) -> FieldSchema,
    /// A schema of these fields, description and `enable_dynamic_field`.
    pub schema: fn(Vec<FieldSchema>, &str, bool) -> CollectionSchema,
}

/// A small deterministic generator (xorshift64*), so expected values need no stored fixture.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1), exactly representable as f32.
    pub fn unit(&mut self) -> f32 {
        ((self.next() >> 40) as f32) / (1u64 << 23) as f32 - 1.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.unit()).collect()
    }
}

fn index(field: &str, index_type: &str, kind: IndexKind, metric: Metric) -> IndexSpec {
    IndexSpec {
        field: field.into(),
        index_name: format!("{field}_idx"),
        index_type: index_type.into(),
        kind,
        metric,
        params: vec![
            ("M".into(), "8".into()),
            ("efConstruction".into(), "64".into()),
        ],
    }
}

// --- "every_type": every scalar type, nullable fields with and without defaults, dynamic keys, HNSW (L2) ---

pub const EVERY_TYPE: &str = "every_type";
pub const EVERY_DIM: usize = 8;

pub fn every_type_schema(version: &Version) -> CollectionSchema {
    let field = version.field;
    let mut id = field("id", DataType::Int64);
    id.is_primary = true;
    id.description = "primary key".into();
    let mut s = field("s", DataType::VarChar);
    s.max_length = Some(64);
    let mut v = field("v", DataType::FloatVector);
    v.dim = Some(EVERY_DIM as u32);
    let nullable = |name: &str, dtype: DataType, default: Option<DefaultValue>| {
        let mut f = field(name, dtype);
        f.nullable = true;
        f.default_value = default;
        f
    };
    (version.schema)(
        vec![
            id,
            field("b", DataType::Bool),
            field("i8", DataType::Int8),
            field("i16", DataType::Int16),
            field("i32", DataType::Int32),
            field("i64", DataType::Int64),
            field("f", DataType::Float),
            field("d", DataType::Double),
            s,
            field("j", DataType::Json),
            v,
            nullable("n_b", DataType::Bool, Some(DefaultValue::Bool(true))),
            nullable("n_i32", DataType::Int32, Some(DefaultValue::Int(7))),
            nullable("n_d", DataType::Double, Some(DefaultValue::Float(0.5))),
            nullable(
                "n_s",
                DataType::VarChar,
                Some(DefaultValue::Str("dflt".into())),
            ),
            nullable(
                "n_j",
                DataType::Json,
                Some(DefaultValue::JsonText(r#"{"k":1}"#.into())),
            ),
            nullable("opt_i64", DataType::Int64, None),
            nullable("opt_s", DataType::VarChar, None),
        ],
        "every stored type",
        true,
    )
}

/// The row with primary key `id` as inserted (`round` > 0: as rewritten by the upsert of that round).
/// Nullable fields are null on every fifth row (their defaults then apply) and left out on every seventh.
pub fn every_type_input(id: i64, round: u64) -> Row {
    let mut r = Rng::new(id as u64 * 1000 + round);
    let word = |r: &mut Rng| -> String {
        (0..1 + r.below(12))
            .map(|_| (b'a' + r.below(26) as u8) as char)
            .collect()
    };
    let mut row: Row = vec![
        ("id".into(), Value::Int(id)),
        ("b".into(), Value::Bool(r.below(2) == 1)),
        ("i8".into(), Value::Int(r.below(256) as i64 - 128)),
        ("i16".into(), Value::Int(r.below(65536) as i64 - 32768)),
        ("i32".into(), Value::Int(r.next() as u32 as i32 as i64)),
        ("i64".into(), Value::Int(r.next() as i64)),
        ("f".into(), Value::Float(f64::from(r.unit()))),
        ("d".into(), Value::Float(f64::from(r.unit()) * 1e6)),
        ("s".into(), Value::Str(format!("{}-é-{id}", word(&mut r)))),
        (
            "j".into(),
            Value::Json(
                serde_json::json!({"n": r.below(100), "tags": [word(&mut r), "x"], "nested": {"ok": id % 2 == 0}}),
            ),
        ),
        ("v".into(), Value::FloatVector(r.vector(EVERY_DIM))),
    ];
    let null = id % 5 == 0;
    if id % 7 != 0 {
        let mut put = |name: &str, v: Value| {
            row.push((name.into(), if null { Value::Null } else { v }));
        };
        put("n_b", Value::Bool(r.below(2) == 1));
        put("n_i32", Value::Int(r.below(1000) as i64));
        put("n_d", Value::Float(f64::from(r.unit())));
        put("n_s", Value::Str(word(&mut r)));
        put("n_j", Value::Json(serde_json::json!([id, "a"])));
        put("opt_i64", Value::Int(-id));
        put("opt_s", Value::Str(word(&mut r)));
    }
    row.push(("dyn_num".into(), Value::Int(id * 3)));
    if id % 2 == 0 {
        row.push(("dyn_text".into(), Value::Str(format!("even {id}"))));
    }
    row
}

/// What a read returns for a stored input row: defaults fill nulls and missing nullable fields; fields that
/// stay null read as null; dynamic keys come back as JSON values.
pub fn every_type_stored(v: &Version, input: &Row) -> Row {
    let schema = every_type_schema(v);
    let mut out = Row::new();
    for f in &schema.fields {
        let given = input
            .iter()
            .find(|(n, _)| *n == f.name)
            .map(|(_, v)| v.clone());
        let v = match (given, &f.default_value) {
            (Some(Value::Null) | None, Some(d)) => match d {
                DefaultValue::Bool(b) => Value::Bool(*b),
                DefaultValue::Int(i) => Value::Int(*i),
                DefaultValue::Float(x) => Value::Float(*x),
                DefaultValue::Str(s) => Value::Str(s.clone()),
                DefaultValue::JsonText(t) => Value::Json(serde_json::from_str(t).unwrap()),
            },
            (None, None) => Value::Null,
            (Some(Value::Float(x)), _) if f.dtype == DataType::Float => {
                Value::Float(f64::from(x as f32))
            }
            (Some(v), _) => v,
        };
        out.push((f.name.clone(), v));
    }
    for (name, v) in input {
        if schema.fields.iter().all(|f| f.name != *name) {
            let json = match v {
                Value::Int(i) => serde_json::json!(i),
                Value::Str(s) => serde_json::json!(s),
                other => panic!("golden dynamic value {other:?} has no JSON form here"),
            };
            out.push((name.clone(), Value::Json(json)));
        }
    }
    out
}

// --- "names": a VARCHAR primary key, COSINE, an exact (FLAT) index, no dynamic fields ---

pub const NAMES: &str = "names";
pub const NAMES_DIM: usize = 4;

pub fn names_schema(v: &Version) -> CollectionSchema {
    let mut key = (v.field)("key", DataType::VarChar);
    key.is_primary = true;
    key.max_length = Some(32);
    let mut emb = (v.field)("emb", DataType::FloatVector);
    emb.dim = Some(NAMES_DIM as u32);
    (v.schema)(vec![key, emb], "", false)
}

pub fn names_input(n: u64) -> Row {
    let mut r = Rng::new(7_000_000 + n);
    vec![
        ("key".into(), Value::Str(format!("name-{n:03}"))),
        ("emb".into(), Value::FloatVector(r.vector(NAMES_DIM))),
    ]
}

// --- "sq8": auto_id, inner product, HNSW_SQ ---

pub const SQ8: &str = "sq8";
pub const SQ8_DIM: usize = 16;
pub const SQ8_ROWS: i64 = 1100;

pub fn sq8_schema(v: &Version) -> CollectionSchema {
    let mut pk = (v.field)("pk", DataType::Int64);
    pk.is_primary = true;
    pk.auto_id = true;
    let mut e = (v.field)("e", DataType::FloatVector);
    e.dim = Some(SQ8_DIM as u32);
    (v.schema)(vec![pk, e], "", false)
}

pub fn sq8_vector(n: i64) -> Vec<f32> {
    Rng::new(9_000_000 + n as u64).vector(SQ8_DIM)
}

// --- the history every golden file went through ---

/// Ids of every_type rows inserted, in four commits (the last one after the deletions).
pub fn every_type_batches() -> [std::ops::Range<i64>; 4] {
    [1..601, 601..1001, 1001..1301, 1301..1326]
}
pub fn every_type_deleted(id: i64) -> bool {
    id <= 200 && id % 7 == 3
}
/// Rewritten by an upsert (round 1) after the deletions.
pub fn every_type_upserted(id: i64) -> bool {
    (500..510).contains(&id)
}
pub const NAMES_ROWS: u64 = 60;
pub fn names_deleted(n: u64) -> bool {
    n % 12 == 5
}

pub fn indexes(v: &Version) -> [(&'static str, IndexSpec); 3] {
    [
        (EVERY_TYPE, index("v", "HNSW", v.hnsw, Metric::L2)),
        (NAMES, index("emb", "FLAT", IndexKind::Flat, Metric::Cosine)),
        (SQ8, index("e", "HNSW_SQ", v.hnsw_sq8, Metric::Ip)),
    ]
}

/// Writes the golden db at `path` (which must not exist) through the public API, as a user would.
pub fn write(path: &Path, v: &Version) -> covec::Result<()> {
    let options = OpenOptions {
        shm_dir: std::env::temp_dir(),
        use_segment: false,
        group: None,
    };
    let db = Db::open(path, &options)?;
    let [every, names, sq8] = indexes(v);
    db.create_collection(EVERY_TYPE, every_type_schema(v), vec![every.1])?;
    db.create_collection(NAMES, names_schema(v), vec![names.1])?;
    db.create_collection(SQ8, sq8_schema(v), vec![sq8.1])?;

    // Each write waits for the build it may start, so the file's layout does not depend on timing.
    let settle = || covec::internals::builder::BuildLock::wait(path).map(drop);
    let [a, b, c, tail] = every_type_batches();
    for batch in [a, b, c] {
        db.insert(
            EVERY_TYPE,
            batch.map(|id| every_type_input(id, 0)).collect(),
        )?;
        settle()?;
    }
    let doomed: Vec<Pk> = (1..1301)
        .filter(|&id| every_type_deleted(id))
        .map(Pk::Int)
        .collect();
    db.delete_ids(EVERY_TYPE, &doomed)?;
    let rewritten = (1..1301)
        .filter(|&id| every_type_upserted(id))
        .map(|id| every_type_input(id, 1))
        .collect();
    db.upsert(EVERY_TYPE, rewritten, false)?;
    db.insert(EVERY_TYPE, tail.map(|id| every_type_input(id, 0)).collect())?;
    settle()?;

    db.insert(NAMES, (0..NAMES_ROWS).map(names_input).collect())?;
    let gone: Vec<Pk> = (0..NAMES_ROWS)
        .filter(|&n| names_deleted(n))
        .map(|n| Pk::Str(format!("name-{n:03}")))
        .collect();
    db.delete_ids(NAMES, &gone)?;

    let rows = (1..=SQ8_ROWS)
        .map(|n| vec![("e".to_string(), Value::FloatVector(sq8_vector(n)))])
        .collect();
    db.insert(SQ8, rows)?;
    settle()
}
