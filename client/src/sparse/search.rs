//! Top-k search over an index section: exhaustive term-at-a-time scoring, and document-at-a-time
//! block-max MaxScore, which returns the same hits with the same scores while skipping what cannot
//! reach the top k.
//!
//! Exactness. Every search scores a row as the sum, in the query's term order, of one `f32`
//! contribution per query term that holds it (`Scoring::contribution`), so all searches (and
//! `Scoring::score` over a stored row) agree bit for bit. Hits are ordered by score, then by lower
//! row; only rows scoring above 0 are hits. The pruned search visits rows in ascending order, so a
//! row enters the current top k only if it scores strictly above the k-th score `theta` (a tie
//! loses to the lower row already held). It skips a row, or a run of rows, only when an upper bound
//! of their score is at most `theta`. Bounds are computed in `f64` from stored maxima that are at
//! least every value they cover and widened by `slack`, so they are at least the `f32` score (whose
//! rounding they cover); so no skipped row could have entered, and the result is exact.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::bm25::{term_factor_f64, Bm25Params};
use super::bytes::corrupt;
use super::index::{Postings, SparseIndexView, SparseMetric, SECTION};
use super::query::Scoring;
use super::vector::SparseRef;
use crate::error::{Error, Result};

/// A cursor's row once it has passed its last posting (rows are below `n` < 2^32 - 1).
const END: u32 = u32::MAX;

/// `bound`, widened to cover the rounding of an `f32` score summed over `terms` contributions, can
/// exceed `theta`. Each contribution is within a few `f32` ulps (2^-24 relative each) of its real
/// value, and a sum of `terms` non-negative values within `terms` ulps; the margin is several
/// times both.
fn beats(bound: f64, theta: f32, terms: usize) -> bool {
    bound * (1.0 + 1e-5 + terms as f64 * 2.5e-7) > f64::from(theta)
}

/// Upper bounds of a term's contributions from stored maxima, for one query.
#[derive(Clone, Copy)]
enum Bounder {
    Ip,
    /// With `ratio` when the search's `k1` and `b` are the ones the stored BM25 maxima were computed
    /// with: the term factor at mean length `avgdl` is at most `ratio = max(1, avgdl / part_avgdl)`
    /// times the one at the part's mean length (it grows with the mean length, at most in
    /// proportion). Otherwise only the bound from the largest frequency and the shortest document
    /// (the factor grows with the frequency and falls with the length).
    Bm25 {
        params: Bm25Params,
        avgdl: f64,
        ratio: Option<f64>,
    },
}

impl Bounder {
    fn new(index: &SparseIndexView, scoring: Scoring) -> Result<Bounder> {
        match (index.metric(), scoring) {
            (SparseMetric::Ip, Scoring::Ip) => Ok(Bounder::Ip),
            (SparseMetric::Bm25(stored), Scoring::Bm25 { params, avgdl }) => {
                let (avgdl, part) = (f64::from(avgdl), f64::from(index.part_avgdl()));
                Ok(Bounder::Bm25 {
                    params,
                    avgdl,
                    ratio: (stored == params).then_some((avgdl / part).max(1.0)),
                })
            }
            (metric, _) => Err(Error::invalid(format!(
                "the sparse index was built for metric {}, the search asks for the other; \
                 SPARSE_INVERTED_INDEX serves the metric it was created with",
                metric.name()
            ))),
        }
    }

    /// Bound of `weight` times any value covered by `max` (the largest value or frequency),
    /// `min_len` (the shortest document) and `max_score` (the largest stored term factor).
    fn bound(&self, weight: f32, max: f32, min_len: f32, max_score: f32) -> f64 {
        let w = f64::from(weight);
        match *self {
            Bounder::Ip => w * f64::from(max),
            Bounder::Bm25 {
                params,
                avgdl,
                ratio,
            } => {
                let wide = term_factor_f64(f64::from(max), f64::from(min_len), params, avgdl);
                w * ratio.map_or(wide, |r| wide.min(f64::from(max_score) * r))
            }
        }
    }
}

