//! Golden db files: every db format covec ever wrote opens in this covec, with the same schemas, rows and search
//! answers, forever. Each file under client/tests/data/golden/ was written by the covec version its README names,
//! through `golden::write`; this test checks it against what `golden` says it holds. A db from a newer covec is
//! refused as newer, and an old db is upgraded only when written.

mod golden_support;
use golden_support as golden;
#[path = "golden_support/data_model.rs"]
mod golden_model;
#[path = "golden_support/scalar_indexes.rs"]
mod golden_scalar;
#[path = "golden_support/types.rs"]
mod golden_types;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use covec::internals::format::{self, MetaSlot, CATALOG_REVISION, FORMAT_VERSION, SLOT_OFFSETS};
use covec::{
    CollectionSchema, Db, Error, FieldSchema, IndexKind, IndexSpec, Metric, OpenOptions,
    OutputFields, Pk, Row, SearchRequest, Value,
};
use golden::Version;

/// A committed golden file, and the covec that wrote it as this covec describes it: the index kinds it
/// could store, with this covec's schema constructors (what a file holds reads back in today's types),
/// and what it holds beside the three collections every golden file holds: the data model of catalog
/// revision 3 (`golden_model`), the column types of catalog revision 3 (`golden_types`), the scalar indexes
/// of catalog revision 4 (`golden_scalar`). `codes`: its HNSW part over FLOAT_VECTOR carries SQ8 codes.
struct Golden {
    file: &'static str,
    version: Version,
    model: bool,
    types: bool,
    scalar_indexes: bool,
    codes: bool,
}

/// Every golden file, oldest first. Add the file of each new format version here (README.md says how).
fn goldens() -> Vec<Golden> {
    vec![
        // db format 1, catalog revision 1: no ANN indexes yet, every index exact.
        Golden {
            file: "f1-c1.covec",
            version: version(IndexKind::Flat, IndexKind::Flat),
            model: false,
            types: false,
            scalar_indexes: false,
            codes: false,
        },
        // catalog revision 2, HNSW layout 1: graphs in insertion order.
        Golden {
            file: "f1-c2-h1.covec",
            version: current(),
            model: false,
            types: false,
            scalar_indexes: false,
            codes: false,
        },
        // catalog revision 2, HNSW layout 2: rows of indexed parts in locality order.
        Golden {
            file: "f1-c2-h2.covec",
            version: current(),
            model: false,
            types: false,
            scalar_indexes: false,
            codes: false,
        },
        // catalog revision 3: databases, partitions, field ids (the three collections in "default").
        Golden {
            file: "f1-c3.covec",
            version: current(),
            model: false,
            types: false,
            scalar_indexes: false,
            codes: false,
        },
        // catalog revision 3 with its data model: databases, aliases, partitions, properties, an added
        // field, a partition key.
        Golden {
            file: "f1-c3-model.covec",
            version: current(),
            model: true,
            types: false,
            scalar_indexes: false,
            codes: false,
        },
        // catalog revision 3 with every column type it added, a match index and a BM25 function.
        Golden {
            file: "f1-c3-types.covec",
            version: current(),
            model: false,
            types: true,
            scalar_indexes: false,
            codes: false,
        },
        // catalog revision 4: the data model with scalar indexes.
        Golden {
            file: "f1-c4-model.covec",
            version: current(),
            model: true,
            types: false,
            scalar_indexes: true,
            codes: false,
        },
        // SQ8 codes beside the HNSW graph of a FLOAT_VECTOR field (catalog revision 4, no new tag).
        Golden {
            file: "f1-c4-sq8.covec",
            version: current(),
            model: false,
            types: false,
            scalar_indexes: false,
            codes: true,
        },
    ]
}

fn version(hnsw: IndexKind, hnsw_sq8: IndexKind) -> Version {
    Version {
        hnsw,
        hnsw_sq8,
        field: |name, dtype| FieldSchema::new(name, dtype),
        schema: |fields, description, dynamic| CollectionSchema::new(fields, description, dynamic),
    }
}

