//! The analyzers as a user configures them: every tokenizer, filter, option and refusal (docs/text.md).

use covec::internals::text::{term_id, Analyzer, MultiAnalyzer, Token};
use serde_json::{json, Value};

fn analyzer(params: Value) -> Analyzer {
    Analyzer::from_params(&params).unwrap_or_else(|e| panic!("{params}: {e}"))
}

fn texts(params: Value, text: &str) -> Vec<String> {
    analyzer(params)
        .tokens(text)
        .into_iter()
        .map(|t| t.text)
        .collect()
}

/// The error message for params that must be refused; checks the code is 6 (invalid parameter).
fn refusal(params: Value) -> String {
    match Analyzer::from_params(&params) {
        Ok(a) => panic!("{params} was accepted: {a:?}"),
        Err(e) => {
            assert_eq!(e.code(), 6, "{params}: {e}");
            e.to_string()
        }
    }
}

fn assert_refused(params: Value, mentions: &[&str]) {
    let message = refusal(params.clone());
    for word in mentions {
        assert!(
            message.contains(word),
            "{params}: {message:?} does not mention {word:?}"
        );
    }
}

/// (text, start, end, position) of each token.
fn spans(tokens: &[Token]) -> Vec<(&str, usize, usize, usize)> {
    tokens
        .iter()
        .map(|t| (t.text.as_str(), t.start, t.end, t.position))
        .collect()
}

fn token(text: &str, start: usize, end: usize, position: usize) -> Token {
    Token {
        text: text.to_owned(),
        start,
        end,
        position,
        position_length: 1,
    }
}

// ---- built-in analyzers: the examples Milvus's documentation gives ----

#[test]
fn standard_analyzer_lowercases_words_and_drops_punctuation() {
    let text = "The Milvus vector database is built for scale!";
    let tokens = analyzer(json!({"type": "standard"})).tokens(text);
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(
        words,
        ["the", "milvus", "vector", "database", "is", "built", "for", "scale"]
    );
    assert_eq!(tokens[0], token("the", 0, 3, 0));
    assert_eq!(tokens[7], token("scale", 40, 45, 7));
}

#[test]
fn no_params_and_empty_params_mean_the_standard_analyzer() {
    let text = "Ünïcode TEXT, with_underscores 42";
    let expected = texts(json!({"type": "standard"}), text);
    assert_eq!(texts(json!({}), text), expected);
    assert_eq!(
        Analyzer::standard().tokens(text),
        analyzer(json!({})).tokens(text)
    );
    assert_eq!(
        Analyzer::default().tokens(text),
        analyzer(json!({})).tokens(text)
    );
    assert_eq!(expected, ["ünïcode", "text", "with", "underscores", "42"]);
}

#[test]
fn english_analyzer_stems_and_removes_english_stop_words_keeping_positions() {
    let tokens = analyzer(json!({"type": "english"}))
        .tokens("The Milvus vector database is built for scale!");
    let kept: Vec<(&str, usize)> = tokens
        .iter()
        .map(|t| (t.text.as_str(), t.position))
        .collect();
    assert_eq!(
        kept,
        [
            ("milvus", 1),
            ("vector", 2),
            ("databas", 3),
            ("built", 5),
            ("scale", 7)
        ]
    );
}

#[test]
fn built_in_stop_words_option_adds_words_and_lists() {
    let text = "The quick fox and the lazy dog of Paris";
    assert_eq!(
        texts(
            json!({"type": "standard", "stop_words": ["of", "_english_"]}),
            text
        ),
        ["quick", "fox", "lazy", "dog", "paris"]
    );
    // english keeps its own list and adds the given words.
    assert_eq!(
        texts(
            json!({"type": "english", "stop_words": ["fox", "lazi"]}),
            text
        ),
        ["quick", "dog", "pari"]
    );
    assert_eq!(
        texts(
            json!({"type": "chinese", "stop_words": ["的"]}),
            "数据库的表"
        ),
        ["数据", "据库", "数据库", "表"]
    );
}

