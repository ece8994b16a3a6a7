//! Top-k search over an index section: exhaustive term-at-a-time scoring, and a pruned search that
//! returns the same hits with the same scores while skipping what cannot reach the top k.
//!
//! The pruned search is windowed block-max MaxScore, the scheme of Lucene's MaxScoreBulkScorer.
//! Terms are ordered by the bound of their contribution to any row; while the bounds of a prefix of
//! them sum to at most the current k-th score `theta`, a row found only in those lists cannot
//! enter, so only the other terms ("essential") choose where the next window of `WINDOW` rows
//! starts. In the window, each term's bound is recomputed from the posting blocks that reach it and
//! the terms are split again: the window's essential terms are scored term at a time into a buffer
//! (in query order), and each row they hold is completed from the others, largest bound first,
//! only while its partial score plus their remaining bounds can still beat `theta`.
//!
//! Exactness. Every search scores a row as the sum, in the query's term order, of one `f32`
//! contribution per query term that holds it (`Scoring::contribution`), so all searches (and
//! `Scoring::score` over a stored row) agree bit for bit. Hits are ordered by score, then by lower
//! row; only rows scoring above 0, and at least the search's floor if it has one, are hits. Rows
//! are visited in ascending order, so a row enters the top k only if it scores strictly above
//! `theta` (a tie loses to the lower row already held; a floor starts `theta` at the largest `f32`
//! below it); a row is passed over only when a bound of its score is at most `theta`. Bounds are
//! computed in `f64` from stored maxima that are at least every value they cover, and widened by
//! `beats` to cover the `f32` rounding of the score, so no row passed over could have entered.

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

/// The best `k` hits offered so far that score at least a floor.
struct TopK {
    k: usize,
    heap: BinaryHeap<Hit>,
    /// A hit scores above this: 0, or the largest `f32` below the floor.
    below: f32,
}

impl TopK {
    /// `floor`: the score a hit must reach (0: any score above 0 will do).
    fn new(k: usize, floor: f32) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            below: below(floor),
        }
    }

    /// A row must score above this to be a hit: the k-th score once there are k, and at least the
    /// largest `f32` below the floor.
    fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() == self.k => worst.score.max(self.below),
            _ => self.below,
        }
    }

    fn offer(&mut self, row: u32, score: f32) {
        if self.k == 0 || score.partial_cmp(&self.below) != Some(Ordering::Greater) {
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

/// The largest `f32` below `floor` when it is above 0, else 0: for scores above 0,
/// `score > below(floor)` is `score >= floor`.
fn below(floor: f32) -> f32 {
    if floor > 0.0 {
        f32::from_bits(floor.to_bits() - 1)
    } else {
        0.0
    }
}

/// A query term found in the index: its weight and postings.
struct Term<'a> {
    weight: f32,
    postings: Postings<'a>,
}

/// A search's bounds and the query's terms that can contribute (weight above 0, present in the
/// index), in query order; `None` when there is nothing to find. Checks the query and the metric.
fn prepare<'a>(
    index: &SparseIndexView<'a>,
    query: SparseRef,
    scoring: Scoring,
    k: usize,
) -> Result<Option<(Bounder, Vec<Term<'a>>)>> {
    let bounder = Bounder::new(index, scoring)?;
    query.validate_stored()?;
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
    Ok((k > 0 && !found.is_empty()).then_some((bounder, found)))
}

/// The contribution of a posting, its stored value and (BM25) row length checked first.
#[inline(always)]
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
#[inline(always)]
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
    let Some((_, terms)) = prepare(index, query, scoring, k)? else {
        return Ok(Vec::new());
    };
    let mut top = TopK::new(k, 0.0);
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