fn current() -> Version {
    version(IndexKind::Hnsw, IndexKind::HnswSq8)
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

/// A private copy of a golden file (the committed one is never opened for writing) and a private segment dir.
struct Copy {
    dir: PathBuf,
    db: PathBuf,
}

impl Copy {
    fn of(file: &str) -> Copy {
        static COPIES: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "covec-golden-{}-{}-{}",
            std::process::id(),
            COPIES.fetch_add(1, Ordering::Relaxed),
            file.replace('.', "-")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("shm")).unwrap();
        let db = dir.join(file);
        std::fs::copy(data_dir().join(file), &db)
            .unwrap_or_else(|e| panic!("golden file {file}: {e}"));
        Copy { dir, db }
    }
    fn options(&self, use_segment: bool) -> OpenOptions {
        OpenOptions {
            shm_dir: self.dir.join("shm"),
            use_segment,
            group: None,
        }
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn all_fields() -> OutputFields {
    OutputFields {
        names: Vec::new(),
        all: true,
    }
}

/// Live rows of `every_type` in primary-key order, as reads return them.
fn expected_every_type() -> Vec<Row> {
    let [a, b, c, tail] = golden::every_type_batches();
    let mut rows = Vec::new();
    for id in a.chain(b).chain(c) {
        if golden::every_type_deleted(id) {
            continue;
        }
        let round = u64::from(golden::every_type_upserted(id));
        rows.push(golden::every_type_stored(
            &current(),
            &golden::every_type_input(id, round),
        ));
    }
    rows.extend(
        tail.map(|id| golden::every_type_stored(&current(), &golden::every_type_input(id, 0))),
    );
    rows
}

fn expected_names() -> Vec<Row> {
    (0..golden::NAMES_ROWS)
        .filter(|&n| !golden::names_deleted(n))
        .map(golden::names_input)
        .collect()
}

fn expected_sq8() -> Vec<Row> {
    (1..=golden::SQ8_ROWS)
        .map(|n| {
            vec![
                ("pk".to_string(), Value::Int(n)),
                ("e".to_string(), Value::FloatVector(golden::sq8_vector(n))),
            ]
        })
        .collect()
}

fn pk_of(row: &Row) -> Pk {
    match &row[0].1 {
        Value::Int(i) => Pk::Int(*i),
        Value::Str(s) => Pk::Str(s.clone()),
        other => panic!("primary key {other:?}"),
    }
}

fn vector_of<'r>(row: &'r Row, field: &str) -> &'r [f32] {
    match row.iter().find(|(n, _)| n == field) {
        Some((_, Value::FloatVector(v))) => v,
        other => panic!("vector field {field}: {other:?}"),
    }
}

/// Milvus's distance for the metric: squared L2, inner product, cosine.
fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    match metric {
        Metric::L2 => a
            .iter()
            .zip(b)
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum(),
        Metric::Ip => dot,
        Metric::Cosine => {
            let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            dot / (norm(a) * norm(b))
        }
        other => panic!("{other:?} is not a float-vector metric"),
    }
}

/// Checks that searching `field` for each query returns the brute-force top 10 of `rows` (the searched graph
/// is walked with an ef above the row count, so an index must answer exactly).
fn check_search(db: &Db, collection: &str, field: &str, metric: Metric, rows: &[Row], file: &str) {
    let dim = vector_of(&rows[0], field).len();
    let mut rng = golden::Rng::new(42);
    let queries: Vec<Vec<f32>> = (0..8).map(|_| rng.vector(dim)).collect();
    let request = SearchRequest {
        anns_field: Some(field.into()),
        vectors: queries.concat().into(),
        nq: queries.len(),
        limit: 10,
        offset: 0,
        filter: String::new(),
        output: OutputFields::default(),
        metric: None,
        params: vec![("ef".into(), "4096".into())],
        ..SearchRequest::default()
    };
    let got = db.search(collection, &request).unwrap();
    for (q, hits) in queries.iter().zip(got) {
        let mut scored: Vec<(f64, Pk)> = rows
            .iter()
            .map(|r| (distance(metric, q, vector_of(r, field)), pk_of(r)))
            .collect();
        scored.sort_by(|a, b| {
            let order = a.0.total_cmp(&b.0);
            if metric == Metric::L2 {
                order
            } else {
                order.reverse()
            }
        });
        let want: Vec<&Pk> = scored.iter().take(10).map(|(_, pk)| pk).collect();
        let ids: Vec<&Pk> = hits.iter().map(|h| &h.id).collect();
        assert_eq!(ids, want, "{file}: {collection} search");
        for (hit, (d, _)) in hits.iter().zip(&scored) {
            assert!(
                (f64::from(hit.distance) - d).abs() <= 1e-4 * d.abs().max(1.0),
                "{file}: {collection} distance {} against {d}",
                hit.distance
            );
        }
    }
}

