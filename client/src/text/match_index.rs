//! The match index section of one part's match-enabled VARCHAR field (`enable_match=True`): every analyzed
//! token of the part's rows with the rows that hold it and, per row, the token's positions. Built by the
//! writer at commit time ([`MatchIndexBuilder`]); `text_match` and `phrase_match` filters are answered from it
//! in place by every reader ([`MatchIndexView::matching`]), never by analyzing rows at query time.
//! docs/text.md ("Match index") gives the layout byte by byte and the matching rules (Milvus's, which are
//! tantivy's boolean and phrase queries).

use std::collections::HashMap;

use super::{Analyzer, Token};
use crate::error::{Error, Result};
use crate::sparse::bytes::{array, check_header, corrupt, put_all, u64_at};

const MAGIC: [u8; 8] = *b"CVECTXMI";
/// Changing the layout breaks databases: raise this and keep reading the old one.
const VERSION: u32 = 1;
const HEADER: u64 = 56;
const SECTION: &str = "text match index section";

/// Byte offsets of the arrays of a section with `terms` terms, `postings` postings, `positions`
/// positions and `bytes` bytes of term text; `None` past `u64` bytes.
struct Layout {
    term_off: u64,
    post_off: u64,
    pos_off: u64,
    docs: u64,
    positions: u64,
    term_bytes: u64,
    total: u64,
}

impl Layout {
    fn new(terms: u64, postings: u64, positions: u64, bytes: u64) -> Option<Layout> {
        let (t, p, q, b) = (
            u128::from(terms),
            u128::from(postings),
            u128::from(positions),
            u128::from(bytes),
        );
        let sizes = [8 * (t + 1), 8 * (t + 1), 8 * (p + 1), 4 * p, 4 * q, b];
        let mut at = u128::from(HEADER);
        let mut starts = [0u64; 6];
        for (start, size) in starts.iter_mut().zip(sizes) {
            *start = u64::try_from(at).ok()?;
            at += size;
        }
        let [term_off, post_off, pos_off, docs, positions, term_bytes] = starts;
        Some(Layout {
            term_off,
            post_off,
            pos_off,
            docs,
            positions,
            term_bytes,
            total: u64::try_from(at).ok()?,
        })
    }
}

/// One token's postings while building: (row, its positions), rows ascending.
type Building = Vec<(u32, Vec<u32>)>;

/// Collects a part's rows (in stored order) and writes their match index section.
#[derive(Default)]
pub struct MatchIndexBuilder {
    rows: u32,
    terms: HashMap<String, Building>,
}

impl MatchIndexBuilder {
    pub fn new() -> MatchIndexBuilder {
        MatchIndexBuilder::default()
    }

    /// Adds the next row's tokens (none for a null or empty text).
    pub fn add_row(&mut self, tokens: &[Token]) -> Result<()> {
        let row = self.rows;
        self.rows = row
            .checked_add(1)
            .ok_or_else(|| Error::invalid("a part holds fewer than 2^32 rows"))?;
        for token in tokens {
            let position = u32::try_from(token.position)
                .map_err(|_| Error::invalid("a text holds fewer than 2^32 token positions"))?;
            let postings = self.terms.entry(token.text.clone()).or_default();
            match postings.last_mut() {
                Some((r, positions)) if *r == row => positions.push(position),
                _ => postings.push((row, vec![position])),
            }
        }
        Ok(())
    }