/// A hit in the top-k heap; greater = worse (lower score, or the same score and a higher row), so
/// the heap's top is the one to drop.
#[derive(Clone, Copy, Debug)]
struct Hit {
    score: f32,
    row: u32,
}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.row.cmp(&other.row))
    }
}
impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Hit {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Hit {}

/// The best `k` hits offered so far.
struct TopK {
    k: usize,
    heap: BinaryHeap<Hit>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// A row must score above this to be a hit: the k-th score once there are k, else 0.
    fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() == self.k => worst.score,
            _ => 0.0,
        }
    }

    fn offer(&mut self, row: u32, score: f32) {
        if self.k == 0 || score.partial_cmp(&0.0) != Some(Ordering::Greater) {
            return;
        }
        let hit = Hit { score, row };
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if self.heap.peek().is_some_and(|worst| hit < *worst) {
            self.heap.pop();
            self.heap.push(hit);
        }
    }

    fn into_hits(self) -> Vec<(u32, f32)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|h| (h.row, h.score))
            .collect()
    }
}

/// A query term found in the index: its weight and postings.
struct Term<'a> {
    weight: f32,
    postings: Postings<'a>,
}

/// The query's terms that can contribute (weight above 0, present in the index), in query order.
fn terms<'a>(index: &SparseIndexView<'a>, query: SparseRef) -> Result<Vec<Term<'a>>> {
    query.validate()?;
    let mut found = Vec::new();
    for (term, weight) in query.iter() {
        if weight > 0.0 {
            if let Some(t) = index.find(term) {
                found.push(Term {
                    weight,
                    postings: index.postings(t)?,
                });
            }
        }
    }
    Ok(found)
}

/// The contribution of a posting, its stored value and (BM25) row length checked first.
#[inline]
fn contribution(
    index: &SparseIndexView,
    scoring: &Scoring,
    weight: f32,
    row: u32,
    value: f32,
) -> Result<f32> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(corrupt(SECTION, format!("row {row} holds a damaged value")));
    }
    Ok(scoring.contribution(weight, value, index.doc_len(row)?))
}

/// A row read from a posting list: below `n`, and above the one read before it (`previous`).
#[inline]
fn checked_row(row: u32, previous: Option<u32>, n: usize) -> Result<u32> {
    if row as usize >= n || previous.is_some_and(|p| row <= p) {
        return Err(corrupt(
            SECTION,
            format!("a posting list holds row {row} out of order or past the {n} rows"),
        ));
    }
    Ok(row)
}

/// Per-thread buffers of the exhaustive search: a score per row, and which rows this query touched
/// (`stamp[row] == epoch`).
#[derive(Default)]
struct Accumulator {
    scores: Vec<f32>,
    stamp: Vec<u32>,
    epoch: u32,
    touched: Vec<u32>,
}

thread_local! {
    static ACCUMULATOR: RefCell<Accumulator> = RefCell::new(Accumulator::default());
}

pub(crate) fn exhaustive(
    index: &SparseIndexView,
    query: SparseRef,
    scoring: Scoring,
    k: usize,
    filter: Option<&dyn Fn(u32) -> bool>,
) -> Result<Vec<(u32, f32)>> {
    Bounder::new(index, scoring)?;
    let terms = terms(index, query)?;
    let mut top = TopK::new(k);
    if k == 0 || terms.is_empty() {
        return Ok(Vec::new());
    }
    let n = index.len();
    let mut run = |acc: &mut Accumulator| -> Result<()> {
        if acc.scores.len() < n {
            acc.scores.resize(n, 0.0);
            acc.stamp.resize(n, 0);
        }
        acc.epoch = acc.epoch.wrapping_add(1);
        if acc.epoch == 0 {
            acc.stamp.fill(0);
            acc.epoch = 1;
        }
        acc.touched.clear();
        for term in &terms {
            let mut previous = None;
            for (&row, &value) in term.postings.docs.iter().zip(term.postings.values) {
                let row = checked_row(row, previous, n)?;
                previous = Some(row);
                let c = contribution(index, &scoring, term.weight, row, value)?;
                let r = row as usize;
                if acc.stamp[r] == acc.epoch {
                    acc.scores[r] += c;
                } else {
                    acc.stamp[r] = acc.epoch;
                    acc.scores[r] = c;
                    acc.touched.push(row);
                }
            }
        }
        for &row in &acc.touched {
            if filter.is_none_or(|f| f(row)) {
                top.offer(row, acc.scores[row as usize]);
            }
        }
        Ok(())
    };
    // A filter that itself searches would find the buffer borrowed; it gets a fresh one.
    ACCUMULATOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut acc) => run(&mut acc),
        Err(_) => run(&mut Accumulator::default()),
    })?;
    Ok(top.into_hits())
}