fn expected_indexes(v: &Version, collection: &str) -> Vec<IndexSpec> {
    golden::indexes(v)
        .into_iter()
        .filter(|(c, _)| *c == collection)
        .map(|(_, spec)| spec)
        .collect()
}

/// Everything `golden` says the db holds, read through `db`.
fn check_contents(db: &Db, g: &Golden) {
    let file = g.file;
    let mut collections = vec![golden::EVERY_TYPE, golden::NAMES, golden::SQ8];
    if g.model {
        collections.push(golden_model::KEYED);
        collections.sort_unstable();
        golden_model::check(db, file);
    }
    if g.types {
        collections.push(golden_types::TYPED);
        collections.sort_unstable();
        golden_types::check(db, file);
    }
    if g.scalar_indexes {
        golden_scalar::check(db, file);
    } else if g.model {
        let docs = db
            .describe_collection(covec::Scope::new(golden_model::TENANT, golden_model::DOCS))
            .unwrap();
        assert!(docs.scalar_indexes.is_empty(), "{file}");
    }
    assert_eq!(
        db.list_collections("default").unwrap(),
        collections,
        "{file}"
    );
    let checks: [(&str, CollectionSchema, Vec<Row>, &str, Metric); 3] = [
        (
            golden::EVERY_TYPE,
            golden::every_type_schema(&g.version),
            expected_every_type(),
            "v",
            Metric::L2,
        ),
        (
            golden::NAMES,
            golden::names_schema(&g.version),
            expected_names(),
            "emb",
            Metric::Cosine,
        ),
        (
            golden::SQ8,
            golden::sq8_schema(&g.version),
            expected_sq8(),
            "e",
            Metric::Ip,
        ),
    ];
    for (collection, schema, rows, field, metric) in checks {
        let info = db.describe_collection(collection).unwrap();
        assert_eq!(info.schema, schema, "{file}: {collection} schema");
        assert_eq!(
            info.indexes,
            expected_indexes(&g.version, collection),
            "{file}: {collection} indexes"
        );
        assert_eq!(info.row_count, rows.len() as u64, "{file}: {collection}");
        let stored = db.query(collection, "", &all_fields(), None, 0).unwrap();
        assert_eq!(stored.len(), rows.len(), "{file}: {collection} rows");
        for (got, want) in stored.iter().zip(&rows) {
            assert_eq!(got, want, "{file}: {collection} row");
        }
        check_search(db, collection, field, metric, &rows, file);
    }
    // Filters over every stored column kind: fixed-width, var-length, JSON, nullable with defaults, dynamic.
    let every = expected_every_type();
    let count = |f: &dyn Fn(&Row) -> bool| every.iter().filter(|r| f(r)).count() as u64;
    let value = |r: &Row, name: &str| r.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let filters: [(&str, u64); 5] = [
        (
            "i16 < 0 and b == true",
            count(&|r| {
                matches!(value(r, "i16"), Value::Int(i) if i < 0)
                    && value(r, "b") == Value::Bool(true)
            }),
        ),
        ("n_i32 == 7", count(&|r| value(r, "n_i32") == Value::Int(7))),
        (
            "opt_s is null",
            count(&|r| value(r, "opt_s") == Value::Null),
        ),
        (
            r#"j["nested"]["ok"] == true and dyn_num > 300"#,
            count(&|r| matches!(value(r, "id"), Value::Int(i) if i % 2 == 0 && i * 3 > 300)),
        ),
        (
            r#"s like "a%""#,
            count(&|r| matches!(value(r, "s"), Value::Str(s) if s.starts_with('a'))),
        ),
    ];
    for (filter, want) in filters {
        assert_eq!(
            db.count(golden::EVERY_TYPE, filter).unwrap(),
            want,
            "{file}: count({filter})"
        );
    }
}

#[test]
fn every_golden_file_opens_with_its_schemas_rows_and_search_answers() {
    for g in goldens() {
        for use_segment in [false, true] {
            let copy = Copy::of(g.file);
            let before = std::fs::read(&copy.db).unwrap();
            {
                let db = Db::open(&copy.db, &copy.options(use_segment)).unwrap();
                check_contents(&db, &g);
            }
            assert!(
                std::fs::read(&copy.db).unwrap() == before,
                "{}: reading changed the file",
                g.file
            );
        }
    }
}