    /// The section's bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        let mut terms: Vec<(String, Building)> = self.terms.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (_, postings) in &mut terms {
            for (_, positions) in postings.iter_mut() {
                // A tokenizer may give one token twice at one position (overlapping jieba words).
                positions.sort_unstable();
                positions.dedup();
            }
        }
        let t = terms.len() as u64;
        let p: u64 = terms.iter().map(|(_, ps)| ps.len() as u64).sum();
        let q: u64 = terms
            .iter()
            .flat_map(|(_, ps)| ps.iter())
            .map(|(_, pos)| pos.len() as u64)
            .sum();
        let b: u64 = terms.iter().map(|(term, _)| term.len() as u64).sum();
        let layout = Layout::new(t, p, q, b)
            .filter(|l| usize::try_from(l.total).is_ok())
            .ok_or_else(|| Error::invalid("the match index would not fit in memory"))?;
        let mut out = vec![0u8; layout.total as usize];
        out[..8].copy_from_slice(&MAGIC);
        put_all(&mut out, 8, [VERSION, 0, self.rows, 0]);
        put_all(&mut out, 24, [t, p, q, b]);
        let (mut term_at, mut post_at, mut pos_at) = (0u64, 0u64, 0u64);
        let mut term_off = Vec::with_capacity(terms.len() + 1);
        let mut post_off = Vec::with_capacity(terms.len() + 1);
        let mut pos_off = Vec::with_capacity(p as usize + 1);
        let mut docs = Vec::with_capacity(p as usize);
        let mut positions = Vec::with_capacity(q as usize);
        let mut text = Vec::with_capacity(b as usize);
        for (term, postings) in &terms {
            term_off.push(term_at);
            post_off.push(post_at);
            text.extend_from_slice(term.as_bytes());
            term_at += term.len() as u64;
            post_at += postings.len() as u64;
            for (row, row_positions) in postings {
                pos_off.push(pos_at);
                docs.push(*row);
                positions.extend_from_slice(row_positions);
                pos_at += row_positions.len() as u64;
            }
        }
        term_off.push(term_at);
        post_off.push(post_at);
        pos_off.push(pos_at);
        put_all(&mut out, layout.term_off, term_off);
        put_all(&mut out, layout.post_off, post_off);
        put_all(&mut out, layout.pos_off, pos_off);
        put_all(&mut out, layout.docs, docs);
        put_all(&mut out, layout.positions, positions);
        out[layout.term_bytes as usize..].copy_from_slice(&text);
        Ok(out)
    }
}

/// A `text_match` or `phrase_match` over one field, its query text already analyzed with the field's
/// analyzer. Rows are answered by [`MatchIndexView::matching`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchQuery {
    /// Rows holding at least `min_should_match` (at least 1) of `terms`, a repeated term counting as often
    /// as it is repeated (a boolean query of one optional clause per query token). No terms: no row.
    Any {
        terms: Vec<String>,
        min_should_match: usize,
    },
    /// Rows holding `terms` (query position, token; at least two, by position, stable) in that order, each
    /// at most `slop` positions further than the query puts it after the one before (tantivy's phrase
    /// query, which Milvus runs).
    Phrase {
        terms: Vec<(u32, String)>,
        slop: u32,
    },
}

impl MatchQuery {
    /// `text_match(field, query[, minimum_should_match=m])`: `query` analyzed by `analyzer`.
    pub fn text_match(analyzer: &Analyzer, query: &str, min_should_match: usize) -> MatchQuery {
        MatchQuery::Any {
            terms: analyzer.tokens(query).into_iter().map(|t| t.text).collect(),
            min_should_match: min_should_match.max(1),
        }
    }

    /// `phrase_match(field, query[, slop])`: `query` analyzed by `analyzer`. A query of one token (or
    /// none) matches as `text_match` does, as in Milvus.
    pub fn phrase_match(analyzer: &Analyzer, query: &str, slop: u32) -> Result<MatchQuery> {
        let tokens = analyzer.tokens(query);
        if tokens.len() <= 1 {
            return Ok(MatchQuery::Any {
                terms: tokens.into_iter().map(|t| t.text).collect(),
                min_should_match: 1,
            });
        }
        let mut terms = tokens
            .into_iter()
            .map(|t| {
                let position = u32::try_from(t.position)
                    .map_err(|_| Error::invalid("a phrase holds fewer than 2^32 positions"))?;
                Ok((position, t.text))
            })
            .collect::<Result<Vec<_>>>()?;
        terms.sort_by_key(|(position, _)| *position);
        Ok(MatchQuery::Phrase { terms, slop })
    }

