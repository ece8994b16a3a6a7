//! Kernel throughput: one query scored against many 384-d rows by every kernel set this CPU can run
//! (`covec::internals::kernels::available()`, `available_f16()`, `available_i8()`; fastest first, scalar
//! last), for rows that fit in cache and rows that do not: f32 rows (`*_many`), f16 rows against an
//! f16 or an f32 query, f32 -> f16 encoding, i8 rows against an i8 or an f32 query, and SQ8 codes (u8) against an f32 query. GiB/s counts the row bytes streamed. Prints a table; `--json PATH` also writes the numbers for bench/run.py's report.
//!
//! Fixed pseudo-random data (xorshift, seed constant); no timed assertions, only measurements.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use covec::internals::kernels::{self, F16Kernels, I8Kernels, Kernels};

const DIM: usize = 384;
/// 1.5 MiB of f32 rows (cache-resident) and 146 MiB (streams from memory, like a scan of a large
/// segment); f16 rows are half that and i8 rows a quarter.
const ROW_COUNTS: [usize; 2] = [1_024, 100_000];
const MIN_TIME: Duration = Duration::from_millis(300);

type ManyFn = fn(&Kernels, &[f32], &[f32], usize, &mut [f32]);
type F16Fn = fn(&F16Kernels, &[u16], &[u16]) -> f32;
type F32F16Fn = fn(&F16Kernels, &[f32], &[u16]) -> f32;
type I8Fn = fn(&I8Kernels, &[i8], &[i8]) -> i32;

struct Measurement {
    isa: &'static str,
    kernel: &'static str,
    rows: usize,
    ns_per_row: f64,
    /// Row data streamed: `DIM` times the element size (4 for f32, 2 for f16, 1 for i8).
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

/// Repeats `pass` (one full pass over `rows` rows) until MIN_TIME has passed; returns nanoseconds
/// per row.
fn time_passes(rows: usize, mut pass: impl FnMut()) -> f64 {
    pass(); // warm caches and page tables
    let start = Instant::now();
    let mut passes = 0u64;
    while start.elapsed() < MIN_TIME {
        pass();
        passes += 1;
    }
    start.elapsed().as_nanos() as f64 / (passes as f64 * rows as f64)
}

/// Scores `query` against each `DIM`-element row of `rows` with `score`, into `out`.
fn score_rows<Q: ?Sized, R, O>(
    query: &Q,
    rows: &[R],
    out: &mut [O],
    score: impl Fn(&Q, &[R]) -> O,
) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(DIM)) {
        *o = score(black_box(query), row);
    }
    black_box(out);
}

fn measurement(
    isa: &'static str,
    kernel: &'static str,
    rows: usize,
    elem_bytes: usize,
    ns_per_row: f64,
) -> Measurement {
    Measurement {
        isa,
        kernel,
        rows,
        ns_per_row,
        gib_per_s: (DIM * elem_bytes) as f64 / ns_per_row * 1e9 / (1u64 << 30) as f64,
    }
}