/// A query term's position in its postings, with what the pruned search needs of its blocks.
struct Cursor<'a> {
    p: Postings<'a>,
    weight: f32,
    /// Position in the query (the order contributions are summed in).
    slot: usize,
    /// Bound of this term's contribution to any row.
    bound: f64,
    pos: usize,
    /// `p.docs[pos]`, or `END`.
    row: u32,
    /// Whether a posting has been read (rows must then ascend).
    started: bool,
    /// First block whose last row is at least the latest shallow target.
    shallow: usize,
    /// The last block bound computed, `(block, bound)`.
    cached: (usize, f64),
    n: usize,
    block_size: usize,
}

impl<'a> Cursor<'a> {
    fn new(
        term: Term<'a>,
        slot: usize,
        bounder: &Bounder,
        index: &SparseIndexView,
    ) -> Result<Self> {
        let p = term.postings;
        let mut c = Cursor {
            bound: bounder.bound(term.weight, p.max, p.min_len, p.max_score),
            p,
            weight: term.weight,
            slot,
            pos: 0,
            row: END,
            started: false,
            shallow: 0,
            cached: (usize::MAX, 0.0),
            n: index.len(),
            block_size: index.block_size(),
        };
        c.load(0)?;
        Ok(c)
    }

    fn blocks(&self) -> usize {
        self.p.block_last.len()
    }

    fn load(&mut self, pos: usize) -> Result<()> {
        self.pos = pos;
        match self.p.docs.get(pos) {
            None => self.row = END,
            Some(&row) => {
                let previous = self.started.then_some(self.row);
                self.row = checked_row(row, previous, self.n)?;
                self.started = true;
            }
        }
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        self.load(self.pos + 1)
    }

    /// Moves to the first posting at or past `target`, skipping whole blocks by their last rows.
    fn seek(&mut self, target: u32) -> Result<()> {
        while self.row < target {
            let mut block = self.pos / self.block_size;
            while block < self.blocks() && self.p.block_last[block] < target {
                block += 1;
            }
            if block >= self.blocks() {
                return self.load(self.p.docs.len());
            }
            let start = (self.pos + 1).max(block * self.block_size);
            let end = ((block + 1) * self.block_size).min(self.p.docs.len());
            let skip = self.p.docs[start..end.max(start)].partition_point(|&r| r < target);
            // A damaged block may leave the row short of `target`; the loop moves on from it.
            self.load(start + skip)?;
        }
        Ok(())
    }

    /// The block holding the current posting (`row != END`).
    fn block(&self) -> usize {
        self.pos / self.block_size
    }

    /// The first block whose last row is at least `target` (`blocks()` if none); targets ascend.
    fn shallow_seek(&mut self, target: u32) -> usize {
        while self.shallow < self.blocks() && self.p.block_last[self.shallow] < target {
            self.shallow += 1;
        }
        self.shallow
    }

    /// Bound of this term's contribution to any row of `block` (0 past the last block).
    fn block_bound(&mut self, block: usize, bounder: &Bounder) -> f64 {
        if block >= self.blocks() {
            return 0.0;
        }
        if self.cached.0 != block {
            let p = &self.p;
            let bound = bounder.bound(
                self.weight,
                p.block_max[block],
                p.block_min_len.get(block).copied().unwrap_or(0.0),
                p.block_max_score.get(block).copied().unwrap_or(0.0),
            );
            self.cached = (block, bound);
        }
        self.cached.1
    }

    fn block_last(&self, block: usize) -> u32 {
        self.p.block_last[block]
    }

    fn value(&self) -> f32 {
        self.p.values[self.pos]
    }
}