    /// Whether one text, as `tokens`, matches: the rule `MatchIndexView::matching` applies to indexed rows,
    /// for a text no index holds (a field's default value, read by rows written before the field existed).
    pub fn matches_tokens(&self, tokens: &[Token]) -> bool {
        let positions = |term: &str| -> Vec<u32> {
            let mut p: Vec<u32> = tokens
                .iter()
                .filter(|t| t.text == term)
                .filter_map(|t| u32::try_from(t.position).ok())
                .collect();
            p.sort_unstable();
            p.dedup();
            p
        };
        match self {
            MatchQuery::Any {
                terms,
                min_should_match,
            } => {
                let held = terms.iter().filter(|t| !positions(t).is_empty()).count();
                !terms.is_empty() && held >= *min_should_match.max(&1)
            }
            MatchQuery::Phrase { terms, slop } => {
                let lists: Vec<Vec<u32>> = terms.iter().map(|(_, t)| positions(t)).collect();
                let refs: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
                !lists.iter().any(Vec::is_empty) && phrase_holds(terms, &refs, *slop)
            }
        }
    }
}

/// A match index section read in place. Matching never panics and never reads outside the section,
/// whatever its bytes: `wrap` checks the header and the array lengths, matching checks every range and
/// every row and position it reads, and damage it meets is `Error::Corrupt`.
#[derive(Clone, Copy)]
pub struct MatchIndexView<'a> {
    n: usize,
    term_off: &'a [u64],
    post_off: &'a [u64],
    pos_off: &'a [u64],
    docs: &'a [u32],
    positions: &'a [u32],
    term_bytes: &'a [u8],
}

/// One term's postings: `docs[i]` holds the term at positions `pos_off[i]..pos_off[i+1]` of the section's
/// positions.
struct Postings<'a> {
    docs: &'a [u32],
    pos_off: &'a [u64],
}