#[test]
fn chinese_analyzer_segments_with_jieba_and_keeps_only_han_or_alphanumeric_tokens() {
    let tokens =
        analyzer(json!({"type": "chinese"})).tokens("我来到北京清华大学，学习 Milvus 2.5！");
    assert_eq!(
        spans(&tokens),
        [
            ("我", 0, 3, 0),
            ("来到", 3, 9, 1),
            ("北京", 9, 15, 3),
            ("清华", 15, 21, 5),
            ("华大", 18, 24, 6),
            ("大学", 21, 27, 7),
            ("清华大学", 15, 27, 5),
            ("学习", 30, 36, 10),
            ("Milvus", 37, 43, 13),
            ("2.5", 44, 47, 20),
        ]
    );
    assert_eq!(tokens[6].position_length, 4);
}

// ---- tokenizers ----

#[test]
fn standard_tokenizer_cuts_at_every_non_alphanumeric_character() {
    let text = "user_id=42; café-au-lait ①② 中文 हिंदी cafe\u{301}";
    let tokens = analyzer(json!({"tokenizer": "standard"})).tokens(text);
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    // ① is a number; Devanagari vowel signs are alphabetic, so हिंदी is one word; a combining accent (U+0301) is
    // not, so a decomposed "café" loses it.
    assert_eq!(
        words,
        [
            "user",
            "id",
            "42",
            "café",
            "au",
            "lait",
            "①②",
            "中文",
            "हिंदी",
            "cafe"
        ]
    );
    let positions: Vec<usize> = tokens.iter().map(|t| t.position).collect();
    assert_eq!(positions, (0..10).collect::<Vec<_>>());
    assert!(tokens.iter().all(|t| text[t.start..t.end] == t.text));
    assert_eq!(
        texts(json!({"tokenizer": {"type": "standard"}}), "Keep CASE"),
        ["Keep", "CASE"]
    );
}

#[test]
fn whitespace_tokenizer_cuts_at_ascii_whitespace_only() {
    let text = " a-b\tc\u{3000}d\n\r\x0ce\u{a0}f ";
    let tokens = analyzer(json!({"tokenizer": {"type": "whitespace"}})).tokens(text);
    assert_eq!(tokens[0], token("a-b", 1, 4, 0));
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(words, ["a-b", "c\u{3000}d", "e\u{a0}f"]);
}

#[test]
fn jieba_exact_mode_and_hmm_option() {
    let text = "他来到了网易杭研大厦";
    assert_eq!(
        texts(
            json!({"tokenizer": {"type": "jieba", "mode": "exact"}}),
            text
        ),
        ["他", "来到", "了", "网易", "杭研", "大厦"]
    );
    // Without the HMM, 杭研 (not in the dictionary) falls apart into characters.
    assert_eq!(
        texts(
            json!({"tokenizer": {"type": "jieba", "mode": "exact", "hmm": false}}),
            text
        ),
        ["他", "来到", "了", "网易", "杭", "研", "大厦"]
    );
}

#[test]
fn jieba_keeps_punctuation_and_whitespace_as_tokens() {
    assert_eq!(
        texts(json!({"tokenizer": "jieba"}), "你好!世界。 ok"),
        ["你好", "!", "世界", "。", " ", "ok"]
    );
}

#[test]
fn jieba_dict_without_default_uses_only_the_listed_words() {
    let text = "milvus结巴分词器中文测试";
    let only = json!({"tokenizer": {"type": "jieba", "dict": ["结巴分词器"], "mode": "exact", "hmm": false}});
    assert_eq!(
        texts(only, text),
        ["milvus", "结巴分词器", "中", "文", "测", "试"]
    );
    let with_default = json!({"tokenizer": {"type": "jieba", "dict": ["_default_", "结巴分词器"], "mode": "exact", "hmm": false}});
    assert_eq!(
        texts(with_default, text),
        ["milvus", "结巴分词器", "中文", "测试"]
    );
    // An empty word is skipped, as Milvus does.
    let default_only =
        json!({"tokenizer": {"type": "jieba", "dict": ["_default_", ""], "mode": "exact"}});
    assert_eq!(
        texts(default_only, text),
        texts(
            json!({"tokenizer": {"type": "jieba", "mode": "exact"}}),
            text
        )
    );
}