/// The first posting of `p` at or after row `target`, searching from posting `from` (every posting
/// before `from` is below `target`): gallops over blocks by their last rows, then within the block
/// from its first posting not before `from` (most seeks move a few postings).
fn first_at_or_after(p: &Postings, bs: usize, target: u32, from: usize) -> usize {
    let blocks = p.block_last.len();
    let mut lo = from / bs;
    if lo >= blocks {
        return p.docs.len();
    }
    let mut step = 1;
    while lo + step < blocks && p.block_last[lo + step - 1] < target {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(blocks);
    let block = lo + p.block_last[lo..hi].partition_point(|&last| last < target);
    if block >= blocks {
        return p.docs.len();
    }
    let start = from.max(block * bs);
    let end = ((block + 1) * bs).min(p.docs.len()).max(start);
    gallop(&p.docs[..end], start, target)
}

/// The first of `docs[start..]` at or after `target` (ascending rows), probing `start`, then 2, 6,
/// 14, ... postings past it before a binary search of the last gap: O(log distance).
fn gallop(docs: &[u32], start: usize, target: u32) -> usize {
    // Every posting in `start..lo` is below `target`.
    let (mut lo, mut step) = (start, 1);
    let hi = loop {
        let probe = lo + step - 1;
        match docs.get(probe) {
            None => break docs.len(),
            Some(&row) if row >= target => break probe,
            Some(_) => (lo, step) = (probe + 1, step * 2),
        }
    };
    lo + docs[lo..hi].partition_point(|&r| r < target)
}

/// Rows per window of the pruned search (a query-time choice, not part of the layout).
const WINDOW: usize = 1024;

/// A set of a window's rows, iterated in ascending order.
#[derive(Clone, Copy)]
struct Rows([u64; WINDOW / 64]);

impl Rows {
    const EMPTY: Rows = Rows([0; WINDOW / 64]);

    fn insert(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let new = self.0[word] & bit == 0;
        self.0[word] |= bit;
        new
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }

    fn iter(self) -> impl Iterator<Item = usize> {
        self.0.into_iter().enumerate().flat_map(|(j, mut word)| {
            std::iter::from_fn(move || {
                (word != 0).then(|| {
                    let i = word.trailing_zeros() as usize;
                    word &= word - 1;
                    j * 64 + i
                })
            })
        })
    }
}

/// A query term's place in its postings during the pruned search.
struct Cursor<'a> {
    p: Postings<'a>,
    weight: f32,
    /// Bound of the term's contribution to any row.
    bound: f64,
    /// First posting not yet passed.
    pos: usize,
    /// The last block bound computed, `(block, bound)`.
    cached: (usize, f64),
}

impl Cursor<'_> {
    /// Moves to the first posting at or after `target`; its row, or `END`. Rows are checked below
    /// `n` and not below `target` (damaged block bounds could otherwise send the search back).
    fn seek(&mut self, target: u32, bs: usize, n: usize) -> Result<u32> {
        // Most seeks find the cursor already there (a window's scan left it past the window).
        if self.p.docs.get(self.pos).is_some_and(|&row| row < target) {
            self.pos = first_at_or_after(&self.p, bs, target, self.pos);
        }
        match self.p.docs.get(self.pos) {
            None => Ok(END),
            Some(&row) if (row as usize) < n && row >= target => Ok(row),
            Some(&row) => Err(corrupt(
                SECTION,
                format!("a posting list's blocks lead to row {row} while seeking row {target}"),
            )),
        }
    }

    /// Bound of the term's contribution to any of its rows from the current posting up to `last`:
    /// the largest bound of the blocks holding them.
    fn window_bound(&mut self, last: u32, bs: usize, bounder: &Bounder) -> f64 {
        let blocks = self.p.block_last.len();
        if self.pos >= self.p.docs.len() {
            return 0.0;
        }
        let mut block = self.pos / bs;
        let mut bound = self.block_bound(block, bounder);
        while block + 1 < blocks && self.p.block_last[block] < last {
            block += 1;
            bound = bound.max(self.block_bound(block, bounder));
        }
        bound
    }

    fn block_bound(&mut self, block: usize, bounder: &Bounder) -> f64 {
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
}

/// `bound` can lift a row above `theta`, once widened to cover the rounding of an `f32` score
/// summed over `terms` contributions. Each contribution is within a few `f32` ulps (2^-24 relative
/// each) of its real value, and a sum of `terms` non-negative values within `terms` more; the
/// margin is several times both.
fn beats(bound: f64, theta: f32, terms: usize) -> bool {
    bound * (1.0 + 1e-5 + terms as f64 * 2.5e-7) > f64::from(theta)
}

/// A non-essential term's postings in a window cost about this many postings' scoring per seek of
/// a candidate row: the window completes candidates by seeks only while they are cheaper.
const SEEK_COST: usize = 4;

/// Buffers for one window of rows `start..=last`.
struct Window {
    start: u32,
    /// Per term, its postings in the window: `begin[t]..end[t]`.
    begin: Vec<usize>,
    end: Vec<usize>,
    /// Candidates' sums in query order (`f32`) and in `f64` (for bounds).
    acc: Vec<f32>,
    part: Vec<f64>,
}

impl Window {
    fn new(terms: usize) -> Window {
        Window {
            start: 0,
            begin: vec![0; terms],
            end: vec![0; terms],
            acc: vec![0.0; WINDOW],
            part: vec![0.0; WINDOW],
        }
    }

    /// Adds `value` to row `i`'s sums (the first value sets them).
    fn add(&mut self, i: usize, value: f32, first: bool) {
        if first {
            self.acc[i] = value;
            self.part[i] = f64::from(value);
        } else {
            self.acc[i] += value;
            self.part[i] += f64::from(value);
        }
    }
}

