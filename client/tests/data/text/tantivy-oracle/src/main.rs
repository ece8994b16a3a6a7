//! Usage: cargo run --release -- <path to ../shared/data/A_base.jsonl> <output directory: ..>
//!
//! Writes tantivy_oracle.jsonl: tantivy's tokenizer pipelines, assembled as the Milvus server assembles its
//! analyzers, over a sample of Debian package descriptions (plain and non-ASCII ones) and hand-picked multi-script
//! strings; each pipeline's tokens as [text, start byte, end byte, position].
//! Writes tantivy_asciifolding.json: for every character tantivy's asciifolding filter changes, what it becomes.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Map, Value};
use tantivy::tokenizer::{
    AlphaNumOnlyFilter, AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter,
    SimpleTokenizer, SplitCompoundWords, Stemmer, StopWordFilter, TextAnalyzer,
    WhitespaceTokenizer,
};

const MULTI_SCRIPT: &[&str] = &[
    "ΟΔΟΣ Ἀθῆναι Σίσυφος café naïve Ærøskøbing Straße İstanbul ǅungla ﬁnance ＦＵＬＬ１２３",
    "Москва ЁЛКА Україна Ќ հայերեն ქართული עברית العربية ١٢٣ हिंदी বাংলা ไทยภาษา",
    "日本語のテキスト 한국어 텍스트 中文文本 ①②③ ⅩⅣ ² ½ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍🔬 🇨🇳 1️⃣",
    "cafe\u{301} x\u{308} e\u{300}\u{301} user_id=42; a.b-c/d\\e\tf\u{3000}g\u{a0}h\u{200b}i",
    "MILVUS_VECTOR_DB runs; RUNNING Runners generously consolidated knives skies dying",
];

fn pipelines() -> Vec<(&'static str, TextAnalyzer)> {
    vec![
        // {"type": "standard"}
        (
            "standard",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .build(),
        ),
        // {"type": "english"}
        (
            "english",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .filter(Stemmer::new(Language::English))
                .filter(StopWordFilter::new(Language::English).unwrap())
                .build(),
        ),
        // {"tokenizer": "whitespace", "filter": ["asciifolding", "lowercase"]}
        (
            "whitespace_fold_lower",
            TextAnalyzer::builder(WhitespaceTokenizer::default())
                .filter(AsciiFoldingFilter)
                .filter(LowerCaser)
                .build(),
        ),
        // {"tokenizer": "standard", "filter": ["alphanumonly", {"type": "length", "max": 8}]}
        (
            "alphanum_length8",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(AlphaNumOnlyFilter)
                .filter(RemoveLongFilter::limit(9))
                .build(),
        ),
        // {"tokenizer": "standard", "filter": ["lowercase", {"type": "decompounder", "word_list": [...]}]}
        (
            "decompounder",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .filter(
                    SplitCompoundWords::from_dictionary([
                        "data", "base", "database", "file", "system", "net", "work",
                    ])
                    .unwrap(),
                )
                .build(),
        ),
        // {"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "french"}, {"type": "stop", "stop_words": ["_french_"]}]}
        (
            "french",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(Stemmer::new(Language::French))
                .filter(StopWordFilter::new(Language::French).unwrap())
                .build(),
        ),
    ]
}

/// Every character (but whitespace, which the tokenizer would split on) that the folding filter changes.
fn ascii_folding() -> Value {
    let mut folder = TextAnalyzer::builder(WhitespaceTokenizer::default())
        .filter(AsciiFoldingFilter)
        .build();
    let mut folded = Map::new();
    for c in (0x80..=0x10FFFFu32)
        .filter_map(char::from_u32)
        .filter(|c| !c.is_ascii_whitespace())
    {
        let original = c.to_string();
        folder.token_stream(&original).process(&mut |t| {
            if t.text != original {
                folded.insert(original.clone(), Value::String(t.text.clone()));
            }
        });
    }
    Value::Object(folded)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (path, out) = match (args.next(), args.next()) {
        (Some(path), Some(out)) => (path, out),
        _ => panic!("usage: covec-tantivy-oracle <A_base.jsonl> <output directory>"),
    };
    let out = Path::new(&out);
    std::fs::write(
        out.join("tantivy_asciifolding.json"),
        ascii_folding().to_string() + "\n",
    )
    .unwrap();
    let rows: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .filter(|text| text.len() <= 800)
        .collect();
    let plain = rows.iter().filter(|t| t.is_ascii()).take(25);
    let unicode = rows.iter().filter(|t| !t.is_ascii()).take(45);
    let texts: Vec<&str> = MULTI_SCRIPT
        .iter()
        .copied()
        .chain(plain.chain(unicode).map(String::as_str))
        .collect();
    let mut lines = String::new();
    writeln!(
        lines,
        "{}",
        json!({"generator": "tantivy-oracle", "tantivy": "0.25.0", "rows": texts.len()})
    )
    .unwrap();
    let mut pipelines = pipelines();
    for text in texts {
        let mut row = json!({"text": text});
        for (name, analyzer) in &mut pipelines {
            let mut tokens = Vec::new();
            analyzer.token_stream(text).process(&mut |t| {
                tokens.push(json!([t.text, t.offset_from, t.offset_to, t.position]));
            });
            row[*name] = Value::Array(tokens);
        }
        writeln!(lines, "{row}").unwrap();
    }
    std::fs::write(out.join("tantivy_oracle.jsonl"), lines).unwrap();
}