// ---- filters ----

#[test]
fn lowercase_filter_lowercases_each_character() {
    let params = json!({"tokenizer": "whitespace", "filter": ["lowercase"]});
    // Character by character, as tantivy: the final sigma of ΟΔΟΣ stays σ.
    assert_eq!(
        texts(params, "ÉCOLE ΟΔΟΣ İstanbul ABC"),
        ["école", "οδοσ", "i\u{307}stanbul", "abc"]
    );
}

#[test]
fn asciifolding_filter_folds_to_ascii_equivalents() {
    let params = json!({"tokenizer": "whitespace", "filter": ["asciifolding"]});
    assert_eq!(
        texts(params, "café Straße Æon ﬁne ①  naïve 中文"),
        ["cafe", "Strasse", "AEon", "fine", "1", "naive", "中文"]
    );
}

#[test]
fn alphanumonly_filter_keeps_ascii_letters_and_digits_only() {
    let params = json!({"tokenizer": "whitespace", "filter": ["alphanumonly"]});
    assert_eq!(
        texts(params, "abc A1 a-b café 中文 42"),
        ["abc", "A1", "42"]
    );
}

#[test]
fn cncharonly_and_cnalphanumonly_filters_keep_tokens_containing_those_characters() {
    let text = "中文 abc 1 , 。 a中 ½ é";
    let cn = json!({"tokenizer": "whitespace", "filter": ["cncharonly"]});
    assert_eq!(texts(cn, text), ["中文", "a中"]);
    let cn_alnum = json!({"tokenizer": "whitespace", "filter": ["cnalphanumonly"]});
    assert_eq!(texts(cn_alnum, text), ["中文", "abc", "1", "a中"]);
}

#[test]
fn removepunct_filter_drops_tokens_containing_punctuation() {
    let params = json!({"tokenizer": "whitespace", "filter": ["removepunct"]});
    // Symbols (category S: + $ ^) are not punctuation; a token with any punctuation goes, not just all-punctuation.
    assert_eq!(
        texts(params, "word , 。 ! a.b + $ ^ 中文 «x»"),
        ["word", "+", "$", "^", "中文"]
    );
}

#[test]
fn length_filter_drops_tokens_longer_than_max_bytes() {
    let params = json!({"tokenizer": "whitespace", "filter": [{"type": "length", "max": 3}]});
    assert_eq!(texts(params, "a abc abcd 中 中文"), ["a", "abc", "中"]);
}

#[test]
fn stop_filter_removes_exact_matches_and_expands_lists() {
    let params = json!({"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": ["of", "to", "_english_"]}]});
    // Case-sensitive: without lowercase, "The" stays.
    assert_eq!(
        texts(
            params,
            "The stop filter allows control over common stop words for text processing."
        ),
        [
            "The",
            "stop",
            "filter",
            "allows",
            "control",
            "over",
            "common",
            "stop",
            "words",
            "text",
            "processing"
        ]
    );
    let german =
        json!({"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": ["_german_"]}]});
    assert_eq!(texts(german, "der Hund und die Katze"), ["Hund", "Katze"]);
}

#[test]
fn stop_filter_lists_have_the_milvus_sizes() {
    // Distinct words per built-in list, as in Milvus's (tantivy's) lists.
    let sizes = [
        ("_english_", 33),
        ("_danish_", 94),
        ("_dutch_", 101),
        ("_finnish_", 229),
        ("_french_", 154),
        ("_german_", 231),
        ("_hungarian_", 198),
        ("_italian_", 279),
        ("_norwegian_", 172),
        ("_portuguese_", 203),
        ("_russian_", 159),
        ("_spanish_", 308),
        ("_swedish_", 114),
    ];
    for (list, size) in sizes {
        let words = std::fs::read_to_string(format!(
            "{}/src/text/stop_words/{}.txt",
            env!("CARGO_MANIFEST_DIR"),
            list.trim_matches('_')
        ))
        .unwrap();
        let distinct: std::collections::HashSet<&str> = words.lines().collect();
        assert_eq!(distinct.len(), size, "{list}");
        // Every word of the list is removed.
        let all = words.lines().collect::<Vec<_>>().join(" ");
        let params =
            json!({"tokenizer": "whitespace", "filter": [{"type": "stop", "stop_words": [list]}]});
        assert!(texts(params, &all).is_empty(), "{list}");
    }
}

