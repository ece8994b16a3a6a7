//! The inverted index section of one part's sparse field: per term, its postings (row, value) in row
//! order, cut into blocks of `BLOCK` postings with each block's last row and score bounds. Built by
//! the writer at commit time ([`build_index`]); searched in place by every reader
//! ([`SparseIndexView`]). docs/sparse.md gives the layout byte by byte.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::bm25::{avgdl, doc_len, not_frequencies, term_factor, Bm25Params, Bm25Stats};
use super::bytes::{array, check_header, corrupt, f32_at, put_all, put_at, u32_at, u64_at};
use super::column::SparseColumnView;
use super::query::Scoring;
use super::search;
use super::vector::SparseRef;
use crate::error::{Error, Result};

/// Postings per block. A block's bounds let a search skip it whole.
pub const BLOCK: usize = 128;

const MAGIC: [u8; 8] = *b"CVECSPIX";
/// Changing the layout breaks databases: raise this and keep reading the old one.
const VERSION: u32 = 1;
const HEADER: u64 = 64;
pub(crate) const SECTION: &str = "sparse inverted index section";
/// Largest block size a reader accepts (the writer uses `BLOCK`).
const MAX_BLOCK: u32 = 1 << 16;

// Stored metric codes. Changing them breaks databases.
const METRIC_IP: u32 = 0;
const METRIC_BM25: u32 = 1;

/// What an index scores: inner product, or BM25 with the `k1` and `b` its bounds were built for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SparseMetric {
    Ip,
    Bm25(Bm25Params),
}

impl SparseMetric {
    pub fn name(self) -> &'static str {
        match self {
            SparseMetric::Ip => "IP",
            SparseMetric::Bm25(_) => "BM25",
        }
    }
}

/// Byte offsets of every array for a section of `n` rows, `terms` terms, `postings` postings and
/// `blocks` blocks; BM25 sections hold four more arrays. `None` past `u64` bytes.
struct Layout {
    post_off: u64,
    term_ids: u64,
    block_off: u64,
    term_max: u64,
    term_min_len: u64,
    term_max_score: u64,
    block_last: u64,
    block_max: u64,
    block_min_len: u64,
    block_max_score: u64,
    doc_len: u64,
    docs: u64,
    values: u64,
    total: u64,
}

impl Layout {
    fn new(bm25: bool, n: u64, terms: u64, postings: u64, blocks: u64) -> Option<Layout> {
        let (n, t, p, b) = (
            u128::from(n),
            u128::from(terms),
            u128::from(postings),
            u128::from(blocks),
        );
        let x = u128::from(bm25);
        let sizes = [
            8 * (t + 1),
            4 * t,
            4 * (t + 1),
            4 * t,
            4 * t * x,
            4 * t * x,
            4 * b,
            4 * b,
            4 * b * x,
            4 * b * x,
            4 * n * x,
            4 * p,
            4 * p,
        ];
        let mut at = u128::from(HEADER);
        let mut starts = [0u64; 13];
        for (start, size) in starts.iter_mut().zip(sizes) {
            *start = u64::try_from(at).ok()?;
            at += size;
        }
        let [post_off, term_ids, block_off, term_max, term_min_len, term_max_score, block_last, block_max, block_min_len, block_max_score, doc_len, docs, values] =
            starts;
        Some(Layout {
            post_off,
            term_ids,
            block_off,
            term_max,
            term_min_len,
            term_max_score,
            block_last,
            block_max,
            block_min_len,
            block_max_score,
            doc_len,
            docs,
            values,
            total: u64::try_from(at).ok()?,
        })
    }
}

/// A fast hash for `u32` term ids (the build's only hash map; term ids are not attacker-chosen keys
/// that could matter: the writer indexes its own rows).
#[derive(Default)]
struct TermHasher(u64);

