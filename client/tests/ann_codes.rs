//! The codes walk of HNSW and AUTOINDEX parts over FLOAT_VECTOR (docs/ann.md, "The codes walk"), against
//! the f32 walk over the same part: the db's search walks the part's SQ8 codes and re-ranks exactly; this
//! test walks the same graph section on the same stored rows with `HnswView::search_rows`, as covec did
//! before the codes existed. At each ef the codes walk's recall@10 (against a FLAT collection of the same
//! rows) is at least the f32 walk's, and every distance it returns is the one the f32 walk computes for
//! that row. Recall is a pure function of the seed: no timings. Release runs 20k x 64 (`cargo test
//! --release -p covec --test ann_codes`); debug builds run a fifth of the rows, where the filtered searches
//! match fewer than 4,096 rows and the db scans them exactly instead.

mod ann_support;
mod hnsw_support;
mod storage_util;

use ann_support::{bucket, load, search, DIM, K};
use covec::internals::dense::DenseRows;
use covec::internals::engine::Snapshot;
use covec::internals::format::Section;
use covec::internals::hnsw::{HnswView, Rows};
use covec::{Db, Metric, Pk};
use hnsw_support::{clustered, rows};
use storage_util::{brute_force_score, TempDb};

const QUERIES: usize = 100;
const EFS: [usize; 3] = [16, 32, 64];
/// A filter on `bucket` (a hash of the id) that 30 % of the rows match.
const FILTER: &str = "bucket < 300";