/// The catalog revision byte of the newest generation (revision-1 catalogs have no tag: 1).
fn catalog_revision(path: &Path) -> u8 {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = format::decode_header(&bytes, bytes.len() as u64, path).unwrap();
    match bytes[meta.catalog_offset as usize..] {
        [0xFF, rev, ..] => rev,
        _ => 1,
    }
}

/// The data-model files hold what revision 3 added to parts, not just its catalog entries: a part of
/// several partitions (a partition column), a part predating an added field, a dropped partition's id.
#[test]
fn model_files_hold_revision_3_parts() {
    for g in goldens().into_iter().filter(|g| g.model) {
        let bytes = std::fs::read(data_dir().join(g.file)).unwrap();
        let snap = covec::internals::engine::Snapshot::open(&bytes).unwrap();
        let docs = snap
            .catalog()
            .collection(golden_model::TENANT, golden_model::DOCS)
            .unwrap();
        let fields = docs.schema.fields.len();
        let mixed = docs.parts.iter().find(|p| p.partitions.rows.is_some());
        assert!(
            mixed.is_some_and(|p| p.partitions.ids.len() > 1),
            "{}",
            g.file
        );
        assert!(
            docs.parts.iter().any(|p| p.columns.len() < fields),
            "{}",
            g.file
        );
        let live: Vec<u32> = docs.partitions.iter().map(|p| p.id).collect();
        assert!(
            docs.parts
                .iter()
                .flat_map(|p| &p.partitions.ids)
                .any(|id| !live.contains(id)),
            "{}: a dropped partition's id",
            g.file
        );
    }
}

/// The types files hold the sections the column types brought, not only their rows: a part with HNSW
/// graphs on the float16 and int8 fields, sparse inverted indexes (the BM25 one with the statistics of
/// its deleted rows), a match index on the analyzed text, and a tail part the graphs have not taken in.
#[test]
fn types_files_hold_their_index_sections() {
    use covec::internals::format::TextIndex;
    for g in goldens().into_iter().filter(|g| g.types) {
        let bytes = std::fs::read(data_dir().join(g.file)).unwrap();
        let snap = covec::internals::engine::Snapshot::open(&bytes).unwrap();
        let typed = snap
            .catalog()
            .collection("default", golden_types::TYPED)
            .unwrap();
        let position = |name: &str| {
            typed
                .schema
                .fields
                .iter()
                .position(|f| f.name == name)
                .unwrap() as u32
        };
        let indexed = typed.parts.iter().find(|p| !p.ann.is_empty()).unwrap();
        let graphs: Vec<u32> = indexed.ann.iter().map(|a| a.field).collect();
        assert_eq!(graphs, [position("half"), position("small")], "{}", g.file);
        let text = |kind: u8, name: &str| {
            indexed
                .text
                .iter()
                .find(|t| t.kind == kind && t.field == position(name))
        };
        assert!(text(TextIndex::SPARSE, "sparse").is_some(), "{}", g.file);
        assert!(
            text(TextIndex::SPARSE, "bm").is_some_and(|t| t.stats.is_some()),
            "{}: BM25 statistics of deleted rows",
            g.file
        );
        assert!(text(TextIndex::MATCH, "body").is_some(), "{}", g.file);
        assert!(indexed.deleted_count > 0, "{}", g.file);
        assert!(
            typed.parts.iter().any(|p| p.ann.is_empty()),
            "{}: an unindexed tail",
            g.file
        );
    }
}

/// HNSW parts over FLOAT_VECTOR carry SQ8 codes from the file that brought them on, and not before: the
/// older files' searches (checked above) walk f32 rows, the newer ones' walk the codes.
#[test]
fn hnsw_parts_carry_codes_from_the_files_that_brought_them() {
    for g in goldens()
        .into_iter()
        .filter(|g| g.version.hnsw == IndexKind::Hnsw)
    {
        let bytes = std::fs::read(data_dir().join(g.file)).unwrap();
        let snap = covec::internals::engine::Snapshot::open(&bytes).unwrap();
        let every = snap
            .catalog()
            .collection("default", golden::EVERY_TYPE)
            .unwrap();
        let indexed = every.parts.iter().find(|p| !p.ann.is_empty()).unwrap();
        assert_eq!(indexed.ann[0].sq8.is_some(), g.codes, "{}", g.file);
    }
}

