//! Exact search over FLOAT_VECTOR, FLOAT16_VECTOR and INT8_VECTOR fields through the engine (`Db::search`
//! with a FLAT index, one query at a time): ms per query and the row bytes streamed per second, every type
//! in the same run on the same rows (random, 384-d; int8 rows are the f32 rows scaled by 40 and rounded).
//! `cargo run --release -p covec-bench --bin covec-bench-types -- [rows] [queries]` (default 200000 20);
//! the dbs go to a temporary directory, segments to `$COVEC_SHM_DIR` (set it to a private directory).

use std::time::Instant;

use covec::{
    CollectionSchema, DataType, Db, FieldSchema, IndexSpec, OpenOptions, SearchRequest, Value,
};

const DIM: usize = 384;
const K: usize = 10;
const BATCH: usize = 20_000;

/// splitmix64 values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn to_value(dtype: DataType, v: &[f32]) -> Value {
    match dtype {
        // float32 values for a float16 field are rounded by the engine.
        DataType::Int8Vector => {
            Value::Int8Vector(v.iter().map(|x| (x * 40.0).round() as i8).collect())
        }
        _ => Value::FloatVector(v.to_vec()),
    }
}

fn main() -> Result<(), String> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = args.first().copied().unwrap_or(200_000);
    let queries = args.get(1).copied().unwrap_or(20);
    let dir = std::env::temp_dir().join(format!("covec-bench-types-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let data = values(rows * DIM, 7);
    let qs = values(queries * DIM, 11);
    println!(
        "rows {rows} x {DIM}, {queries} queries, k {K}, exact (FLAT), isa f32 {} f16 {} i8 {}",
        covec::internals::kernels::isa(),
        covec::internals::kernels::dispatched_f16().isa(),
        covec::internals::kernels::dispatched_i8().isa()
    );
    println!("| type | row bytes | MiB | ms/query (median) | GiB/s |");
    println!("|---|---:|---:|---:|---:|");
    for (dtype, width) in [
        (DataType::FloatVector, 4),
        (DataType::Float16Vector, 2),
        (DataType::Int8Vector, 1),
    ] {
        let path = dir.join(format!("{}.covec", dtype.name()));
        let db = Db::open(&path, &OpenOptions::default()).map_err(|e| e.to_string())?;
        let mut id = FieldSchema::new("id", DataType::Int64);
        id.is_primary = true;
        let mut v = FieldSchema::new("v", dtype);
        v.dim = Some(DIM as u32);
        let schema = CollectionSchema::new(vec![id, v], "", false);
        let index = IndexSpec::from_milvus(&schema, "v", "FLAT", "", Some("L2"), Vec::new())
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        db.create_collection("c", schema, index)
            .map_err(|e| e.to_string())?;
        for start in (0..rows).step_by(BATCH) {
            let batch = (start..(start + BATCH).min(rows))
                .map(|i| {
                    vec![
                        ("id".to_string(), Value::Int(i as i64)),
                        (
                            "v".to_string(),
                            to_value(dtype, &data[i * DIM..(i + 1) * DIM]),
                        ),
                    ]
                })
                .collect();
            db.insert("c", batch).map_err(|e| e.to_string())?;
        }
        let mut times = Vec::with_capacity(queries);
        for q in qs.chunks_exact(DIM) {
            let vector: Vec<f32> = match dtype {
                DataType::Int8Vector => q.iter().map(|x| (x * 40.0).round()).collect(),
                _ => q.to_vec(),
            };
            let request = SearchRequest {
                vectors: vector.into(),
                nq: 1,
                limit: K,
                ..SearchRequest::default()
            };
            let t = Instant::now();
            let hits = db.search("c", &request).map_err(|e| e.to_string())?;
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(hits[0].len(), K);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let bytes = (rows * DIM * width) as f64;
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.1} |",
            dtype.name(),
            DIM * width,
            bytes / (1 << 20) as f64,
            median * 1e3,
            bytes / median / (1u64 << 30) as f64
        );
        drop(db);
        std::fs::remove_file(&path).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