/// The db's hits per query at `ef`, as (id, distance).
fn hits(db: &Db, name: &str, queries: &[f32], filter: &str, ef: usize) -> Vec<Vec<(i64, f32)>> {
    let params = vec![("ef".into(), ef.to_string())];
    search(db, name, queries, filter, params)
        .into_iter()
        .map(|hits| {
            hits.into_iter()
                .map(|h| match h.id {
                    Pk::Int(id) => (id, h.distance),
                    other => panic!("int64 key expected, got {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// Little-endian values of a section, copied out of the file's bytes.
fn words<const W: usize, T>(bytes: &[u8], s: &Section, of: fn([u8; W]) -> T) -> Vec<T> {
    bytes[s.offset as usize..(s.offset + s.len) as usize]
        .chunks_exact(W)
        .map(|c| of(c.try_into().unwrap()))
        .collect()
}

/// The collection's one indexed part as stored: the db file's bytes (read whole, so sections keep the
/// file's alignment, as `Snapshot::open` needs too), its graph section, its rows, their inverse norms and
/// their ids; and whether the part carries SQ8 codes.
struct StoredPart {
    bytes: Vec<u8>,
    graph: Section,
    vectors: Vec<f32>,
    inv_norms: Vec<f32>,
    ids: Vec<i64>,
    has_codes: bool,
}

impl StoredPart {
    fn read(db: &Db, name: &str) -> StoredPart {
        let bytes = std::fs::read(db.path()).unwrap();
        let (graph, vectors, inv_norms, ids, has_codes) = {
            let snap = Snapshot::open(&bytes).unwrap();
            let entry = snap.catalog().collection("default", name).unwrap();
            assert_eq!(entry.parts.len(), 1, "{name}: one part");
            let part = &entry.parts[0];
            let (ann, v) = (&part.ann[0], &part.columns[1]);
            (
                ann.graph,
                words(&bytes, &v.data, f32::from_le_bytes),
                words(&bytes, v.aux.as_ref().unwrap(), f32::from_le_bytes),
                words(&bytes, &part.columns[0].data, i64::from_le_bytes),
                ann.sq8.is_some(),
            )
        };
        StoredPart {
            bytes,
            graph,
            vectors,
            inv_norms,
            ids,
            has_codes,
        }
    }

    fn graph(&self) -> HnswView<'_> {
        let (start, len) = (self.graph.offset as usize, self.graph.len as usize);
        HnswView::wrap(&self.bytes[start..start + len], self.ids.len()).unwrap()
    }
}

/// Mean over queries of |found ∩ exact| / |exact|.
fn recall(found: &[Vec<(i64, f32)>], exact: &[Vec<(i64, f32)>]) -> f64 {
    let per = found.iter().zip(exact).map(|(f, e)| {
        let hit = e.iter().filter(|(id, _)| f.iter().any(|(g, _)| g == id));
        hit.count() as f64 / e.len() as f64
    });
    per.sum::<f64>() / found.len() as f64
}

fn check(metric: Metric, index_type: &str, seed: u64) {
    let n = rows(20_000);
    let data = clustered(n + QUERIES, DIM, 100, seed);
    let (rows_data, queries) = data.split_at(n * DIM);
    let t = TempDb::new("ann-codes");
    let db = t.open();
    load(&db, "graph", index_type, metric, rows_data);
    load(&db, "flat", "FLAT", metric, rows_data);
    let part = StoredPart::read(&db, "graph");
    assert!(
        part.has_codes,
        "{index_type} over FLOAT_VECTOR carries codes"
    );
    let view = part.graph();
    let stored = Rows {
        vectors: DenseRows::F32(&part.vectors),
        inv_norms: (metric == Metric::Cosine).then_some(&part.inv_norms[..]),
    };
    for filter in ["", FILTER] {
        let keep = |row: u32| filter.is_empty() || bucket(part.ids[row as usize]) < 300;
        let exact = hits(&db, "flat", queries, filter, 64);
        for ef in EFS {
            let codes = hits(&db, "graph", queries, filter, ef);
            let f32_walk: Vec<Vec<(i64, f32)>> = queries
                .chunks_exact(DIM)
                .map(|q| {
                    let filter: Option<&dyn Fn(u32) -> bool> =
                        (!filter.is_empty()).then_some(&keep);
                    let rows = view.search_rows(stored, q, K, ef, filter).unwrap();
                    rows.into_iter()
                        .map(|(row, d)| (part.ids[row as usize], d))
                        .collect()
                })
                .collect();
            let (r_codes, r_f32) = (recall(&codes, &exact), recall(&f32_walk, &exact));
            eprintln!(
                "{} {index_type} filter {filter:?} ef {ef}: recall@10 codes walk {r_codes:.4}, f32 walk {r_f32:.4}",
                metric.name()
            );
            assert!(
                r_codes >= r_f32,
                "{index_type} {metric:?} filter {filter:?} ef {ef}: codes walk recall {r_codes} < f32 walk {r_f32}"
            );
            for ((got, walked), q) in codes.iter().zip(&f32_walk).zip(queries.chunks_exact(DIM)) {
                assert_eq!(got.len(), K);
                for (id, d) in got {
                    assert!(
                        filter.is_empty() || bucket(*id) < 300,
                        "{id} fails {filter}"
                    );
                    // Exact, not the codes' estimate: the f32 walk's own value for the row when it
                    // found the row too (to the last bits: where fewer than 4,096 rows match, as in
                    // debug builds' filtered searches, the db scans them exactly, whose arithmetic
                    // differs in the last bit), else the reference distance.
                    match walked.iter().find(|(w, _)| w == id) {
                        Some((_, want)) => assert!(
                            (d - want).abs() <= 1e-6 * want.abs().max(1.0),
                            "row {id}: {d} vs the f32 walk's {want}"
                        ),
                        None => {
                            let row = &rows_data[*id as usize * DIM..(*id as usize + 1) * DIM];
                            let want = brute_force_score(metric, q, row);
                            let tolerance = 1e-4 * want.abs().max(1.0);
                            assert!(
                                (f64::from(*d) - want).abs() <= tolerance,
                                "row {id}: {d} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn hnsw_l2_codes_walk_recalls_at_least_the_f32_walk() {
    check(Metric::L2, "HNSW", 21);
}

#[test]
fn hnsw_ip_codes_walk_recalls_at_least_the_f32_walk() {
    check(Metric::Ip, "HNSW", 22);
}

#[test]
fn autoindex_cosine_codes_walk_recalls_at_least_the_f32_walk() {
    check(Metric::Cosine, "AUTOINDEX", 23);
}

/// Rows that do not quantize (one dimension spans more than f32 holds) still get their graph, without
/// codes, and are walked on f32 as before.
#[test]
fn rows_that_do_not_quantize_keep_the_f32_walk() {
    let n = 2_000;
    let mut data = clustered(n, DIM, 10, 24);
    data[0] = f32::MAX;
    data[DIM] = -f32::MAX;
    let t = TempDb::new("ann-codes-wide");
    let db = t.open();
    load(&db, "graph", "HNSW", Metric::L2, &data);
    let part = StoredPart::read(&db, "graph");
    assert!(
        !part.has_codes,
        "rows with an f32-overflowing range carry no codes"
    );
    let query = &data[5 * DIM..6 * DIM];
    let found = hits(&db, "graph", query, "", 64);
    assert_eq!(found[0][0], (5, 0.0), "a stored row finds itself");
}
