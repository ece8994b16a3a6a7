//! Any text, any analyzer: no panic, and every token's offsets slice the input on character boundaries.

use covec::internals::text::Analyzer;
use proptest::prelude::*;
use serde_json::json;

fn analyzers() -> Vec<(Analyzer, bool)> {
    // (analyzer, whether its tokens are exactly their slice of the input)
    let raw = [
        json!({"tokenizer": "standard"}),
        json!({"tokenizer": "whitespace"}),
        json!({"tokenizer": "jieba"}),
        json!({"tokenizer": {"type": "jieba", "mode": "exact", "hmm": false}}),
        json!({"tokenizer": {"type": "jieba", "dict": ["数据库", "ab"], "hmm": true}}),
    ];
    let changing = [
        json!({"type": "standard"}),
        json!({"type": "english", "stop_words": ["_french_"]}),
        json!({"type": "chinese"}),
        json!({"tokenizer": "whitespace", "filter": ["lowercase", "asciifolding", "removepunct", "cnalphanumonly"]}),
        json!({"tokenizer": "jieba", "filter": ["cncharonly", {"type": "length", "max": 6}, "alphanumonly"]}),
        json!({"tokenizer": "standard", "filter": [
            {"type": "decompounder", "word_list": ["a", "ab", "é", "数据"]},
            {"type": "stemmer", "language": "russian"},
            {"type": "regex", "expr": "(?=.)(?!x)"}
        ]}),
    ];
    let build = |p: &serde_json::Value| Analyzer::from_params(p).unwrap();
    raw.iter()
        .map(|p| (build(p), true))
        .chain(changing.iter().map(|p| (build(p), false)))
        .collect()
}

/// Text that mixes the scripts and classes the analyzers care about, plus arbitrary characters.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9]{1,6}",
        "[数据库表列名称的是一个中文]{1,5}",
        "[ \t\n\r\u{3000}\u{a0}]{1,2}",
        "[.,;:!?。，！（）_#%+\\-]{1,2}",
        "[\u{300}-\u{36f}éÆßİΣ①]{1,2}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn tokens_slice_the_input_on_character_boundaries(text in text(), arbitrary in any::<String>()) {
        for input in [&text, &arbitrary] {
            for (analyzer, raw) in analyzers() {
                for token in analyzer.tokens(input) {
                    prop_assert!(token.start <= token.end && token.end <= input.len(), "{token:?} in {input:?}");
                    prop_assert!(input.is_char_boundary(token.start) && input.is_char_boundary(token.end));
                    prop_assert!(token.position_length >= 1);
                    if raw {
                        prop_assert_eq!(&input[token.start..token.end], token.text.as_str());
                    }
                }
            }
        }
    }

    #[test]
    fn jieba_positions_are_character_indices(text in text()) {
        let jieba = Analyzer::from_params(&json!({"tokenizer": "jieba"})).unwrap();
        for token in jieba.tokens(&text) {
            prop_assert_eq!(token.position, text[..token.start].chars().count());
            prop_assert_eq!(token.position_length, token.text.chars().count());
        }
    }

    #[test]
    fn standard_positions_count_tokens(text in text()) {
        let tokens = Analyzer::from_params(&json!({"tokenizer": "standard"})).unwrap().tokens(&text);
        let positions: Vec<usize> = tokens.iter().map(|t| t.position).collect();
        prop_assert_eq!(positions, (0..tokens.len()).collect::<Vec<_>>());
    }
}