impl Hasher for TermHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }
    fn write_u32(&mut self, x: u32) {
        self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type TermMap<V> = HashMap<u32, V, BuildHasherDefault<TermHasher>>;

/// Builds the index section over a part's column. Rows must follow `SparseRef::validate_stored`;
/// for BM25 their values must be term frequencies (whole numbers). Entries whose value is 0 add nothing to any
/// score and are left out of the postings.
pub fn build_index(column: &SparseColumnView, metric: SparseMetric) -> Result<Vec<u8>> {
    let n = column.len();
    let bm25 = match metric {
        SparseMetric::Ip => None,
        SparseMetric::Bm25(params) => Some(params),
    };
    // Pass 1: check rows, count each term's postings, measure BM25 lengths.
    let mut counts: TermMap<u64> = TermMap::default();
    let mut lens: Vec<u64> = Vec::with_capacity(if bm25.is_some() { n } else { 0 });
    for i in 0..n {
        let row = column.row(i)?;
        row.validate_stored()?;
        if bm25.is_some() {
            lens.push(doc_len(row).ok_or_else(|| not_frequencies(i))?);
        }
        for (term, value) in row.iter() {
            if value > 0.0 {
                *counts.entry(term).or_default() += 1;
            }
        }
    }
    let mut terms: Vec<u32> = counts.keys().copied().collect();
    terms.sort_unstable();
    let mut post_off = Vec::with_capacity(terms.len() + 1);
    let mut block_off = Vec::with_capacity(terms.len() + 1);
    let (mut postings, mut blocks) = (0u64, 0u64);
    // From here `counts` maps a term to its position in `terms`.
    for (t, term) in terms.iter().enumerate() {
        let count = counts.insert(*term, t as u64).unwrap_or(0);
        post_off.push(postings);
        block_off.push(blocks);
        postings += count;
        blocks += count.div_ceil(BLOCK as u64);
    }
    post_off.push(postings);
    block_off.push(blocks);
    let blocks32 = u32::try_from(blocks)
        .map_err(|_| Error::invalid("a part's sparse index holds fewer than 2^32 blocks"))?;
    let layout = Layout::new(
        bm25.is_some(),
        n as u64,
        terms.len() as u64,
        postings,
        blocks,
    )
    .ok_or_else(|| Error::invalid("the sparse index would exceed 2^64 bytes"))?;
    let total_len = lens
        .iter()
        .try_fold(0u64, |sum, &l| sum.checked_add(l))
        .ok_or_else(|| Error::invalid("the part's documents hold more than 2^64 terms in all"))?;

    let mut out = vec![0u8; layout.total as usize];
    out[..8].copy_from_slice(&MAGIC);
    let code = if bm25.is_some() {
        METRIC_BM25
    } else {
        METRIC_IP
    };
    put_all(&mut out, 8, [VERSION, code, n as u32, terms.len() as u32]);
    put_all(&mut out, 24, [postings]);
    put_all(&mut out, 32, [blocks32, BLOCK as u32]);
    let (k1, b) = bm25.map_or((0.0, 0.0), |p| (p.k1, p.b));
    put_all(&mut out, 40, [k1, b]);
    put_all(&mut out, 48, [total_len]);
    put_all(&mut out, layout.post_off, post_off.iter().copied());
    put_all(&mut out, layout.term_ids, terms.iter().copied());
    put_all(
        &mut out,
        layout.block_off,
        block_off.iter().map(|&b| b as u32),
    );
    let doc_lens: Vec<f32> = lens.iter().map(|&l| l as f32).collect();
    put_all(&mut out, layout.doc_len, doc_lens.iter().copied());

    // Pass 2: postings, in row order within each term.
    let mut next: Vec<u64> = post_off[..terms.len()].to_vec();
    for i in 0..n {
        for (term, value) in column.row(i)?.iter() {
            if value > 0.0 {
                let t = counts[&term] as usize;
                put_at(&mut out, layout.docs, next[t] as usize, i as u32);
                put_at(&mut out, layout.values, next[t] as usize, value);
                next[t] += 1;
            }
        }
    }

    // Pass 3: block and term bounds, read back from the postings just written.
    let part_avgdl = avgdl(n as u64, total_len);
    for t in 0..terms.len() {
        let (start, end) = (post_off[t] as usize, post_off[t + 1] as usize);
        let mut term = Bounds::EMPTY;
        for (j, block_start) in (start..end).step_by(BLOCK).enumerate() {
            let mut block = Bounds::EMPTY;
            let block_end = (block_start + BLOCK).min(end);
            for p in block_start..block_end {
                let doc = u32_at(&out, (layout.docs as usize) + 4 * p);
                let value = f32_at(&out, (layout.values as usize) + 4 * p);
                let dl = doc_lens.get(doc as usize).copied().unwrap_or(0.0);
                let score = bm25.map_or(0.0, |params| term_factor(value, dl, params, part_avgdl));
                block.include(value, dl, score);
            }
            let last = u32_at(&out, (layout.docs as usize) + 4 * (block_end - 1));
            let at = block_off[t] as usize + j;
            put_at(&mut out, layout.block_last, at, last);
            put_at(&mut out, layout.block_max, at, block.max);
            if bm25.is_some() {
                put_at(&mut out, layout.block_min_len, at, block.min_len);
                put_at(&mut out, layout.block_max_score, at, block.max_score);
            }
            term.merge(block);
        }
        put_at(&mut out, layout.term_max, t, term.max);
        if bm25.is_some() {
            put_at(&mut out, layout.term_min_len, t, term.min_len);
            put_at(&mut out, layout.term_max_score, t, term.max_score);
        }
    }
    Ok(out)
}

/// The bounds a block (or a term) stores: its largest value, its shortest document and (BM25) its
/// largest term factor at the part's own mean length.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bounds {
    max: f32,
    min_len: f32,
    max_score: f32,
}