pub(crate) fn pruned(
    index: &SparseIndexView,
    query: SparseRef,
    scoring: Scoring,
    k: usize,
    filter: Option<&dyn Fn(u32) -> bool>,
) -> Result<Vec<(u32, f32)>> {
    let bounder = Bounder::new(index, scoring)?;
    let terms = terms(index, query)?;
    if k == 0 || terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut cursors = terms
        .into_iter()
        .enumerate()
        .map(|(slot, term)| Cursor::new(term, slot, &bounder, index))
        .collect::<Result<Vec<_>>>()?;
    // Ascending bounds: a prefix whose bounds sum to at most `theta` is non-essential, since a row
    // found only in those lists cannot score above `theta`.
    cursors.sort_by(|a, b| a.bound.total_cmp(&b.bound).then(a.slot.cmp(&b.slot)));
    let m = cursors.len();
    let mut by_slot: Vec<usize> = (0..m).collect();
    by_slot.sort_by_key(|&i| cursors[i].slot);
    let mut prefix = vec![0.0f64; m + 1];
    for i in 0..m {
        prefix[i + 1] = prefix[i] + cursors[i].bound;
    }

    let mut top = TopK::new(k);
    let mut theta = 0.0f32;
    // Cursors before `first` are non-essential.
    let mut first = 0;
    let mut contrib = vec![0.0f32; m];
    // Block bounds of the non-essential cursors at the current row, and their prefix sums.
    let mut near = vec![0.0f64; m];
    let mut near_prefix = vec![0.0f64; m + 1];
    while first < m {
        let row = cursors[first..].iter().map(|c| c.row).min().unwrap_or(END);
        if row == END {
            break;
        }
        let mut bound = 0.0;
        for c in &mut cursors[first..] {
            if c.row == row {
                bound += c.block_bound(c.block(), &bounder);
            }
        }
        for i in 0..first {
            let block = cursors[i].shallow_seek(row);
            near[i] = cursors[i].block_bound(block, &bounder);
            near_prefix[i + 1] = near_prefix[i] + near[i];
            bound += near[i];
        }
        if !beats(bound, theta, m) {
            skip(&mut cursors, first, row, theta, m, &bounder, &near_prefix)?;
            continue;
        }
        if filter.is_none_or(|f| f(row)) {
            let mut partial = 0.0f64;
            for (i, c) in cursors.iter().enumerate().skip(first) {
                if c.row == row {
                    contrib[i] = contribution(index, &scoring, c.weight, row, c.value())?;
                    partial += f64::from(contrib[i]);
                }
            }
            // Non-essential terms, largest bound first, while the row can still beat `theta`.
            let mut alive = true;
            for i in (0..first).rev() {
                if !beats(partial + near_prefix[i + 1], theta, m) {
                    alive = false;
                    break;
                }
                if near[i] > 0.0 {
                    let c = &mut cursors[i];
                    c.seek(row)?;
                    if c.row == row {
                        contrib[i] = contribution(index, &scoring, c.weight, row, c.value())?;
                        partial += f64::from(contrib[i]);
                    }
                }
            }
            if alive {
                let score = by_slot.iter().fold(0.0f32, |s, &i| s + contrib[i]);
                if score > theta {
                    top.offer(row, score);
                    theta = top.threshold();
                }
            }
            contrib.fill(0.0);
        }
        for c in &mut cursors[first..] {
            if c.row == row {
                c.next()?;
            }
        }
        while first < m && !beats(prefix[first + 1], theta, m) {
            first += 1;
        }
    }
    Ok(top.into_hits())
}

/// The row at the essential cursors cannot beat `theta` on block bounds. If no row up to the end of
/// the shortest current block can either, jump every essential cursor past it; else step past
/// `row`.
fn skip(
    cursors: &mut [Cursor],
    first: usize,
    row: u32,
    theta: f32,
    m: usize,
    bounder: &Bounder,
    near_prefix: &[f64],
) -> Result<()> {
    let mut upto = END;
    for c in &cursors[first..] {
        if c.row != END {
            upto = upto.min(c.block_last(c.block()));
        }
    }
    for c in &cursors[..first] {
        if c.shallow < c.blocks() {
            upto = upto.min(c.block_last(c.shallow));
        }
    }
    // Every row in row..=upto lies in these blocks of the essential lists that reach it, and in
    // the non-essential lists' blocks found for `row`.
    let mut bound = near_prefix[first];
    for c in &mut cursors[first..] {
        if c.row <= upto {
            bound += c.block_bound(c.block(), bounder);
        }
    }
    let jump = !beats(bound, theta, m);
    for c in &mut cursors[first..] {
        if jump {
            c.seek(upto.saturating_add(1))?;
        } else if c.row == row {
            c.next()?;
        }
    }
    Ok(())
}
