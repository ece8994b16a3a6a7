//! Sparse search throughput: builds `covec::internals::sparse` indexes over synthetic corpora and measures,
//! in one run, build time, section bytes and single-thread queries/s at k = 10 for the pruned
//! (block-max MaxScore) search against exhaustive term-at-a-time scoring of the same index. Both
//! must return identical hits; the run stops if they do not.
//!
//! Corpora (fixed seeds):
//! - `bm25`: text-like documents. Each is 10 to 300 tokens (log-uniform) drawn from a Zipf(1.0)
//!   vocabulary of 200,000 terms and stored as term frequencies. Two query sets of 1 to 6 tokens,
//!   weighted by idf: `bm25 zipf` draws them from the same law without its 50 most frequent terms
//!   (stop words); `bm25 doc` samples them from a random document, stop words included (Milvus's
//!   standard analyzer keeps them).
//! - `ip`: learned-sparse-like (SPLADE) documents of 30 to 150 terms from a Zipf(0.8) vocabulary
//!   of 30,000 with positive float weights; queries of 10 to 40 such terms.
//!
//! Usage: `covec-bench-sparse [--docs 100000,1000000] [--queries 200] [--corpus bm25|ip] [--json PATH]`.
//! No timed assertions: measurements only.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use covec::internals::sparse::{
    build_index, encode_column, Bm25Params, Bm25Stats, Scoring, SparseColumnView, SparseIndexView,
    SparseMetric, SparseRef, SparseVector,
};

/// xorshift64*, seeded: the corpora are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// Log-uniform integer in lo..=hi.
    fn log_range(&mut self, lo: f64, hi: f64) -> usize {
        (lo * (hi / lo).powf(self.unit())).round() as usize
    }
}

/// Term ranks drawn with probability proportional to 1 / (rank + 1)^s, by inverse CDF.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(vocab: usize, s: f64) -> Zipf {
        let mut cdf: Vec<f64> = (0..vocab)
            .scan(0.0, |sum, r| {
                *sum += 1.0 / ((r + 1) as f64).powf(s);
                Some(*sum)
            })
            .collect();
        let total = cdf[vocab - 1];
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf(cdf)
    }

    fn rank(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1)
    }
}

/// Ranks spread over the u32 range, as hashed tokens are.
fn term_id(rank: usize) -> u32 {
    (rank as u32).wrapping_mul(2_654_435_761) % covec::internals::sparse::MAX_INDEX
}

fn from_counts(counts: &mut [(u32, f32)]) -> SparseVector {
    counts.sort_unstable_by_key(|&(t, _)| t);
    let mut merged: Vec<(i64, f64)> = Vec::with_capacity(counts.len());
    for &(t, v) in counts.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == i64::from(t) => last.1 += f64::from(v),
            _ => merged.push((i64::from(t), f64::from(v))),
        }
    }
    SparseVector::from_pairs(merged).expect("generated vectors are valid")
}

/// Text-like documents and two query sets: Zipf-drawn terms without the 50 most frequent, and
/// terms sampled from a random document (stop words included, as Milvus's standard analyzer keeps
/// them).
fn bm25_corpus(docs: usize, queries: usize) -> (Vec<SparseVector>, Vec<QuerySet>) {
    let zipf = Zipf::new(200_000, 1.0);
    let mut rng = Rng(0x5EED_0001);
    let mut tokens = Vec::new();
    let rows: Vec<SparseVector> = (0..docs)
        .map(|_| {
            tokens.clear();
            for _ in 0..rng.log_range(10.0, 300.0) {
                tokens.push((term_id(zipf.rank(&mut rng)), 1.0));
            }
            from_counts(&mut tokens)
        })
        .collect();
    let rare = (0..queries)
        .map(|_| {
            tokens.clear();
            let len = rng.range(1, 6) as usize;
            while tokens.len() < len {
                let rank = zipf.rank(&mut rng);
                if rank >= 50 {
                    tokens.push((term_id(rank), 1.0));
                }
            }
            from_counts(&mut tokens)
        })
        .collect();
    let from_docs = (0..queries)
        .map(|_| {
            let doc = &rows[rng.range(0, docs as u64 - 1) as usize];
            tokens.clear();
            for _ in 0..rng.range(1, 6) {
                let i = rng.range(0, doc.len() as u64 - 1) as usize;
                tokens.push((doc.indices()[i], 1.0));
            }
            from_counts(&mut tokens)
        })
        .collect();
    (
        rows,
        vec![
            QuerySet {
                name: "bm25 zipf",
                queries: rare,
            },
            QuerySet {
                name: "bm25 doc",
                queries: from_docs,
            },
        ],
    )
}