impl Bounds {
    const EMPTY: Bounds = Bounds {
        max: 0.0,
        min_len: f32::INFINITY,
        max_score: 0.0,
    };

    fn include(&mut self, value: f32, dl: f32, score: f32) {
        self.max = self.max.max(value);
        self.min_len = self.min_len.min(dl);
        self.max_score = self.max_score.max(score);
    }

    fn merge(&mut self, other: Bounds) {
        self.include(other.max, other.min_len, other.max_score);
    }
}

/// One term's postings and bounds, as a search reads them. Lengths agree (checked when taken):
/// `docs` and `values` hold the postings; block `j` covers postings `j*block..(j+1)*block`, its
/// last row is `block_last[j]`; the BM25 arrays are empty for IP.
#[derive(Clone, Copy)]
pub(crate) struct Postings<'a> {
    pub docs: &'a [u32],
    pub values: &'a [f32],
    pub block_last: &'a [u32],
    pub block_max: &'a [f32],
    pub block_min_len: &'a [f32],
    pub block_max_score: &'a [f32],
    pub max: f32,
    pub min_len: f32,
    pub max_score: f32,
}

/// An index section read in place. Searching it never panics and never reads outside the section,
/// whatever its bytes: `wrap` checks the header and array lengths, a search checks each term's
/// ranges and each posting it reads (row below `n`, rows ascending, values finite), and reports
/// damage it meets as `Error::Corrupt`.
#[derive(Clone, Copy)]
pub struct SparseIndexView<'a> {
    metric: SparseMetric,
    n: usize,
    block_size: usize,
    total_len: u64,
    post_off: &'a [u64],
    term_ids: &'a [u32],
    block_off: &'a [u32],
    term_max: &'a [f32],
    term_min_len: &'a [f32],
    term_max_score: &'a [f32],
    block_last: &'a [u32],
    block_max: &'a [f32],
    block_min_len: &'a [f32],
    block_max_score: &'a [f32],
    doc_len: &'a [f32],
    docs: &'a [u32],
    values: &'a [f32],
}

