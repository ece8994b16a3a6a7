//! A Rust program as one of P concurrent covec workers: bench/run.py's `serve` protocol (see
//! bench/worker.py) without a Python interpreter, so the harness can show what covec itself costs each
//! process once the interpreter is not there.
//!
//! usage: covec-bench-serve DB QUERIES.npy EF FIRST_QUERY LATENCIES.npy
//!
//! Opens DB (attaching its segment in `$COVEC_SHM_DIR`), answers query FIRST_QUERY and prints
//! `{"ok": true, "stage": "ready", ...}`; on `go UNTIL` from stdin searches the queries round-robin, one
//! per call, top-10 ids, until wall time UNTIL, writes the latencies (s, float64) to LATENCIES.npy and
//! prints `{"ok": true, "stage": "done", ...}`; then waits for `exit` (or EOF) with the segment still
//! mapped, so the harness can read this process's memory. Errors: `{"ok": false, "error": ...}`, exit 1.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use covec::{Db, OpenOptions, OutputFields, SearchRequest};
use npy::{f32_matrix, map_npy, Failure};
use serde_json::json;

mod npy;

/// bench/common.py's COLLECTION and K.
const COLLECTION: &str = "bench";
const K: usize = 10;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, queries, ef, first, latencies] = args.as_slice() else {
        eprintln!("usage: covec-bench-serve DB QUERIES.npy EF FIRST_QUERY LATENCIES.npy");
        return ExitCode::from(2);
    };
    match serve(
        Path::new(db),
        Path::new(queries),
        ef,
        first,
        Path::new(latencies),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("{}", json!({"ok": false, "error": e}));
            ExitCode::FAILURE
        }
    }
}

fn serve(
    db: &Path,
    queries: &Path,
    ef: &str,
    first: &str,
    latencies: &Path,
) -> Result<(), Failure> {
    let queries_file = map_npy(queries)?;
    let (queries, dim) = f32_matrix(&queries_file, queries)?;
    let first: usize = first
        .parse()
        .map_err(|_| format!("FIRST_QUERY {first:?} is not a number"))?;
    ef.parse::<u32>()
        .map_err(|_| format!("EF {ef:?} is not a number"))?;
    let started = Instant::now();
    let db = Db::open(db, &OpenOptions::default()).map_err(|e| e.to_string())?;
    let open_s = started.elapsed().as_secs_f64();
    let mut request = SearchRequest {
        anns_field: None,
        vectors: Vec::new().into(),
        nq: 1,
        limit: K,
        offset: 0,
        filter: String::new(),
        output: OutputFields::default(),
        metric: None,
        params: vec![("ef".to_string(), ef.to_string())],
        ..SearchRequest::default()
    };
    let count = queries.len() / dim;
    let mut search = |i: usize| -> Result<(), Failure> {
        let row = i % count;
        request.vectors = queries[row * dim..(row + 1) * dim].to_vec().into();
        let hits = db.search(COLLECTION, &request).map_err(|e| e.to_string())?;
        std::hint::black_box(hits);
        Ok(())
    };
    let t = Instant::now();
    search(first)?;
    let first_search_s = t.elapsed().as_secs_f64();
    let phases = json!({"open_s": open_s, "first_search_s": first_search_s});
    let ready = json!({"ok": true, "stage": "ready", "pid": std::process::id(), "t_ready": wall_time(), "phases": phases});
    println!("{ready}");

    let mut stdin = std::io::stdin().lock();
    let mut line = String::new();
    stdin.read_line(&mut line).map_err(|e| e.to_string())?;
    let Some(until) = line.strip_prefix("go ") else {
        return Ok(()); // EOF or "exit": the harness stopped before the timed part
    };
    let until: f64 = until
        .trim()
        .parse()
        .map_err(|_| format!("bad command {line:?}"))?;
    let mut lat = Vec::new();
    let mut i = first;
    while wall_time() < until {
        let t = Instant::now();
        search(i)?;
        lat.push(t.elapsed().as_secs_f64());
        i += 1;
    }
    write_npy_f64(latencies, &lat)?;
    let queries = lat.len();
    // The harness reads memory after "done": the latencies are its bookkeeping, not covec's memory.
    drop(lat);
    let done = json!({"ok": true, "stage": "done", "queries": queries, "latencies": latencies});
    println!("{done}");
    line.clear();
    let _ = stdin.read_line(&mut line); // "exit", or EOF when the harness is gone
    Ok(())
}

fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A 1-D little-endian float64 .npy file (format 1.0), readable by numpy.load.
fn write_npy_f64(path: &Path, values: &[f64]) -> Result<(), Failure> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        values.len()
    );
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}
