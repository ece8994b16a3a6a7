//! covec's HNSW build on its own, for bench/build.py to set beside hnswlib's on the same rows.
//!
//! usage: covec-bench-build BASE.npy QUERIES.npy EF[,EF...]
//!
//! Builds the graph over BASE (inner product, M 16, efConstruction 200, as bench/common.py gives
//! hnswlib) on every core, then searches each query at each ef. Prints one JSON line:
//! `{"ok": true, "build_s": ..., "build_cpu_s": ..., "graph_fnv": ..., "threads": ..., "ids": {"EF": [[top-10
//! row ids] per query]}}` (`build_cpu_s`: the CPU seconds, user and system, of every thread of this
//! process during the build)
//! (`graph_fnv`: a 64-bit FNV-1a hash of the serialized graph, so two builds, e.g. of two commits,
//! can be checked to have made the same graph);
//! errors: `{"ok": false, "error": ...}`, exit 1.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use covec::internals::hnsw::{build, HnswParams};
use covec::Metric;
use npy::{f32_matrix, map_npy, Failure};
use serde_json::{json, Map, Value};

mod npy;

/// bench/common.py's K, HNSW_M and HNSW_EFC.
const K: usize = 10;
const M: usize = 16;
const EF_CONSTRUCTION: usize = 200;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, queries, efs] = args.as_slice() else {
        eprintln!("usage: covec-bench-build BASE.npy QUERIES.npy EF[,EF...]");
        return ExitCode::from(2);
    };
    match measure(Path::new(base), Path::new(queries), efs) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", json!({"ok": false, "error": e}));
            ExitCode::FAILURE
        }
    }
}

fn measure(base: &Path, queries: &Path, efs: &str) -> Result<Value, Failure> {
    let efs: Vec<usize> = efs
        .split(',')
        .map(|ef| ef.parse().map_err(|_| format!("EF {ef:?} is not a number")))
        .collect::<Result<_, _>>()?;
    let (base_file, queries_file) = (map_npy(base)?, map_npy(queries)?);
    let (rows, dim) = f32_matrix(&base_file, base)?;
    let (queries, query_dim) = f32_matrix(&queries_file, queries)?;
    if query_dim != dim {
        return Err(format!("queries have {query_dim} dimensions, rows {dim}"));
    }
    let params = HnswParams {
        m: M,
        ef_construction: EF_CONSTRUCTION,
        ..HnswParams::default()
    };
    let (start, start_cpu) = (Instant::now(), cpu_seconds()?);
    let index = build(rows, dim, Metric::Ip, &params).map_err(|e| e.to_string())?;
    let build_s = start.elapsed().as_secs_f64();
    let build_cpu_s = cpu_seconds()? - start_cpu;
    let graph_fnv = index
        .to_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let view = index.view();
    let mut ids = Map::new();
    for ef in efs {
        let per_query = queries
            .chunks_exact(dim)
            .map(|q| {
                let hits = view
                    .search(rows, dim, Metric::Ip, q, K, ef, None)
                    .map_err(|e| e.to_string())?;
                Ok(hits.into_iter().map(|(id, _)| id).collect::<Vec<u32>>())
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        ids.insert(ef.to_string(), json!(per_query));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let graph_fnv = format!("{graph_fnv:016x}");
    Ok(
        json!({"ok": true, "build_s": build_s, "build_cpu_s": build_cpu_s, "graph_fnv": graph_fnv, "threads": threads, "ids": ids}),
    )
}

/// User and system CPU seconds of all this process's threads so far.
fn cpu_seconds() -> Result<f64, Failure> {
    // SAFETY: getrusage only writes the struct it is given, which is zeroed plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF needs nothing else.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(format!("getrusage: {}", std::io::Error::last_os_error()));
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}