#[test]
fn an_old_db_is_upgraded_when_written_and_keeps_its_rows() {
    for g in goldens() {
        let copy = Copy::of(g.file);
        let db = Db::open(&copy.db, &copy.options(false)).unwrap();
        db.insert(golden::NAMES, vec![golden::names_input(1000)])
            .unwrap();
        assert_eq!(catalog_revision(&copy.db), CATALOG_REVISION, "{}", g.file);
        let mut names = expected_names();
        names.push(golden::names_input(1000));
        let stored = db.query(golden::NAMES, "", &all_fields(), None, 0).unwrap();
        assert_eq!(stored, names, "{}", g.file);
        // The other collections read as before the write.
        let every = db
            .query(golden::EVERY_TYPE, "", &all_fields(), None, 0)
            .unwrap();
        assert_eq!(every, expected_every_type(), "{}", g.file);
    }
}

/// Rewrites the newest meta slot of the file at `path` with `edit` applied, checksums recomputed (as a newer
/// covec would have written it).
fn rewrite_newest_slot(path: &Path, edit: impl FnOnce(&mut Vec<u8>, &mut MetaSlot)) {
    let mut bytes = std::fs::read(path).unwrap();
    let (_, mut meta) = format::decode_header(&bytes, bytes.len() as u64, path).unwrap();
    edit(&mut bytes, &mut meta);
    let at = SLOT_OFFSETS[meta.slot_index()];
    bytes[at..at + format::SLOT_LEN].copy_from_slice(&format::encode_meta(&meta));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_db_from_a_newer_covec_is_refused_as_newer() {
    let newest = goldens().pop().unwrap();

    // A newer db format version in the preamble.
    let copy = Copy::of(newest.file);
    let mut bytes = std::fs::read(&copy.db).unwrap();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    std::fs::write(&copy.db, bytes).unwrap();
    let err = Db::open(&copy.db, &copy.options(false)).err().unwrap();
    assert!(matches!(err, Error::NewerVersion { .. }), "{err}");
    assert!(err.to_string().contains("newer covec"), "{err}");

    // A newer catalog revision, appended as a newer covec would commit it.
    let copy = Copy::of(newest.file);
    rewrite_newest_slot(&copy.db, |bytes, meta| {
        let mut catalog = bytes[meta.catalog_offset as usize..meta.committed_len as usize].to_vec();
        catalog[1] = CATALOG_REVISION + 1;
        let offset = format::align_up(bytes.len() as u64).unwrap();
        bytes.resize(offset as usize, 0);
        bytes.extend_from_slice(&catalog);
        meta.generation += 1;
        meta.catalog_offset = offset;
        meta.catalog_len = catalog.len() as u64;
        meta.catalog_xxh3 = xxhash_rust::xxh3::xxh3_64(&catalog);
        meta.committed_len = bytes.len() as u64;
    });
    let err = Db::open(&copy.db, &copy.options(false)).err().unwrap();
    assert!(matches!(err, Error::NewerVersion { .. }), "{err}");
}

/// Writes the golden file of the running version: `COVEC_WRITE_GOLDEN=<file name> cargo test -p covec --test golden
/// -- --ignored` (then add it to `goldens` and to the README). A name containing "model" also gets the data
/// model (`golden_model`) and its scalar indexes (`golden_scalar`), one containing "types" the column types
/// (`golden_types`).
#[test]
#[ignore]
fn write_golden_file_of_this_version() {
    let Ok(name) = std::env::var("COVEC_WRITE_GOLDEN") else {
        panic!("set COVEC_WRITE_GOLDEN to the new file's name");
    };
    let path = data_dir().join(&name);
    assert!(
        !path.exists(),
        "{} exists; golden files never change",
        path.display()
    );
    golden::write(&path, &current()).unwrap();
    let options = OpenOptions {
        shm_dir: std::env::temp_dir(),
        use_segment: false,
        group: None,
    };
    let db = Db::open(&path, &options).unwrap();
    if name.contains("model") {
        golden_model::write(&db).unwrap();
        golden_scalar::write(&db).unwrap();
    }
    if name.contains("types") {
        golden_types::write(&db).unwrap();
    }
}
