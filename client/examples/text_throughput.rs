//! Analyzer throughput on real text: `cargo run --release -p covec --example text_throughput -- <A_base.jsonl>`.
//! English: the Debian package descriptions of ../shared/data/A_base.jsonl; Chinese: the texts of
//! client/tests/data/text/jieba_python.jsonl. Prints tokens/s and MB/s per analyzer (best of 3 passes).

use std::time::Instant;

use covec::internals::text::{term_id, Analyzer};
use serde_json::{json, Value};

fn texts(path: &str, limit: usize) -> Vec<String> {
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    data.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|row| row["text"].as_str().map(str::to_owned))
        .take(limit)
        .collect()
}

fn measure(name: &str, analyzer: &Analyzer, texts: &[String]) {
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut best = f64::MAX;
    let mut tokens = 0;
    for _ in 0..3 {
        let start = Instant::now();
        tokens = 0;
        let mut ids = 0u32;
        for text in texts {
            for token in analyzer.tokens(text) {
                ids ^= term_id(&token.text);
                tokens += 1;
            }
        }
        std::hint::black_box(ids);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{name:<28} {tokens:>9} tokens  {:>6.2} M tokens/s  {:>6.1} MB/s",
        tokens as f64 / best / 1e6,
        bytes as f64 / best / 1e6
    );
}

fn main() {
    let a_base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/A_base.jsonl".into());
    let english = texts(&a_base, 10_000);
    let chinese = texts(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/text/jieba_python.jsonl"
        ),
        usize::MAX,
    );
    let load = Instant::now();
    let chinese_analyzer = Analyzer::from_params(&json!({"type": "chinese"})).unwrap();
    chinese_analyzer.tokens("预热");
    println!(
        "jieba default dictionary loaded in {:.0} ms",
        load.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "English: {} texts, {:.1} MB; Chinese: {} texts, {:.2} MB",
        english.len(),
        english.iter().map(String::len).sum::<usize>() as f64 / 1e6,
        chinese.len(),
        chinese.iter().map(String::len).sum::<usize>() as f64 / 1e6
    );
    let analyzer = |params: Value| Analyzer::from_params(&params).unwrap();
    measure(
        "standard / English",
        &analyzer(json!({"type": "standard"})),
        &english,
    );
    measure(
        "english / English",
        &analyzer(json!({"type": "english"})),
        &english,
    );
    measure("chinese / English", &chinese_analyzer, &english);
    measure(
        "standard / Chinese",
        &analyzer(json!({"type": "standard"})),
        &chinese,
    );
    measure("chinese / Chinese", &chinese_analyzer, &chinese);
    measure(
        "jieba search / Chinese",
        &analyzer(json!({"tokenizer": "jieba"})),
        &chinese,
    );
    measure(
        "jieba exact / Chinese",
        &analyzer(json!({"tokenizer": {"type": "jieba", "mode": "exact"}})),
        &chinese,
    );
}