impl<'a> SparseIndexView<'a> {
    /// Checks the header and the array lengths (O(1)) for a part of `n` rows. `bytes` must start
    /// 8-byte aligned in memory (the db format places sections 64-byte aligned).
    pub fn wrap(bytes: &'a [u8], n: usize) -> Result<SparseIndexView<'a>> {
        check_header(
            bytes,
            SECTION,
            (&MAGIC, HEADER, VERSION),
            &[56, 60],
            Some(n),
        )?;
        let rows = u32_at(bytes, 16);
        let (k1, b, total_len) = (f32_at(bytes, 40), f32_at(bytes, 44), u64_at(bytes, 48));
        let metric = match u32_at(bytes, 12) {
            METRIC_IP if k1.to_bits() == 0 && b.to_bits() == 0 && total_len == 0 => {
                SparseMetric::Ip
            }
            METRIC_BM25 => SparseMetric::Bm25(
                Bm25Params::new(f64::from(k1), f64::from(b))
                    .map_err(|e| corrupt(SECTION, e.to_string()))?,
            ),
            code => {
                return Err(corrupt(
                    SECTION,
                    format!("unknown metric code {code} or IP with BM25 fields"),
                ))
            }
        };
        let terms = u64::from(u32_at(bytes, 20));
        let postings = u64_at(bytes, 24);
        let blocks = u64::from(u32_at(bytes, 32));
        let block_size = u32_at(bytes, 36);
        if !(1..=MAX_BLOCK).contains(&block_size) {
            return Err(corrupt(
                SECTION,
                format!("block size {block_size} is out of range"),
            ));
        }
        let bm25 = matches!(metric, SparseMetric::Bm25(_));
        let layout = Layout::new(bm25, rows.into(), terms, postings, blocks)
            .filter(|l| l.total == bytes.len() as u64)
            .ok_or_else(|| {
                corrupt(
                    SECTION,
                    format!(
                        "the section has {} bytes, not what {rows} rows, {terms} terms, {postings} \
                         postings and {blocks} blocks need",
                        bytes.len()
                    ),
                )
            })?;
        let x = u64::from(bm25);
        let (n64, t) = (u64::from(rows), terms);
        let view = SparseIndexView {
            metric,
            n,
            block_size: block_size as usize,
            total_len,
            post_off: array(bytes, layout.post_off, t + 1, SECTION)?,
            term_ids: array(bytes, layout.term_ids, t, SECTION)?,
            block_off: array(bytes, layout.block_off, t + 1, SECTION)?,
            term_max: array(bytes, layout.term_max, t, SECTION)?,
            term_min_len: array(bytes, layout.term_min_len, t * x, SECTION)?,
            term_max_score: array(bytes, layout.term_max_score, t * x, SECTION)?,
            block_last: array(bytes, layout.block_last, blocks, SECTION)?,
            block_max: array(bytes, layout.block_max, blocks, SECTION)?,
            block_min_len: array(bytes, layout.block_min_len, blocks * x, SECTION)?,
            block_max_score: array(bytes, layout.block_max_score, blocks * x, SECTION)?,
            doc_len: array(bytes, layout.doc_len, n64 * x, SECTION)?,
            docs: array(bytes, layout.docs, postings, SECTION)?,
            values: array(bytes, layout.values, postings, SECTION)?,
        };
        let t = t as usize;
        if view.post_off[0] != 0
            || view.post_off[t] != postings
            || view.block_off[0] != 0
            || u64::from(view.block_off[t]) != blocks
        {
            return Err(corrupt(
                SECTION,
                "term offsets do not span the postings and blocks",
            ));
        }
        Ok(view)
    }

    /// `wrap` and a check of every word: terms ascending; each term's postings non-empty, rows
    /// ascending and below `n`, values finite and above 0; every block's last row and bounds, every
    /// term's bounds, and (BM25) every document length and the total exactly what the writer
    /// computes from the postings. A section that passes is searched exactly (see `search`).
    pub fn from_bytes(bytes: &'a [u8], n: usize) -> Result<SparseIndexView<'a>> {
        let view = SparseIndexView::wrap(bytes, n)?;
        view.check_all()?;
        Ok(view)
    }

    fn check_all(&self) -> Result<()> {
        if self.term_ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt(SECTION, "terms are not in ascending order"));
        }
        let bm25 = match self.metric {
            SparseMetric::Bm25(params) => Some(params),
            SparseMetric::Ip => None,
        };
        if self.doc_len.iter().any(|&l| !(l >= 0.0 && l.is_finite())) {
            return Err(corrupt(
                SECTION,
                "a document length is not a finite number >= 0",
            ));
        }
        let part_avgdl = avgdl(self.n as u64, self.total_len);
        let mut lens = vec![0u64; if bm25.is_some() { self.n } else { 0 }];
        for t in 0..self.term_ids.len() {
            let p = self.postings(t)?;
            let mut term = Bounds::EMPTY;
            let mut previous: Option<u32> = None;
            for (j, (docs, values)) in p
                .docs
                .chunks(self.block_size)
                .zip(p.values.chunks(self.block_size))
                .enumerate()
            {
                let mut block = Bounds::EMPTY;
                for (&doc, &value) in docs.iter().zip(values) {
                    if doc as usize >= self.n || previous.is_some_and(|p| doc <= p) {
                        return Err(corrupt(
                            SECTION,
                            format!(
                                "term {} lists row {doc} out of order or past the rows",
                                self.term_ids[t]
                            ),
                        ));
                    }
                    if !(value > 0.0 && value.is_finite()) {
                        return Err(corrupt(
                            SECTION,
                            "a posting's value is not a finite number above 0",
                        ));
                    }
                    previous = Some(doc);
                    let dl = self.doc_len.get(doc as usize).copied().unwrap_or(0.0);
                    let score =
                        bm25.map_or(0.0, |params| term_factor(value, dl, params, part_avgdl));
                    block.include(value, dl, score);
                    if let Some(len) = lens.get_mut(doc as usize) {
                        if value.fract() != 0.0 || value >= 2f32.powi(63) {
                            return Err(corrupt(
                                SECTION,
                                "a BM25 term frequency is not a whole number",
                            ));
                        }
                        *len = len.saturating_add(value as u64);
                    }
                }
                let stored = Bounds {
                    max: p.block_max[j],
                    min_len: p.block_min_len.get(j).copied().unwrap_or(block.min_len),
                    max_score: p.block_max_score.get(j).copied().unwrap_or(block.max_score),
                };
                if p.block_last[j] != docs[docs.len() - 1] || !same_bounds(stored, block) {
                    return Err(corrupt(
                        SECTION,
                        format!("block {j} of term {} has wrong bounds", self.term_ids[t]),
                    ));
                }
                term.merge(block);
            }
            let stored = match bm25 {
                Some(_) => Bounds {
                    max: p.max,
                    min_len: p.min_len,
                    max_score: p.max_score,
                },
                None => Bounds { max: p.max, ..term },
            };
            if !same_bounds(stored, term) {
                return Err(corrupt(
                    SECTION,
                    format!("term {} has wrong bounds", self.term_ids[t]),
                ));
            }
        }
        if let Some(d) = (0..lens.len()).find(|&d| lens[d] as f32 != self.doc_len[d]) {
            return Err(corrupt(
                SECTION,
                format!("row {d}'s length is not the sum of its term frequencies"),
            ));
        }
        if bm25.is_some()
            && lens.iter().try_fold(0u64, |s, &l| s.checked_add(l)) != Some(self.total_len)
        {
            return Err(corrupt(
                SECTION,
                "the total length is not the sum of the rows' lengths",
            ));
        }
        Ok(())
    }

