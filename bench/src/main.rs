//! Kernel throughput: one query scored against many 384-d rows by every kernel set this CPU can run
//! (`covec::kernels::available()`, fastest first, scalar last), for rows that fit in cache and rows
//! that do not. Prints a table; `--json PATH` also writes the numbers for bench/run.py's report.
//!
//! Fixed pseudo-random data (xorshift, seed constant); no timed assertions, only measurements.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use covec::kernels::{self, Kernels};

const DIM: usize = 384;
/// 1.5 MiB of rows (cache-resident) and 146 MiB (streams from memory, like a scan of a large segment).
const ROW_COUNTS: [usize; 2] = [1_024, 100_000];
const MIN_TIME: Duration = Duration::from_millis(300);

type ManyFn = fn(&Kernels, &[f32], &[f32], usize, &mut [f32]);

struct Measurement {
    isa: &'static str,
    kernel: &'static str,
    rows: usize,
    ns_per_row: f64,
    gib_per_s: f64,
}

fn pseudo_random(n: usize, mut state: u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Repeats full passes over `rows` until MIN_TIME has passed; returns nanoseconds per row.
fn time_passes(k: &Kernels, f: ManyFn, query: &[f32], rows: &[f32], out: &mut [f32]) -> f64 {
    f(k, query, rows, DIM, out); // warm caches and page tables
    let start = Instant::now();
    let mut passes = 0u64;
    while start.elapsed() < MIN_TIME {
        f(k, black_box(query), black_box(rows), DIM, out);
        black_box(&mut *out);
        passes += 1;
    }
    start.elapsed().as_nanos() as f64 / (passes as f64 * out.len() as f64)
}

fn measure() -> Vec<Measurement> {
    let kernels_by_name: [(&'static str, ManyFn); 2] = [
        ("dot_many", Kernels::dot_many),
        ("l2_many", Kernels::l2_many),
    ];
    let query = pseudo_random(DIM, 0x9E37_79B9_7F4A_7C15);
    let mut found = Vec::new();
    for rows_n in ROW_COUNTS {
        let rows = pseudo_random(rows_n * DIM, 0xD1B5_4A32_D192_ED03);
        let mut out = vec![0.0f32; rows_n];
        for set in kernels::available() {
            for (kernel, f) in kernels_by_name {
                let ns_per_row = time_passes(&set, f, &query, &rows, &mut out);
                found.push(Measurement {
                    isa: set.isa(),
                    kernel,
                    rows: rows_n,
                    ns_per_row,
                    gib_per_s: (DIM * 4) as f64 / ns_per_row * 1e9 / (1u64 << 30) as f64,
                });
            }
        }
    }
    found
}

fn to_json(found: &[Measurement]) -> String {
    let rows: Vec<String> = found
        .iter()
        .map(|m| {
            format!(
                "  {{\"isa\": \"{}\", \"kernel\": \"{}\", \"rows\": {}, \"dim\": {DIM}, \"ns_per_row\": {:.3}, \"gib_per_s\": {:.3}}}",
                m.isa, m.kernel, m.rows, m.ns_per_row, m.gib_per_s
            )
        })
        .collect();
    format!(
        "{{\"dispatched\": \"{}\", \"results\": [\n{}\n]}}\n",
        kernels::isa(),
        rows.join(",\n")
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json_path = match args.as_slice() {
        [] => None,
        [flag, path] if flag == "--json" => Some(path.clone()),
        _ => {
            eprintln!("usage: covec-bench [--json PATH]");
            return ExitCode::from(2);
        }
    };
    let found = measure();
    println!("dispatched kernel set: {}", kernels::isa());
    println!(
        "{:<10} {:<9} {:>8} {:>10} {:>9} {:>14}",
        "isa", "kernel", "rows", "ns/row", "GiB/s", "vs scalar"
    );
    for m in &found {
        let scalar = found
            .iter()
            .find(|s| s.isa == "scalar" && s.kernel == m.kernel && s.rows == m.rows)
            .map_or(f64::NAN, |s| s.ns_per_row / m.ns_per_row);
        println!(
            "{:<10} {:<9} {:>8} {:>10.1} {:>9.2} {:>13.1}x",
            m.isa, m.kernel, m.rows, m.ns_per_row, m.gib_per_s, scalar
        );
    }
    if let Some(path) = json_path {
        if let Err(e) = std::fs::write(&path, to_json(&found)) {
            eprintln!("covec-bench: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