fn ip_corpus(docs: usize, queries: usize) -> (Vec<SparseVector>, Vec<QuerySet>) {
    let zipf = Zipf::new(30_000, 0.8);
    let mut rng = Rng(0x5EED_0002);
    let draw = |terms: usize, rng: &mut Rng| {
        let mut pairs = Vec::with_capacity(terms);
        for _ in 0..terms {
            pairs.push((
                term_id(zipf.rank(rng)),
                (0.05 + 2.0 * rng.unit().powi(2)) as f32,
            ));
        }
        // A term drawn twice keeps the sum of its weights.
        from_counts(&mut pairs)
    };
    let rows = (0..docs)
        .map(|_| {
            let n = rng.range(30, 150) as usize;
            draw(n, &mut rng)
        })
        .collect();
    let queries = (0..queries)
        .map(|_| {
            let n = rng.range(10, 40) as usize;
            draw(n, &mut rng)
        })
        .collect();
    (
        rows,
        vec![QuerySet {
            name: "ip",
            queries,
        }],
    )
}

struct QuerySet {
    name: &'static str,
    queries: Vec<SparseVector>,
}

struct Measurement {
    queries: &'static str,
    docs: usize,
    postings: usize,
    column_mib: f64,
    index_mib: f64,
    build_s: f64,
    pruned_qps: f64,
    exhaustive_qps: f64,
}