fn measure() -> Vec<Measurement> {
    let f32_kernels: [(&'static str, ManyFn); 2] = [
        ("dot_many", Kernels::dot_many),
        ("l2_many", Kernels::l2_many),
    ];
    let f16_kernels: [(&'static str, F16Fn); 2] = [
        ("dot_f16", F16Kernels::dot_f16),
        ("l2_f16", F16Kernels::l2_squared_f16),
    ];
    let f32_f16_kernels: [(&'static str, F32F16Fn); 2] = [
        ("dot_f32_f16", F16Kernels::dot_f32_f16),
        ("l2_f32_f16", F16Kernels::l2_squared_f32_f16),
    ];
    let i8_kernels: [(&'static str, I8Fn); 2] = [
        ("dot_i8", I8Kernels::dot_i8),
        ("l2_i8", I8Kernels::l2_squared_i8),
    ];
    let query = pseudo_random(DIM, 0x9E37_79B9_7F4A_7C15);
    let mut query16 = vec![0u16; DIM];
    kernels::f32_to_f16_slice(&query, &mut query16);
    // Codes spread over the whole i8 range.
    let query8: Vec<i8> = query.iter().map(|x| (x * 254.0) as i8).collect();
    let scale: Vec<f32> = query.iter().map(|x| x.abs() / 255.0).collect();
    let mut found = Vec::new();
    for rows_n in ROW_COUNTS {
        let rows = pseudo_random(rows_n * DIM, 0xD1B5_4A32_D192_ED03);
        let mut rows16 = vec![0u16; rows.len()];
        kernels::f32_to_f16_slice(&rows, &mut rows16);
        let rows8: Vec<i8> = rows.iter().map(|x| (x * 254.0) as i8).collect();
        let mut out = vec![0.0f32; rows_n];
        let mut out8 = vec![0i32; rows_n];
        for set in kernels::available() {
            for (kernel, f) in f32_kernels {
                let ns = time_passes(rows_n, || {
                    f(&set, black_box(&query), black_box(&rows), DIM, &mut out);
                    black_box(&mut out);
                });
                found.push(measurement(set.isa(), kernel, rows_n, 4, ns));
            }
        }
        for set in kernels::available_f16() {
            for (kernel, f) in f16_kernels {
                let ns = time_passes(rows_n, || {
                    score_rows(&query16[..], &rows16, &mut out, |q, r| f(&set, q, r))
                });
                found.push(measurement(set.isa(), kernel, rows_n, 2, ns));
            }
            for (kernel, f) in f32_f16_kernels {
                let ns = time_passes(rows_n, || {
                    score_rows(&query[..], &rows16, &mut out, |q, r| f(&set, q, r))
                });
                found.push(measurement(set.isa(), kernel, rows_n, 2, ns));
            }
            let ns = time_passes(rows_n, || {
                set.f32_to_f16_slice(black_box(&rows), &mut rows16);
                black_box(&mut rows16);
            });
            found.push(measurement(set.isa(), "f32_to_f16", rows_n, 4, ns));
        }
        for set in kernels::available_i8() {
            for (kernel, f) in i8_kernels {
                let ns = time_passes(rows_n, || {
                    score_rows(&query8[..], &rows8, &mut out8, |q, r| f(&set, q, r))
                });
                found.push(measurement(set.isa(), kernel, rows_n, 1, ns));
            }
            let ns = time_passes(rows_n, || {
                score_rows(&query[..], &rows8, &mut out, |q, r| set.dot_f32_i8(q, r))
            });
            found.push(measurement(set.isa(), "dot_f32_i8", rows_n, 1, ns));
            // SQ8 codes are the same bytes read unsigned; `query` stands in for the prepared query side.
            let codes: &[u8] = as_unsigned(&rows8);
            let ns = time_passes(rows_n, || {
                score_rows(&query[..], codes, &mut out, |q, r| set.sq8_dot(q, r))
            });
            found.push(measurement(set.isa(), "sq8_dot", rows_n, 1, ns));
            let ns = time_passes(rows_n, || {
                score_rows(&query[..], codes, &mut out, |q, r| set.sq8_l2(q, &scale, r))
            });
            found.push(measurement(set.isa(), "sq8_l2", rows_n, 1, ns));
        }
    }
    found
}

/// The same bytes read as unsigned.
fn as_unsigned(codes: &[i8]) -> &[u8] {
    // SAFETY: i8 and u8 have the same size, alignment and every bit pattern is valid for both.
    unsafe { std::slice::from_raw_parts(codes.as_ptr().cast(), codes.len()) }
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
        "{:<14} {:<12} {:>8} {:>10} {:>9} {:>14}",
        "isa", "kernel", "rows", "ns/row", "GiB/s", "vs scalar"
    );
    for m in &found {
        let scalar = found
            .iter()
            .find(|s| s.isa == "scalar" && s.kernel == m.kernel && s.rows == m.rows)
            .map_or(f64::NAN, |s| s.ns_per_row / m.ns_per_row);
        println!(
            "{:<14} {:<12} {:>8} {:>10.1} {:>9.2} {:>13.1}x",
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