    pub fn metric(&self) -> SparseMetric {
        self.metric
    }

    /// Rows the index covers (the part's rows).
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Distinct terms with at least one posting.
    pub fn terms(&self) -> usize {
        self.term_ids.len()
    }

    /// Postings in all (entries with a value above 0).
    pub fn postings_len(&self) -> usize {
        self.docs.len()
    }

    /// Position of `term` in the term directory.
    pub(crate) fn find(&self, term: u32) -> Option<usize> {
        self.term_ids.binary_search(&term).ok()
    }

    /// Term `t`'s postings, its ranges checked against the arrays.
    pub(crate) fn postings(&self, t: usize) -> Result<Postings<'a>> {
        let (start, end) = (self.post_off[t], self.post_off[t + 1]);
        let (b_start, b_end) = (self.block_off[t] as usize, self.block_off[t + 1] as usize);
        let len = end.wrapping_sub(start);
        let blocks_ok = b_start <= b_end
            && b_end <= self.block_last.len()
            && (b_end - b_start) as u64 == len.div_ceil(self.block_size as u64);
        if start >= end || end > self.docs.len() as u64 || !blocks_ok {
            return Err(corrupt(
                SECTION,
                format!(
                    "term {} has malformed posting or block ranges",
                    self.term_ids[t]
                ),
            ));
        }
        let (start, end) = (start as usize, end as usize);
        let bm25 = |a: &'a [f32]| if a.is_empty() { a } else { &a[b_start..b_end] };
        Ok(Postings {
            docs: &self.docs[start..end],
            values: &self.values[start..end],
            block_last: &self.block_last[b_start..b_end],
            block_max: &self.block_max[b_start..b_end],
            block_min_len: bm25(self.block_min_len),
            block_max_score: bm25(self.block_max_score),
            max: self.term_max[t],
            min_len: self.term_min_len.get(t).copied().unwrap_or(f32::INFINITY),
            max_score: self.term_max_score.get(t).copied().unwrap_or(0.0),
        })
    }

    pub(crate) fn block_size(&self) -> usize {
        self.block_size
    }

    /// Row `doc`'s BM25 length (0 for IP); `doc < n`. A stored length that is not a finite number
    /// >= 0 is `Corrupt`.
    #[inline(always)]
    pub(crate) fn doc_len(&self, doc: u32) -> Result<f32> {
        match self.doc_len.get(doc as usize) {
            None => Ok(0.0),
            Some(&l) if l >= 0.0 && l.is_finite() => Ok(l),
            Some(_) => Err(corrupt(SECTION, format!("row {doc}'s length is damaged"))),
        }
    }

    /// The part's own mean document length (what its BM25 block bounds were computed with).
    pub(crate) fn part_avgdl(&self) -> f32 {
        avgdl(self.n as u64, self.total_len)
    }

    /// The `k` best rows for `query` by `scoring` (best first; ties by lower row), as
    /// `(row, score)`, only rows scoring above 0, only rows `filter` accepts. Exactly the top `k` of
    /// [`search_exhaustive`](Self::search_exhaustive), scores bit for bit, but it skips postings
    /// and whole windows of rows that cannot reach the current `k`-th score (windowed block-max
    /// MaxScore, docs/sparse.md). `query` must follow `SparseRef::validate_stored` (user input is
    /// checked by `SparseRef::validate` before); `scoring` must be the index's metric.
    pub fn search(
        &self,
        query: SparseRef,
        scoring: Scoring,
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        search::pruned(self, query, scoring, k, 0.0, filter)
    }

    /// The hits of [`search`](Self::search) that score at least `floor` (the best `k` rows reaching
    /// it), found sooner: a search over several parts passes the `k`-th score it already holds, so
    /// later parts skip more.
    pub fn search_at_least(
        &self,
        query: SparseRef,
        scoring: Scoring,
        k: usize,
        floor: f32,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        search::pruned(self, query, scoring, k, floor, filter)
    }

    /// [`search`](Self::search) by scoring every posting of every query term (term at a time):
    /// Milvus's TAAT_NAIVE, the reference the pruned search is measured against. Keeps a score
    /// per row of the part (8 bytes a row, per thread, reused).
    pub fn search_exhaustive(
        &self,
        query: SparseRef,
        scoring: Scoring,
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        search::exhaustive(self, query, scoring, k, filter)
    }

    /// This part's BM25 statistics for `terms`: its rows, their total length, and how many rows
    /// hold each term. Add the parts' and subtract their deleted rows' to get the collection's.
    pub fn stats_for(&self, terms: &[u32]) -> Result<Bm25Stats> {
        if !matches!(self.metric, SparseMetric::Bm25(_)) {
            return Err(Error::invalid(
                "corpus statistics exist for BM25 indexes only; this one is IP",
            ));
        }
        let mut df = BTreeMap::new();
        for &term in terms {
            if let Some(t) = self.find(term) {
                df.insert(term, self.postings(t)?.docs.len() as u64);
            }
        }
        Ok(Bm25Stats::from_counts(self.n as u64, self.total_len, df))
    }
}

/// Bitwise equality of stored and recomputed bounds (both come from the same `f32` operations).
fn same_bounds(a: Bounds, b: Bounds) -> bool {
    a.max.to_bits() == b.max.to_bits()
        && a.min_len.to_bits() == b.min_len.to_bits()
        && a.max_score.to_bits() == b.max_score.to_bits()
}