#[test]
fn stemmer_filter_stems_with_the_named_snowball_language() {
    let english = json!({"tokenizer": "standard", "filter": ["lowercase", {"type": "stemmer", "language": "English"}]});
    assert_eq!(
        texts(english, "Running runs easily"),
        ["run", "run", "easili"]
    );
    let french =
        json!({"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "french"}]});
    assert_eq!(texts(french, "continuellement"), ["continuel"]);
    let russian =
        json!({"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "russian"}]});
    assert_eq!(texts(russian, "книги"), ["книг"]);
}

/// Pairs from the Snowball English (Porter2) stemmer's published vocabulary and output, including its exceptions.
#[test]
fn english_stemmer_matches_snowball_published_stems() {
    let pairs = [
        ("consign", "consign"),
        ("consigned", "consign"),
        ("consigning", "consign"),
        ("consignment", "consign"),
        ("consist", "consist"),
        ("consisted", "consist"),
        ("consistency", "consist"),
        ("consistent", "consist"),
        ("consistently", "consist"),
        ("consisting", "consist"),
        ("consists", "consist"),
        ("consolation", "consol"),
        ("consolations", "consol"),
        ("consolatory", "consolatori"),
        ("console", "consol"),
        ("consoled", "consol"),
        ("consoles", "consol"),
        ("consolidate", "consolid"),
        ("consolidated", "consolid"),
        ("consolidating", "consolid"),
        ("consoling", "consol"),
        ("consolingly", "consol"),
        ("consols", "consol"),
        ("consonant", "conson"),
        ("consort", "consort"),
        ("consorted", "consort"),
        ("consorting", "consort"),
        ("conspicuous", "conspicu"),
        ("conspicuously", "conspicu"),
        ("conspiracy", "conspiraci"),
        ("conspirator", "conspir"),
        ("conspirators", "conspir"),
        ("conspire", "conspir"),
        ("conspired", "conspir"),
        ("conspiring", "conspir"),
        ("constable", "constabl"),
        ("constables", "constabl"),
        ("constance", "constanc"),
        ("constancy", "constanc"),
        ("constant", "constant"),
        ("knack", "knack"),
        ("knackeries", "knackeri"),
        ("knacks", "knack"),
        ("knag", "knag"),
        ("knave", "knave"),
        ("knaves", "knave"),
        ("knavish", "knavish"),
        ("kneaded", "knead"),
        ("kneading", "knead"),
        ("knee", "knee"),
        ("kneel", "kneel"),
        ("kneeled", "kneel"),
        ("kneeling", "kneel"),
        ("kneels", "kneel"),
        ("knees", "knee"),
        ("knell", "knell"),
        ("knelt", "knelt"),
        ("knew", "knew"),
        ("knick", "knick"),
        ("knif", "knif"),
        ("knife", "knife"),
        ("knight", "knight"),
        ("knightly", "knight"),
        ("knights", "knight"),
        ("knit", "knit"),
        ("knits", "knit"),
        ("knitted", "knit"),
        ("knitting", "knit"),
        ("knives", "knive"),
        ("knob", "knob"),
        ("knobs", "knob"),
        ("knock", "knock"),
        ("knocked", "knock"),
        ("knocker", "knocker"),
        ("knockers", "knocker"),
        ("knocking", "knock"),
        ("knocks", "knock"),
        ("knopp", "knopp"),
        ("knot", "knot"),
        ("knots", "knot"),
        // Porter2's exceptional forms.
        ("skis", "ski"),
        ("skies", "sky"),
        ("dying", "die"),
        ("lying", "lie"),
        ("tying", "tie"),
        ("idly", "idl"),
        ("gently", "gentl"),
        ("ugly", "ugli"),
        ("early", "earli"),
        ("only", "onli"),
        ("singly", "singl"),
        ("news", "news"),
        ("atlas", "atlas"),
        ("cosmos", "cosmos"),
        ("bias", "bias"),
        ("andes", "andes"),
        ("inning", "inning"),
        ("outing", "outing"),
        ("canning", "canning"),
        ("herring", "herring"),
        ("earring", "earring"),
        ("proceed", "proceed"),
        ("exceed", "exceed"),
        ("succeed", "succeed"),
        ("generously", "generous"),
    ];
    let stemmer = analyzer(
        json!({"tokenizer": "whitespace", "filter": [{"type": "stemmer", "language": "english"}]}),
    );
    let words: Vec<&str> = pairs.iter().map(|(word, _)| *word).collect();
    let stems: Vec<String> = stemmer
        .tokens(&words.join(" "))
        .into_iter()
        .map(|t| t.text)
        .collect();
    let expected: Vec<&str> = pairs.iter().map(|(_, stem)| *stem).collect();
    assert_eq!(stems, expected);
}

#[test]
fn regex_filter_keeps_tokens_the_pattern_matches() {
    let not_test =
        json!({"tokenizer": "standard", "filter": [{"type": "regex", "expr": "^(?!test)"}]});
    assert_eq!(
        texts(not_test, "test milvus testing attest"),
        ["milvus", "attest"]
    );
    let digits = json!({"tokenizer": "standard", "filter": [{"type": "regex", "expr": "\\d"}]});
    assert_eq!(texts(digits, "a1 b c22"), ["a1", "c22"]);
}

#[test]
fn decompounder_filter_splits_compounds_of_listed_words() {
    let params = json!({"tokenizer": "standard", "filter": [{"type": "decompounder", "word_list": ["bank", "note", "banknote", "dampf", "schiff", "fahrt"]}]});
    let tokens = analyzer(params).tokens("dampfschifffahrt banknotes bank");
    // The pieces keep the compound's offsets and position; a token that is not all listed words stays whole,
    // and the longest word wins at each point ("banknote" is listed, so "banknotes" would need "s").
    assert_eq!(
        spans(&tokens),
        [
            ("dampf", 0, 16, 0),
            ("schiff", 0, 16, 0),
            ("fahrt", 0, 16, 0),
            ("banknotes", 17, 26, 1),
            ("bank", 27, 31, 2)
        ]
    );
}

#[test]
fn filters_run_in_the_order_given() {
    let stop_then_lower = json!({"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": ["the"]}, "lowercase"]});
    assert_eq!(texts(stop_then_lower, "The the"), ["the"]);
    let lower_then_stop = json!({"tokenizer": "standard", "filter": ["lowercase", {"type": "stop", "stop_words": ["the"]}]});
    assert!(texts(lower_then_stop, "The the").is_empty());
}

// ---- refusals: every unknown name or bad option is an error naming what exists ----

#[test]
fn unknown_names_are_refused_with_the_alternatives() {
    assert_refused(
        json!({"type": "jieba"}),
        &["\"jieba\"", "standard", "english", "chinese", "tokenizer"],
    );
    assert_refused(json!({"type": 3}), &["type", "string"]);
    assert_refused(
        json!({"tokenizer": "icu"}),
        &["\"icu\"", "standard, whitespace, jieba"],
    );
    assert_refused(
        json!({"tokenizer": {"type": "lindera", "dict_kind": "ipadic"}}),
        &["lindera"],
    );
    assert_refused(json!({"tokenizer": {"dict": []}}), &["type"]);
    assert_refused(json!({"tokenizer": 5}), &["tokenizer"]);
    assert_refused(
        json!({"tokenizer": "standard", "filter": ["synonym"]}),
        &["synonym", "lowercase", "decompounder"],
    );
    assert_refused(
        json!({"tokenizer": "standard", "filter": [{"type": "pinyin"}]}),
        &["pinyin", "stemmer"],
    );
    assert_refused(
        json!({"tokenizer": "standard", "filter": [{"max": 3}]}),
        &["type"],
    );
    assert_refused(json!({"tokenizer": "standard", "filter": [7]}), &["filter"]);
    assert_refused(
        json!({"tokenizer": "standard", "filter": "lowercase"}),
        &["filter", "list"],
    );
    assert_refused(json!({"filter": ["lowercase"]}), &["tokenizer", "type"]);
    assert_refused(json!("standard"), &["object"]);
    assert_refused(json!(null), &["object"]);
}

#[test]
fn unknown_options_are_refused_not_ignored() {
    assert_refused(
        json!({"type": "standard", "filter": ["lowercase"]}),
        &["\"filter\"", "stop_words"],
    );
    assert_refused(json!({"type": "chinese", "mode": "exact"}), &["\"mode\""]);
    assert_refused(
        json!({"tokenizer": "standard", "char_filter": ["html"]}),
        &["char_filter", "tokenizer, filter"],
    );
    assert_refused(
        json!({"tokenizer": {"type": "standard", "uax29": true}}),
        &["uax29"],
    );
    assert_refused(
        json!({"tokenizer": {"type": "whitespace", "x": 1}}),
        &["\"x\""],
    );
    assert_refused(
        json!({"tokenizer": {"type": "jieba", "extra_dict_file": {"type": "local"}}}),
        &["extra_dict_file", "dict, mode, hmm"],
    );
    assert_refused(
        json!({"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": ["a"], "stop_words_file": {}}]}),
        &["stop_words_file"],
    );
    assert_refused(
        json!({"tokenizer": "standard", "filter": [{"type": "length", "max": 3, "min": 1}]}),
        &["\"min\""],
    );
}