/// The pruned search: windowed block-max MaxScore (see the module documentation), over the rows
/// scoring at least `floor` (0: every row scoring above 0). A floor, such as the k-th score other
/// parts already hold, starts `theta` high.
pub(crate) fn pruned(
    index: &SparseIndexView,
    query: SparseRef,
    scoring: Scoring,
    k: usize,
    floor: f32,
    filter: Option<&dyn Fn(u32) -> bool>,
) -> Result<Vec<(u32, f32)>> {
    let Some((bounder, terms)) = prepare(index, query, scoring, k)? else {
        return Ok(Vec::new());
    };
    let (n, bs, m) = (index.len(), index.block_size(), terms.len());
    let mut cursors: Vec<Cursor> = terms
        .iter()
        .map(|t| {
            let p = t.postings;
            Cursor {
                p,
                weight: t.weight,
                bound: bounder.bound(t.weight, p.max, p.min_len, p.max_score),
                pos: 0,
                cached: (usize::MAX, 0.0),
            }
        })
        .collect();
    // Terms by ascending bound. Rows found only in a prefix whose bounds sum to at most the k-th
    // score cannot enter; the terms from `lead` on choose where windows start.
    let mut by_bound: Vec<usize> = (0..m).collect();
    by_bound.sort_by(|&a, &b| cursors[a].bound.total_cmp(&cursors[b].bound));
    let mut prefix = vec![0.0f64; m + 1];
    for (i, &t) in by_bound.iter().enumerate() {
        prefix[i + 1] = prefix[i] + cursors[t].bound;
    }
    let mut lead = 0;

    let mut top = TopK::new(k, floor);
    // The window's bound per term, the terms by ascending window bound and its prefix sums, and
    // which terms are essential in the window.
    let mut bound = vec![0.0f64; m];
    let mut order: Vec<usize> = Vec::with_capacity(m);
    let mut low = vec![0.0f64; m + 1];
    let mut essential = vec![false; m];
    let mut w = Window::new(m);
    let mut base = 0u32;
    loop {
        let theta = top.threshold();
        while lead < m && !beats(prefix[lead + 1], theta, m) {
            lead += 1;
        }
        if lead == m {
            break;
        }
        let mut start = END;
        for &t in &by_bound[lead..] {
            start = start.min(cursors[t].seek(base, bs, n)?);
        }
        if start == END {
            break;
        }
        let last = start.saturating_add(WINDOW as u32 - 1).min(n as u32 - 1);
        for (t, c) in cursors.iter_mut().enumerate() {
            c.seek(start, bs, n)?;
            bound[t] = c.window_bound(last, bs, &bounder);
        }
        order.clear();
        order.extend(0..m);
        order.sort_by(|&a, &b| bound[a].total_cmp(&bound[b]));
        for (i, &t) in order.iter().enumerate() {
            low[i + 1] = low[i] + bound[t];
        }
        // order[..e] are non-essential in this window: together they cannot lift a row above the
        // k-th score.
        let theta = top.threshold();
        let mut e = 0;
        while e < m && !beats(low[e + 1], theta, m) {
            e += 1;
        }
        if e < m {
            for (i, &t) in order.iter().enumerate() {
                essential[t] = i >= e;
            }
            w.start = start;
            locate(&mut w, &cursors, last, bs);
            let (mut held, mut others) = (0, 0);
            for ((&begin, &end), &is_essential) in w.begin.iter().zip(&w.end).zip(&essential) {
                if is_essential {
                    held += end - begin;
                } else {
                    others += end - begin;
                }
            }
            // `held` bounds the candidates; seeks pay only when they are few.
            if held * e * SEEK_COST >= others {
                scan_window(
                    &mut w, &cursors, &essential, index, &scoring, n, filter, &mut top,
                )?;
            } else {
                let split = Split {
                    order: &order,
                    low: &low,
                    bound: &bound,
                    essential: &essential,
                    e,
                };
                seek_window(
                    &mut w,
                    &mut cursors,
                    &split,
                    index,
                    &scoring,
                    (n, bs),
                    filter,
                    &mut top,
                )?;
            }
            // Every term's postings before `end` are at or before the window's last row.
            for (c, &end) in cursors.iter_mut().zip(&w.end) {
                c.pos = end;
            }
        }
        if last as usize + 1 >= n {
            break;
        }
        base = last + 1;
    }
    Ok(top.into_hits())
}

/// Every term's postings in the window `start..=last`.
fn locate(w: &mut Window, cursors: &[Cursor], last: u32, bs: usize) {
    for (t, c) in cursors.iter().enumerate() {
        w.begin[t] = c.pos;
        w.end[t] = first_at_or_after(&c.p, bs, last.saturating_add(1), c.pos);
    }
}