impl<'a> MatchIndexView<'a> {
    /// Checks the header and the array lengths (O(1)) for a part of `n` rows. `bytes` must start 8-byte
    /// aligned in memory (the db format places sections 64-byte aligned).
    pub fn wrap(bytes: &'a [u8], n: usize) -> Result<MatchIndexView<'a>> {
        check_header(
            bytes,
            SECTION,
            (&MAGIC, HEADER, VERSION),
            &[12, 20],
            Some(n),
        )?;
        let (t, p, q, b) = (
            u64_at(bytes, 24),
            u64_at(bytes, 32),
            u64_at(bytes, 40),
            u64_at(bytes, 48),
        );
        let layout = Layout::new(t, p, q, b)
            .filter(|l| l.total == bytes.len() as u64)
            .ok_or_else(|| {
                corrupt(
                    SECTION,
                    format!(
                        "the section has {} bytes, not what {t} terms, {p} postings, {q} positions and \
                         {b} bytes of terms need",
                        bytes.len()
                    ),
                )
            })?;
        let view = MatchIndexView {
            n,
            term_off: array(bytes, layout.term_off, t + 1, SECTION)?,
            post_off: array(bytes, layout.post_off, t + 1, SECTION)?,
            pos_off: array(bytes, layout.pos_off, p + 1, SECTION)?,
            docs: array(bytes, layout.docs, p, SECTION)?,
            positions: array(bytes, layout.positions, q, SECTION)?,
            term_bytes: &bytes[layout.term_bytes as usize..],
        };
        let (t, p) = (t as usize, p as usize);
        if view.term_off[0] != 0
            || view.term_off[t] != b
            || view.post_off[0] != 0
            || view.post_off[t] != p as u64
            || view.pos_off[0] != 0
            || view.pos_off[p] != q
        {
            return Err(corrupt(
                SECTION,
                "offsets do not span the terms, postings and positions",
            ));
        }
        Ok(view)
    }

    /// `wrap` and a check of every word: terms UTF-8 and strictly ascending; every term's postings
    /// non-empty with rows ascending and below `n`; every posting's positions non-empty and ascending.
    pub fn from_bytes(bytes: &'a [u8], n: usize) -> Result<MatchIndexView<'a>> {
        let view = MatchIndexView::wrap(bytes, n)?;
        let mut previous: Option<&[u8]> = None;
        for t in 0..view.terms() {
            let term = view.term(t)?;
            if std::str::from_utf8(term).is_err() || previous.is_some_and(|p| p >= term) {
                return Err(corrupt(
                    SECTION,
                    "terms are not UTF-8 in strictly ascending order",
                ));
            }
            previous = Some(term);
            let postings = view.postings(t)?;
            for i in 0..postings.docs.len() {
                view.positions_of(&postings, i)?;
            }
        }
        Ok(view)
    }

    /// Distinct tokens.
    pub fn terms(&self) -> usize {
        self.term_off.len() - 1
    }

    /// Rows the index covers (the part's rows).
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Term `t`'s bytes.
    fn term(&self, t: usize) -> Result<&'a [u8]> {
        let (start, end) = (self.term_off[t], self.term_off[t + 1]);
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .filter(|(s, e)| s <= e)
            .and_then(|(s, e)| self.term_bytes.get(s..e))
            .ok_or_else(|| corrupt(SECTION, format!("term {t} has a malformed byte range")))
    }

    /// The position of `token` in the term directory (binary search over the stored bytes).
    fn find(&self, token: &str) -> Result<Option<usize>> {
        let (mut lo, mut hi) = (0, self.terms());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.term(mid)?.cmp(token.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(mid)),
            }
        }
        Ok(None)
    }

    /// Term `t`'s postings, their range checked and their rows ascending and below `n`.
    fn postings(&self, t: usize) -> Result<Postings<'a>> {
        let (start, end) = (self.post_off[t], self.post_off[t + 1]);
        if start >= end || end > self.docs.len() as u64 {
            return Err(corrupt(
                SECTION,
                format!("term {t} has a malformed posting range"),
            ));
        }
        let (start, end) = (start as usize, end as usize);
        let docs = &self.docs[start..end];
        if docs.windows(2).any(|w| w[0] >= w[1]) || docs[docs.len() - 1] as usize >= self.n {
            return Err(corrupt(
                SECTION,
                format!("term {t} lists rows out of order or past the part's rows"),
            ));
        }
        Ok(Postings {
            docs,
            pos_off: &self.pos_off[start..=end],
        })
    }

    /// The positions of the `i`-th posting, checked non-empty and strictly ascending.
    fn positions_of(&self, postings: &Postings<'a>, i: usize) -> Result<&'a [u32]> {
        let (start, end) = (postings.pos_off[i], postings.pos_off[i + 1]);
        let positions = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .filter(|(s, e)| s < e)
            .and_then(|(s, e)| self.positions.get(s..e))
            .ok_or_else(|| corrupt(SECTION, "a posting has a malformed position range"))?;
        if positions.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt(SECTION, "a posting's positions are not ascending"));
        }
        Ok(positions)
    }

    /// The rows `query` matches, as a bitmap of `n` bits (bit `r % 64` of word `r / 64`).
    pub fn matching(&self, query: &MatchQuery) -> Result<Vec<u64>> {
        let mut bits = vec![0u64; self.n.div_ceil(64)];
        match query {
            MatchQuery::Any {
                terms,
                min_should_match,
            } => self.match_any(terms, *min_should_match, &mut bits)?,
            MatchQuery::Phrase { terms, slop } => self.match_phrase(terms, *slop, &mut bits)?,
        }
        Ok(bits)
    }

    fn match_any(&self, terms: &[String], min_should_match: usize, bits: &mut [u64]) -> Result<()> {
        let mut found = Vec::with_capacity(terms.len());
        for term in terms {
            if let Some(t) = self.find(term)? {
                found.push(self.postings(t)?);
            }
        }
        if min_should_match <= 1 {
            for postings in &found {
                for &row in postings.docs {
                    set(bits, row);
                }
            }
            return Ok(());
        }
        if found.len() < min_should_match {
            return Ok(());
        }
        let mut counts = vec![0u32; self.n];
        for postings in &found {
            for &row in postings.docs {
                counts[row as usize] += 1;
            }
        }
        for (row, &count) in counts.iter().enumerate() {
            if count as usize >= min_should_match {
                set(bits, row as u32);
            }
        }
        Ok(())
    }

    fn match_phrase(&self, terms: &[(u32, String)], slop: u32, bits: &mut [u64]) -> Result<()> {
        let mut postings = Vec::with_capacity(terms.len());
        for (_, term) in terms {
            match self.find(term)? {
                Some(t) => postings.push(self.postings(t)?),
                None => return Ok(()),
            }
        }
        // Rows holding every term: walk the rarest term's rows, find each in the others (their rows ascend,
        // so each search starts where the previous one ended).
        let rarest = (0..postings.len())
            .min_by_key(|&i| postings[i].docs.len())
            .unwrap_or(0);
        let mut cursors = vec![0usize; postings.len()];
        let mut lists: Vec<&[u32]> = Vec::with_capacity(postings.len());
        'rows: for &row in postings[rarest].docs {
            for (i, p) in postings.iter().enumerate() {
                let from = cursors[i];
                let at = from + p.docs[from..].partition_point(|&d| d < row);
                cursors[i] = at;
                if p.docs.get(at) != Some(&row) {
                    continue 'rows;
                }
            }
            lists.clear();
            for (p, &at) in postings.iter().zip(&cursors) {
                lists.push(self.positions_of(p, at)?);
            }
            if phrase_holds(terms, &lists, slop) {
                set(bits, row);
            }
        }
        Ok(())
    }
}