#[test]
fn bad_option_values_are_refused() {
    let cases = [
        (
            json!({"type": "standard", "stop_words": "of"}),
            "list of strings",
        ),
        (
            json!({"type": "english", "stop_words": ["of", 3]}),
            "a number",
        ),
        (
            json!({"type": "standard", "stop_words": ["_klingon_"]}),
            "_english_",
        ),
        (
            json!({"tokenizer": {"type": "jieba", "mode": "fast"}}),
            "\"exact\"",
        ),
        (
            json!({"tokenizer": {"type": "jieba", "hmm": "yes"}}),
            "true or false",
        ),
        (
            json!({"tokenizer": {"type": "jieba", "dict": "words"}}),
            "_default_",
        ),
        (
            json!({"tokenizer": {"type": "jieba", "dict": [1]}}),
            "a number",
        ),
        (
            json!({"tokenizer": {"type": "jieba", "dict": ["_default_", "_default_"]}}),
            "twice",
        ),
        (
            json!({"tokenizer": {"type": "jieba", "dict": ["_extend_default_"]}}),
            "_extend_default_",
        ),
        (
            json!({"tokenizer": "standard", "filter": ["stop"]}),
            "needs options",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "lowercase"}]}),
            "takes no options",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "length"}]}),
            "max",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "length", "max": -1}]}),
            "max",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "length", "max": "3"}]}),
            "max",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "stop"}]}),
            "stop_words",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "stemmer"}]}),
            "english",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "klingon"}]}),
            "klingon",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "regex"}]}),
            "expr",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "regex", "expr": "("}]}),
            "not a valid",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "decompounder"}]}),
            "word_list",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "decompounder", "word_list": []}]}),
            "at least one",
        ),
        (
            json!({"tokenizer": "standard", "filter": [{"type": "decompounder", "word_list": ["a", ""]}]}),
            "empty",
        ),
    ];
    for (params, mentions) in cases {
        assert_refused(params, &[mentions]);
    }
}

