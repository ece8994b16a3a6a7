//! The match index section (`enable_match=True` fields): what `text_match` and `phrase_match` answer from it
//! equals a brute-force reading of the analyzed rows; damaged sections are refused or answered with
//! `Corrupt`, never a panic.

mod sparse_support;

use covec::internals::text::{Analyzer, MatchIndexBuilder, MatchIndexView, MatchQuery, Token};
use covec::Error;
use proptest::prelude::*;
use sparse_support::{Aligned, Rng};

fn build(analyzer: &Analyzer, texts: &[&str]) -> Aligned {
    let mut b = MatchIndexBuilder::new();
    for t in texts {
        b.add_row(&analyzer.tokens(t)).unwrap();
    }
    Aligned::new(&b.finish().unwrap())
}

fn rows(bits: &[u64], n: usize) -> Vec<usize> {
    (0..n)
        .filter(|&r| bits[r / 64] >> (r % 64) & 1 == 1)
        .collect()
}

fn answer(index: &Aligned, n: usize, q: &MatchQuery) -> Vec<usize> {
    let view = MatchIndexView::from_bytes(index.bytes(), n).unwrap();
    rows(&view.matching(q).unwrap(), n)
}

/// Rows holding at least `m` of `terms` (a repeated term counted as often as repeated), from the tokens.
fn brute_any(docs: &[Vec<Token>], terms: &[String], m: usize) -> Vec<usize> {
    (0..docs.len())
        .filter(|&r| {
            let held = terms
                .iter()
                .filter(|t| docs[r].iter().any(|d| &d.text == *t))
                .count();
            !terms.is_empty() && held >= m.max(1)
        })
        .collect()
}

/// Rows holding the phrase exactly: a start `s` with every term at `s + (its query position - the first's)`.
fn brute_exact_phrase(docs: &[Vec<Token>], terms: &[(u32, String)]) -> Vec<usize> {
    let first = terms[0].0;
    (0..docs.len())
        .filter(|&r| {
            docs[r].iter().any(|start| {
                start.text == terms[0].1
                    && terms.iter().all(|(offset, term)| {
                        docs[r].iter().any(|d| {
                            &d.text == term
                                && d.position as i64 - start.position as i64
                                    == i64::from(*offset) - i64::from(first)
                        })
                    })
            })
        })
        .collect()
}

const DOCS: [&str; 8] = [
    "machine learning boosts efficiency",
    "learning machine learning",
    "deep learning machine",
    "machine deep learning models",
    "machine very deep learning",
    "the quick brown fox jumps over the lazy dog",
    "",
    "Machine-Learning, MACHINE learning!",
];

#[test]
fn text_match_is_any_token_and_minimum_should_match_counts_clauses() {
    let a = Analyzer::standard();
    let index = build(&a, &DOCS);
    let n = DOCS.len();
    let q = |text: &str, m: usize| answer(&index, n, &MatchQuery::text_match(&a, text, m));
    assert_eq!(q("efficiency", 1), [0]);
    assert_eq!(q("FOX efficiency", 1), [0, 5]);
    assert_eq!(q("machine", 1), [0, 1, 2, 3, 4, 7]);
    assert_eq!(q("deep models", 2), [3]);
    assert_eq!(q("deep models fox", 3), Vec::<usize>::new());
    // A repeated token is two clauses, as in Milvus's boolean query.
    assert_eq!(q("deep deep", 2), [2, 3, 4]);
    assert_eq!(q("nothing", 1), Vec::<usize>::new());
    assert_eq!(q("", 1), Vec::<usize>::new());
    assert_eq!(q("!!!", 1), Vec::<usize>::new());
}

#[test]
fn phrase_match_follows_milvus_and_tantivy() {
    let a = Analyzer::standard();
    let index = build(&a, &DOCS);
    let n = DOCS.len();
    let q = |text: &str, slop: u32| {
        answer(
            &index,
            n,
            &MatchQuery::phrase_match(&a, text, slop).unwrap(),
        )
    };
    assert_eq!(q("machine learning", 0), [0, 1, 7]);
    // Milvus's documented example: slop 1 lets one word stand between the terms.
    assert_eq!(q("machine learning", 1), [0, 1, 3, 7]);
    assert_eq!(q("machine learning", 2), [0, 1, 3, 4, 7]);
    // Order matters at any slop (tantivy's phrase query, which Milvus runs): "learning machine" in row 2
    // is not "machine learning".
    assert!(!q("machine learning", 10).contains(&2));
    assert_eq!(q("learning machine", 0), [1, 2, 7]);
    assert_eq!(q("quick fox", 1), [5]);
    assert_eq!(q("quick fox", 0), Vec::<usize>::new());
    // One token matches as text_match does.
    assert_eq!(q("deep", 0), [2, 3, 4]);
    assert_eq!(q("", 3), Vec::<usize>::new());
    // A phrase of stop words removed by the analyzer keeps the others' positions.
    let english = Analyzer::from_params(&serde_json::json!({"type": "english"})).unwrap();
    let index = build(&english, &DOCS);
    let phrase = MatchQuery::phrase_match(&english, "jumps over the lazy", 0).unwrap();
    assert_eq!(
        phrase,
        MatchQuery::Phrase {
            terms: vec![(0, "jump".into()), (1, "over".into()), (3, "lazi".into())],
            slop: 0
        }
    );
    assert_eq!(answer(&index, n, &phrase), [5]);
}