/// Whether one row holding the phrase's `terms` at `positions` (per term, ascending) matches it. Each term's
/// positions are shifted by (last query position - its query position): an exact phrase puts every term at
/// one shifted position; with `slop`, `within_slop` chains the terms in query order.
fn phrase_holds(terms: &[(u32, String)], positions: &[&[u32]], slop: u32) -> bool {
    let Some(last) = terms.iter().map(|(offset, _)| *offset).max() else {
        return false;
    };
    let shifted = |i: usize| -> Vec<u32> {
        let shift = last - terms[i].0;
        positions[i]
            .iter()
            .map(|&p| p.saturating_add(shift))
            .collect()
    };
    let mut chain = shifted(0);
    let mut next = Vec::new();
    for i in 1..terms.len() {
        let right = shifted(i);
        if slop == 0 {
            chain.retain(|p| right.binary_search(p).is_ok());
        } else {
            next.clear();
            within_slop(&chain, &right, slop, &mut next);
            std::mem::swap(&mut chain, &mut next);
        }
        if chain.is_empty() {
            return false;
        }
    }
    !chain.is_empty()
}

/// One step of a sloppy phrase: from the previous term's matched positions `left` and the next term's
/// positions `right` (both ascending), the positions of `right` that follow a match of `left` by at most
/// `slop` (0 <= right - left <= slop), each left position used at most once, the latest that fits (the
/// rule of tantivy's phrase scorer, so that covec and Milvus match the same rows).
fn within_slop(left: &[u32], right: &[u32], slop: u32, out: &mut Vec<u32>) {
    let (mut l, mut r) = (0, 0);
    while l < left.len() && r < right.len() {
        let (lv, rv) = (left[l], right[r]);
        if lv < rv.saturating_sub(slop) {
            l += 1;
        } else if lv <= rv {
            while l + 1 < left.len() && left[l + 1] <= rv {
                l += 1;
            }
            out.push(rv);
            l += 1;
            r += 1;
        } else {
            r += 1;
        }
    }
}

fn set(bits: &mut [u64], row: u32) {
    bits[row as usize / 64] |= 1 << (row % 64);
}

#[cfg(test)]
mod tests {
    use super::within_slop;

    fn slop(left: &[u32], right: &[u32], s: u32) -> Vec<u32> {
        let mut out = Vec::new();
        within_slop(left, right, s, &mut out);
        out
    }

    /// The sloppy step keeps order (a later term may not come before an earlier one) and uses each
    /// earlier position once.
    #[test]
    fn a_sloppy_step_follows_order_and_distance() {
        assert_eq!(slop(&[1], &[2], 1), [2]);
        assert_eq!(slop(&[1], &[3], 1), [0u32; 0]);
        assert_eq!(slop(&[1], &[3], 2), [3]);
        assert_eq!(slop(&[2], &[1], 5), [0u32; 0]);
        assert_eq!(slop(&[5, 7, 11], &[1, 5, 10, 12], 1), [5, 12]);
        assert_eq!(slop(&[1, 5, 6, 9, 10, 12], &[6, 8, 9, 12], 10), [6, 9, 12]);
        assert_eq!(slop(&[1, 3, 5], &[2, 4, 6], 1), [2, 4, 6]);
        assert_eq!(slop(&[1, 2], &[1], 1), [1]);
    }
}