/// Row `row`'s index in the window, checked (`previous` is the term's row before it).
#[inline(always)]
fn window_row(w: &Window, row: u32, previous: Option<u32>, n: usize) -> Result<usize> {
    let row = checked_row(row, previous, n)?;
    match row.checked_sub(w.start) {
        Some(i) if (i as usize) < WINDOW => Ok(i as usize),
        _ => Err(corrupt(SECTION, "a posting list's blocks are damaged")),
    }
}

/// Offers the rows an essential term holds, each scored from every term in query order (so the sums
/// are the canonical scores). Other rows are never offered, so their postings are not scored.
#[allow(clippy::too_many_arguments)]
fn scan_window(
    w: &mut Window,
    cursors: &[Cursor],
    essential: &[bool],
    index: &SparseIndexView,
    scoring: &Scoring,
    n: usize,
    filter: Option<&dyn Fn(u32) -> bool>,
    top: &mut TopK,
) -> Result<()> {
    let mut candidates = Rows::EMPTY;
    for (t, c) in cursors.iter().enumerate() {
        if essential[t] {
            let mut previous = None;
            for &row in &c.p.docs[w.begin[t]..w.end[t]] {
                let i = window_row(w, row, previous, n)?;
                previous = Some(row);
                if candidates.insert(i) {
                    w.acc[i] = 0.0;
                }
            }
        }
    }
    for (t, c) in cursors.iter().enumerate() {
        let mut previous = None;
        for pos in w.begin[t]..w.end[t] {
            let row = c.p.docs[pos];
            let i = window_row(w, row, previous, n)?;
            previous = Some(row);
            if essential[t] || candidates.contains(i) {
                w.acc[i] += contribution(index, scoring, c.weight, row, c.p.values[pos])?;
            }
        }
    }
    for i in candidates.iter() {
        let row = w.start + i as u32;
        if w.acc[i] > top.threshold() && filter.is_none_or(|f| f(row)) {
            top.offer(row, w.acc[i]);
        }
    }
    Ok(())
}

/// A window's split of the terms: by ascending window bound (`order`, prefix sums `low`), the
/// first `e` non-essential.
struct Split<'s> {
    order: &'s [usize],
    low: &'s [f64],
    bound: &'s [f64],
    essential: &'s [bool],
    e: usize,
}

/// Scores the candidates from the essential terms, then completes each, in row order, from the
/// non-essential terms by seeking, largest window bound first, while it can still beat the k-th
/// score. A candidate some non-essential term holds is rescored in query order.
#[allow(clippy::too_many_arguments)]
fn seek_window(
    w: &mut Window,
    cursors: &mut [Cursor],
    split: &Split,
    index: &SparseIndexView,
    scoring: &Scoring,
    (n, bs): (usize, usize),
    filter: Option<&dyn Fn(u32) -> bool>,
    top: &mut TopK,
) -> Result<()> {
    let m = cursors.len();
    let mut candidates = Rows::EMPTY;
    for (t, c) in cursors.iter().enumerate() {
        if !split.essential[t] {
            continue;
        }
        let mut previous = None;
        for pos in w.begin[t]..w.end[t] {
            let row = c.p.docs[pos];
            let i = window_row(w, row, previous, n)?;
            previous = Some(row);
            let value = contribution(index, scoring, c.weight, row, c.p.values[pos])?;
            let first = candidates.insert(i);
            w.add(i, value, first);
        }
    }
    for i in candidates.iter() {
        let row = w.start + i as u32;
        if filter.is_some_and(|f| !f(row)) {
            continue;
        }
        let theta = top.threshold();
        let mut partial = w.part[i];
        let mut extra = false;
        let mut alive = true;
        for j in (0..split.e).rev() {
            if !beats(partial + split.low[j + 1], theta, m) {
                alive = false;
                break;
            }
            let t = split.order[j];
            let c = &mut cursors[t];
            if split.bound[t] > 0.0 && c.seek(row, bs, n)? == row {
                let value = contribution(index, scoring, c.weight, row, c.p.values[c.pos])?;
                partial += f64::from(value);
                extra = true;
            }
        }
        if !alive {
            continue;
        }
        let score = if extra {
            canonical_score(w, cursors, index, scoring, row)?
        } else {
            w.acc[i]
        };
        if score > theta {
            top.offer(row, score);
        }
    }
    Ok(())
}

/// Row `row`'s score from every term's window postings, in query order.
fn canonical_score(
    w: &Window,
    cursors: &[Cursor],
    index: &SparseIndexView,
    scoring: &Scoring,
    row: u32,
) -> Result<f32> {
    let mut score = 0.0f32;
    for (t, c) in cursors.iter().enumerate() {
        let window = &c.p.docs[w.begin[t]..w.end[t]];
        if let Ok(at) = window.binary_search(&row) {
            let pos = w.begin[t] + at;
            score += contribution(index, scoring, c.weight, row, c.p.values[pos])?;
        }
    }
    Ok(score)
}