#[test]
fn jieba_positions_are_characters_and_phrases_match_chinese_text() {
    let a = Analyzer::from_params(&serde_json::json!({"type": "chinese"})).unwrap();
    let docs = ["用户订单表记录每个订单的金额", "订单用户表", "商品库存表"];
    let index = build(&a, &docs);
    let q = |text: &str, slop: u32| {
        answer(
            &index,
            docs.len(),
            &MatchQuery::phrase_match(&a, text, slop).unwrap(),
        )
    };
    let tokens: Vec<Vec<Token>> = docs.iter().map(|d| a.tokens(d)).collect();
    let MatchQuery::Phrase { terms, .. } = MatchQuery::phrase_match(&a, "用户订单", 0).unwrap()
    else {
        panic!("two tokens make a phrase");
    };
    assert_eq!(q("用户订单", 0), brute_exact_phrase(&tokens, &terms));
    assert_eq!(q("用户订单", 0), [0]);
    assert_eq!(
        answer(&index, docs.len(), &MatchQuery::text_match(&a, "订单", 1)),
        [0, 1]
    );
}

#[test]
fn an_empty_part_and_empty_rows_have_an_index() {
    let a = Analyzer::standard();
    let empty = build(&a, &[]);
    let view = MatchIndexView::from_bytes(empty.bytes(), 0).unwrap();
    assert_eq!((view.terms(), view.len()), (0, 0));
    assert!(view
        .matching(&MatchQuery::text_match(&a, "x", 1))
        .unwrap()
        .is_empty());
    let blank = build(&a, &["", "  "]);
    assert_eq!(
        answer(&blank, 2, &MatchQuery::text_match(&a, "x", 1)),
        Vec::<usize>::new()
    );
    // The row count must be the part's.
    assert!(matches!(
        MatchIndexView::wrap(blank.bytes(), 3),
        Err(Error::Corrupt { .. })
    ));
}

const VOCAB: [&str; 6] = ["alpha", "beta", "gamma", "delta", "eps", "zeta"];

fn random_text(rng: &mut Rng, words: u64) -> String {
    (0..rng.below(words + 1))
        .map(|_| VOCAB[rng.below(VOCAB.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matching_equals_brute_force(seed in any::<u64>(), m in 1usize..4, slop in 0u32..4) {
        let mut rng = Rng::new(seed);
        let a = Analyzer::standard();
        let texts: Vec<String> = (0..150).map(|_| random_text(&mut rng, 12)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let index = build(&a, &refs);
        let docs: Vec<Vec<Token>> = refs.iter().map(|t| a.tokens(t)).collect();
        let n = refs.len();
        for _ in 0..10 {
            let query = random_text(&mut rng, 4);
            let any = MatchQuery::text_match(&a, &query, m);
            let MatchQuery::Any { terms, .. } = &any else { unreachable!() };
            prop_assert_eq!(answer(&index, n, &any), brute_any(&docs, terms, m));
            let exact = MatchQuery::phrase_match(&a, &query, 0).unwrap();
            let sloppy = MatchQuery::phrase_match(&a, &query, slop).unwrap();
            let with_slop = answer(&index, n, &sloppy);
            // A text no index holds is judged by the same rule, from its tokens.
            for q in [&any, &exact, &sloppy] {
                let from_tokens: Vec<usize> = (0..n).filter(|&r| q.matches_tokens(&docs[r])).collect();
                prop_assert_eq!(from_tokens, answer(&index, n, q));
            }
            match &exact {
                MatchQuery::Phrase { terms, .. } => {
                    let exact_rows = answer(&index, n, &exact);
                    prop_assert_eq!(&exact_rows, &brute_exact_phrase(&docs, terms));
                    // More slop never loses a row, and a match holds every term.
                    prop_assert!(exact_rows.iter().all(|r| with_slop.contains(r)));
                    let words: Vec<String> = terms.iter().map(|(_, t)| t.clone()).collect();
                    let all = brute_any(&docs, &words, words.len());
                    prop_assert!(with_slop.iter().all(|r| all.contains(r)));
                }
                MatchQuery::Any { terms, .. } => {
                    prop_assert_eq!(with_slop, brute_any(&docs, terms, 1));
                }
            }
        }
    }

    #[test]
    fn damaged_sections_never_panic(seed in any::<u64>(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut rng = Rng::new(seed);
        let a = Analyzer::standard();
        let texts: Vec<String> = (0..40).map(|_| random_text(&mut rng, 8)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut bytes = {
            let mut b = MatchIndexBuilder::new();
            for t in &refs {
                b.add_row(&a.tokens(t)).unwrap();
            }
            b.finish().unwrap()
        };
        for (at, x) in flips {
            let len = bytes.len();
            bytes[at % len] ^= x;
        }
        let truncated = &bytes[..bytes.len() - cut % 3];
        let damaged = Aligned::new(truncated);
        let queries = [
            MatchQuery::text_match(&a, "alpha beta", 1),
            MatchQuery::text_match(&a, "alpha beta gamma", 2),
            MatchQuery::phrase_match(&a, "alpha beta", 0).unwrap(),
            MatchQuery::phrase_match(&a, "gamma alpha beta", 2).unwrap(),
        ];
        let damage = |e: &Error| matches!(e, Error::Corrupt { .. } | Error::NewerVersion { .. });
        match MatchIndexView::wrap(damaged.bytes(), refs.len()) {
            Ok(view) => {
                for q in &queries {
                    if let Err(e) = view.matching(q) {
                        prop_assert!(damage(&e), "{e}");
                    }
                }
                if let Err(e) = MatchIndexView::from_bytes(damaged.bytes(), refs.len()) {
                    prop_assert!(damage(&e), "{e}");
                }
            }
            Err(e) => prop_assert!(damage(&e), "{e}"),
        }
    }
}
