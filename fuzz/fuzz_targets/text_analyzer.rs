//! Analyzer params and text: the bytes before the first NUL are `analyzer_params` (or `multi_analyzer_params`)
//! JSON, the rest is the text. Params may be refused; a built analyzer must tokenize any text without panicking,
//! with offsets that slice the text on character boundaries.
#![no_main]

use covec::internals::text::{term_id, Analyzer, MultiAnalyzer};
use libfuzzer_sys::fuzz_target;

fn check(analyzer: &Analyzer, text: &str) {
    for token in analyzer.tokens(text) {
        assert!(token.start <= token.end && token.end <= text.len(), "{token:?}");
        assert!(text.is_char_boundary(token.start) && text.is_char_boundary(token.end), "{token:?}");
        term_id(&token.text);
    }
}

fuzz_target!(|data: &[u8]| {
    let (params, text) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let params = String::from_utf8_lossy(params);
    let text = String::from_utf8_lossy(text);
    check(&Analyzer::standard(), &text);
    if let Ok(analyzer) = Analyzer::from_json(&params) {
        check(&analyzer, &text);
    }
    if let Ok(multi) = MultiAnalyzer::from_json(&params) {
        check(multi.analyzer(text.split_whitespace().next()), &text);
    }
});