#[test]
fn params_arrive_as_json_text_too() {
    let a = Analyzer::from_json(r#"{"type": "english"}"#).unwrap();
    assert_eq!(a.tokens("running dogs")[0].text, "run");
    let e = Analyzer::from_json("{\"type\": ").unwrap_err();
    assert_eq!(e.code(), 6);
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}

// ---- multi-analyzer ----

fn multi() -> MultiAnalyzer {
    MultiAnalyzer::from_params(&json!({
        "analyzers": {
            "english": {"type": "english"},
            "chinese": {"type": "chinese"},
            "default": {"tokenizer": "whitespace"}
        },
        "by_field": "language",
        "alias": {"en": "english", "cn": "chinese"}
    }))
    .unwrap()
}

#[test]
fn multi_analyzer_picks_by_name_then_alias_then_default() {
    let m = multi();
    assert_eq!(m.by_field(), "language");
    let first =
        |language: Option<&str>, text: &str| m.analyzer(language).tokens(text)[0].text.clone();
    assert_eq!(first(Some("english"), "Running"), "run");
    assert_eq!(first(Some("en"), "Running"), "run");
    assert_eq!(first(Some("cn"), "数据库"), "数据");
    assert_eq!(first(Some("chinese"), "数据库"), "数据");
    assert_eq!(first(Some("klingon"), "Running"), "Running");
    assert_eq!(
        first(Some("EN"), "Running"),
        "Running",
        "names are case-sensitive"
    );
    assert_eq!(first(None, "Running"), "Running");
}

#[test]
fn multi_analyzer_params_are_checked() {
    let cases = [
        (
            json!({"analyzers": {"english": {"type": "english"}}, "by_field": "lang"}),
            "default",
        ),
        (json!({"analyzers": {"default": {}}}), "by_field"),
        (
            json!({"analyzers": {"default": {}}, "by_field": 1}),
            "by_field",
        ),
        (json!({"by_field": "lang"}), "analyzers"),
        (json!({"analyzers": [], "by_field": "lang"}), "object"),
        (
            json!({"analyzers": {"default": {"type": "klingon"}}, "by_field": "lang"}),
            "\"default\": unknown analyzer type",
        ),
        (
            json!({"analyzers": {"default": {}}, "by_field": "lang", "alias": {"en": "english"}}),
            "\"english\"",
        ),
        (
            json!({"analyzers": {"default": {}}, "by_field": "lang", "alias": {"en": 1}}),
            "alias",
        ),
        (
            json!({"analyzers": {"default": {}}, "by_field": "lang", "alias_mapping": {}}),
            "alias_mapping",
        ),
        (json!([]), "object"),
    ];
    for (params, mentions) in cases {
        let e = MultiAnalyzer::from_params(&params).unwrap_err();
        assert_eq!(e.code(), 6);
        assert!(e.to_string().contains(mentions), "{params}: {e}");
    }
    assert!(
        MultiAnalyzer::from_json(r#"{"analyzers": {"default": {}}, "by_field": "lang"}"#).is_ok()
    );
}

// ---- term ids ----

/// Frozen values: stored sparse vectors hold these ids. They are the Milvus server's
/// (`typeutil.HashString2LessUint32`: CRC-32 IEEE of the first 100 bytes, modulo 2^32 - 1), computed here
/// independently with Python's `zlib.crc32(token.encode()[:100]) % 0xFFFFFFFF`.
#[test]
fn term_ids_are_the_servers_crc32_of_the_first_100_bytes() {
    assert_eq!(term_id(""), 0);
    assert_eq!(term_id("a"), 3904355907);
    assert_eq!(term_id("python"), 2765404344);
    assert_eq!(term_id("milvus"), 725768567);
    assert_eq!(term_id("数据库"), 350907895);
    assert_eq!(term_id("databas"), 1347213360);
    assert_eq!(term_id("héllo"), 2654700086);
    assert_eq!(term_id(" "), 3916222277);
    // Only the first 100 bytes count, even when the cut falls inside a character (中 is 3 bytes).
    assert_eq!(term_id(&"x".repeat(150)), 1577999759);
    assert_eq!(term_id(&"x".repeat(150)), term_id(&"x".repeat(100)));
    assert_eq!(term_id(&"中".repeat(40)), 2286246091);
    assert_eq!(term_id(&"中".repeat(40)), term_id(&"中".repeat(34)));
}