/// Runs every query once to warm up, then repeatedly for at least a second; queries per second.
fn qps(mut one: impl FnMut(&SparseVector) -> Vec<(u32, f32)>, queries: &[SparseVector]) -> f64 {
    for q in queries {
        black_box(one(q));
    }
    let start = Instant::now();
    let mut done = 0usize;
    while done < queries.len() || start.elapsed().as_secs_f64() < 1.0 {
        black_box(one(&queries[done % queries.len()]));
        done += 1;
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// Builds the index over `rows` and measures every query set against it.
fn measure(
    corpus: &'static str,
    rows: &[SparseVector],
    sets: &[QuerySet],
) -> Result<Vec<Measurement>, String> {
    let err = |e: covec::Error| e.to_string();
    let refs: Vec<SparseRef> = rows.iter().map(SparseVector::view).collect();
    let column = encode_column(&refs).map_err(err)?;
    let column_view = SparseColumnView::wrap(&column, rows.len()).map_err(err)?;
    let mut stats = Bm25Stats::default();
    let (metric, scoring) = if corpus == "bm25" {
        for r in &refs {
            stats.add_doc(*r).map_err(err)?;
        }
        let params = Bm25Params::default();
        let scoring = Scoring::bm25(params, stats.avgdl()).map_err(err)?;
        (SparseMetric::Bm25(params), scoring)
    } else {
        (SparseMetric::Ip, Scoring::Ip)
    };
    let start = Instant::now();
    let bytes = build_index(&column_view, metric).map_err(err)?;
    let build_s = start.elapsed().as_secs_f64();
    let index = SparseIndexView::wrap(&bytes, rows.len()).map_err(err)?;
    let mib = |b: usize| b as f64 / (1u64 << 20) as f64;
    let mut found = Vec::new();
    for set in sets {
        let queries: Vec<SparseVector> = match metric {
            SparseMetric::Bm25(_) => set
                .queries
                .iter()
                .map(|q| stats.weigh_query(q.view()))
                .collect(),
            SparseMetric::Ip => set.queries.clone(),
        };
        for q in &queries {
            let a = index.search(q.view(), scoring, 10, None).map_err(err)?;
            let b = index
                .search_exhaustive(q.view(), scoring, 10, None)
                .map_err(err)?;
            if a != b {
                return Err(format!("{}: pruned and exhaustive hits differ", set.name));
            }
        }
        let pruned = |q: &SparseVector| {
            index
                .search(q.view(), scoring, 10, None)
                .unwrap_or_default()
        };
        let exhaustive = |q: &SparseVector| {
            index
                .search_exhaustive(q.view(), scoring, 10, None)
                .unwrap_or_default()
        };
        found.push(Measurement {
            queries: set.name,
            docs: rows.len(),
            postings: index.postings_len(),
            column_mib: mib(column.len()),
            index_mib: mib(bytes.len()),
            build_s,
            pruned_qps: qps(pruned, &queries),
            exhaustive_qps: qps(exhaustive, &queries),
        });
    }
    Ok(found)
}

fn to_json(found: &[Measurement]) -> String {
    let rows: Vec<String> = found
        .iter()
        .map(|m| {
            format!(
                "  {{\"queries\": \"{}\", \"docs\": {}, \"postings\": {}, \"column_mib\": {:.1}, \
                 \"index_mib\": {:.1}, \"build_s\": {:.3}, \"pruned_qps\": {:.1}, \"exhaustive_qps\": {:.1}}}",
                m.queries, m.docs, m.postings, m.column_mib, m.index_mib, m.build_s, m.pruned_qps,
                m.exhaustive_qps
            )
        })
        .collect();
    format!("{{\"k\": 10, \"results\": [\n{}\n]}}\n", rows.join(",\n"))
}

struct Args {
    docs: Vec<usize>,
    queries: usize,
    corpora: Vec<&'static str>,
    json: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut docs = vec![100_000, 1_000_000];
    let mut corpora = vec!["bm25", "ip"];
    let mut queries = 200;
    let mut json = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--docs" => {
                docs = value
                    .split(',')
                    .map(|d| d.parse().map_err(|_| format!("bad --docs {value}")))
                    .collect::<Result<_, _>>()?
            }
            "--queries" => {
                queries = value
                    .parse()
                    .map_err(|_| format!("bad --queries {value}"))?
            }
            "--json" => json = Some(value.clone()),
            "--corpus" => {
                corpora = match value.as_str() {
                    "bm25" => vec!["bm25"],
                    "ip" => vec!["ip"],
                    _ => return Err(format!("bad --corpus {value}")),
                }
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Args {
        docs,
        queries: queries.max(1),
        corpora,
        json,
    })
}

fn main() -> ExitCode {
    let Args {
        docs,
        queries,
        corpora,
        json,
    } = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("covec-bench-sparse: {e}\nusage: covec-bench-sparse [--docs 100000,1000000] [--queries 200] [--corpus bm25|ip] [--json PATH]");
            return ExitCode::from(2);
        }
    };
    println!(
        "{:<10} {:>9} {:>11} {:>10} {:>10} {:>8} {:>11} {:>11} {:>8}",
        "queries",
        "docs",
        "postings",
        "column MiB",
        "index MiB",
        "build s",
        "pruned q/s",
        "exhaust q/s",
        "speedup"
    );
    let mut found = Vec::new();
    for &n in &docs {
        for &corpus in &corpora {
            let (rows, sets) = if corpus == "bm25" {
                bm25_corpus(n, queries)
            } else {
                ip_corpus(n, queries)
            };
            let measured = match measure(corpus, &rows, &sets) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("covec-bench-sparse: {e}");
                    return ExitCode::FAILURE;
                }
            };
            for m in measured {
                println!(
                    "{:<10} {:>9} {:>11} {:>10.1} {:>10.1} {:>8.2} {:>11.1} {:>11.1} {:>7.1}x",
                    m.queries,
                    m.docs,
                    m.postings,
                    m.column_mib,
                    m.index_mib,
                    m.build_s,
                    m.pruned_qps,
                    m.exhaustive_qps,
                    m.pruned_qps / m.exhaustive_qps
                );
                found.push(m);
            }
        }
    }
    if let Some(path) = json {
        if let Err(e) = std::fs::write(&path, to_json(&found)) {
            eprintln!("covec-bench-sparse: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
