//! covec's analyzers against outside oracles, over real text (fixtures and their generators in tests/data/text/).

use std::path::PathBuf;

use covec::internals::text::Analyzer;
use serde_json::{json, Value};

fn fixture(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/text")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The first line describes the generator.
    text.lines()
        .skip(1)
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// (token, first character, end character) triples, as Python jieba's `tokenize` gives them.
fn jieba_triples(analyzer: &Analyzer, text: &str) -> Vec<(String, usize, usize)> {
    analyzer
        .tokens(text)
        .into_iter()
        .map(|t| {
            assert_eq!(
                &text[t.start..t.end],
                t.text,
                "a jieba token is its slice of the text"
            );
            (t.text, t.position, t.position + t.position_length)
        })
        .collect()
}

fn expected_triples(tokens: &Value) -> Vec<(String, usize, usize)> {
    tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let t = t.as_array().unwrap();
            (
                t[0].as_str().unwrap().to_owned(),
                t[1].as_u64().unwrap() as usize,
                t[2].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

/// Python jieba 0.42.1 (Milvus Lite's segmenter) and covec's jieba tokenizer (jieba-rs) on the same dictionary:
/// search mode and exact mode, token by token with character offsets.
///
/// They differ in one known way, in which covec sides with the Milvus server (whose jieba-rs has the same rule):
/// jieba-rs's HMM step keeps `[A-Za-z0-9]+` + any one character + digits as one token (its pattern has an unescaped
/// `.` where Python's has `\.`), so "SHA-256" is one token for covec and Milvus and three (SHA, -, 256) for Python.
/// Every other token must agree.
#[test]
fn jieba_segments_real_chinese_text_as_python_jieba_does() {
    let rows = fixture("jieba_python.jsonl");
    let search = Analyzer::from_params(&json!({"tokenizer": "jieba"})).unwrap();
    let exact =
        Analyzer::from_params(&json!({"tokenizer": {"type": "jieba", "mode": "exact"}})).unwrap();
    // ^[A-Za-z0-9]+.[0-9]+%?$, jieba-rs's pattern
    let joined = |token: &str| {
        let token = token.strip_suffix('%').unwrap_or(token);
        token.char_indices().any(|(i, c)| {
            let (head, tail) = (&token[..i], &token[i + c.len_utf8()..]);
            !head.is_empty()
                && head.bytes().all(|b| b.is_ascii_alphanumeric())
                && !tail.is_empty()
                && tail.bytes().all(|b| b.is_ascii_digit())
        })
    };
    let (mut compared, mut differing, mut tokens, mut same_tokens) = (0, 0, 0, 0);
    for row in &rows {
        let text = row["text"].as_str().unwrap();
        for (mode, analyzer) in [("search", &search), ("exact", &exact)] {
            let ours = jieba_triples(analyzer, text);
            let theirs = expected_triples(&row[mode]);
            compared += 1;
            tokens += theirs.len();
            same_tokens += theirs.iter().filter(|t| ours.contains(t)).count();
            if ours == theirs {
                continue;
            }
            differing += 1;
            let only_theirs: Vec<_> = theirs.iter().filter(|t| !ours.contains(t)).collect();
            for (token, start, end) in ours.iter().filter(|t| !theirs.contains(t)) {
                let parts: String = only_theirs
                    .iter()
                    .filter(|(_, s, e)| start <= s && e <= end)
                    .map(|(part, _, _)| part.as_str())
                    .collect();
                assert!(
                    joined(token) && parts == *token,
                    "{mode} mode, {text:?}: covec's {token:?} at {start}..{end} is not Python's {only_theirs:?} joined"
                );
            }
            let explained = |(_, s, e): &&(String, usize, usize)| {
                ours.iter()
                    .any(|(t, start, end)| joined(t) && start <= s && e <= end)
            };
            assert!(
                only_theirs.iter().all(explained),
                "{mode} mode, {text:?}: {only_theirs:?}"
            );
        }
    }
    eprintln!(
        "{} texts x 2 modes: {differing} of {compared} segmentations differ (all by the joined-token rule); \
         covec produced {same_tokens} of Python's {tokens} tokens",
        rows.len()
    );
    assert!(
        differing <= 10,
        "more texts than the 5 known ones differ: {differing} segmentations"
    );
}

fn tuples(tokens: &Value) -> Vec<(String, usize, usize, usize)> {
    tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = |i: usize| t[i].as_u64().unwrap() as usize;
            (t[0].as_str().unwrap().to_owned(), n(1), n(2), n(3))
        })
        .collect()
}

/// tantivy's tokenizers and filters, assembled as the Milvus server assembles these analyzers, over Debian package
/// descriptions and multi-script strings: every token, byte range and position the same.
#[test]
fn standard_english_and_filter_pipelines_match_tantivy() {
    let rows = fixture("tantivy_oracle.jsonl");
    let pipelines = [
        ("standard", json!({"type": "standard"})),
        ("english", json!({"type": "english"})),
        (
            "whitespace_fold_lower",
            json!({"tokenizer": "whitespace", "filter": ["asciifolding", "lowercase"]}),
        ),
        (
            "alphanum_length8",
            json!({"tokenizer": "standard", "filter": ["alphanumonly", {"type": "length", "max": 8}]}),
        ),
        (
            "decompounder",
            json!({"tokenizer": "standard", "filter": ["lowercase", {"type": "decompounder",
                "word_list": ["data", "base", "database", "file", "system", "net", "work"]}]}),
        ),
        (
            "french",
            json!({"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "french"},
                {"type": "stop", "stop_words": ["_french_"]}]}),
        ),
    ];
    let mut tokens = 0;
    for (name, params) in pipelines {
        let analyzer = Analyzer::from_params(&params).unwrap();
        for row in &rows {
            let text = row["text"].as_str().unwrap();
            let ours: Vec<_> = analyzer
                .tokens(text)
                .into_iter()
                .map(|t| (t.text, t.start, t.end, t.position))
                .collect();
            let theirs = tuples(&row[name]);
            assert_eq!(ours, theirs, "{name} on {text:?}");
            tokens += theirs.len();
        }
    }
    eprintln!(
        "{} texts x 6 pipelines: all {tokens} tokens equal",
        rows.len()
    );
    assert!(tokens > 10_000);
}

/// Every character tantivy's asciifolding filter changes, and only those, is folded the same way.
#[test]
fn asciifolding_matches_tantivy_for_every_character() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/text/tantivy_asciifolding.json");
    let folded: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let folded = folded.as_object().unwrap();
    let folding =
        Analyzer::from_params(&json!({"tokenizer": "whitespace", "filter": ["asciifolding"]}))
            .unwrap();
    let mut changed = 0;
    for c in (0x80..=0x10FFFF)
        .filter_map(char::from_u32)
        .filter(|c| !c.is_ascii_whitespace())
    {
        let original = c.to_string();
        let ours = folding.tokens(&original).remove(0).text;
        let theirs = folded
            .get(&original)
            .and_then(Value::as_str)
            .unwrap_or(&original);
        assert_eq!(ours, theirs, "U+{:04X}", c as u32);
        changed += usize::from(ours != original);
    }
    assert_eq!(changed, folded.len());
}
