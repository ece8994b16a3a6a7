//! The graph as flat `u32` arrays and the searches over it. The builder (over its own `Vec`s) and every
//! reader (over words of a mapped segment) use this one code path, so a view searches exactly like the
//! index it was serialized from.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::layout::corrupt;
use crate::error::Result;

/// A node and its score against the current query; smaller scores are better for every metric.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub d: f32,
    pub id: u32,
}

// Ties break on the id so that heaps pop in the same order on every run (determinism for a seed).
impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.d.total_cmp(&other.d).then(self.id.cmp(&other.id))
    }
}
impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Cand {}

/// Borrowed adjacency. Invariants (kept by the builder; checked whole by `HnswView::from_bytes`, and
/// node by node, as a walk expands it, by `neighbours`):
/// `layer0` holds `n` blocks of `1 + m0` words `[count, ids...]` with `count <= m0`;
/// `upper_off` holds `n + 1` non-decreasing word offsets into `upper`, node `i` owning
/// `upper[upper_off[i]..upper_off[i+1]]` = one `[count, ids(m)]` block per level `1..=level(i)`;
/// every listed id is `< n` and a neighbour on level `l` has a level `>= l`;
/// `entry` has level `max_level` (when `n > 0`).
#[derive(Clone, Copy)]
pub(crate) struct Graph<'a> {
    pub m: usize,
    pub m0: usize,
    pub max_level: usize,
    pub entry: u32,
    pub n: usize,
    pub layer0: &'a [u32],
    pub upper_off: &'a [u32],
    pub upper: &'a [u32],
}

impl<'a> Graph<'a> {
    pub fn level(&self, node: u32) -> usize {
        let i = node as usize;
        (self.upper_off[i + 1] - self.upper_off[i]) as usize / (self.m + 1)
    }

    /// The neighbours of `node` on `level`, its block checked first: a reader wraps a graph in O(1)
    /// (attaching to a 1M-row segment reads no more of it than its first query walks), so a damaged
    /// graph is `Error::Corrupt` on the path that meets the damage, never an out-of-bounds read.
    /// `node` must be `< n` (the entry point is checked on wrapping, every other id here).
    pub fn neighbours(&self, node: u32, level: usize) -> Result<&'a [u32]> {
        let node = node as usize;
        let (words, base, cap) = if level == 0 {
            (self.layer0, node * (self.m0 + 1), self.m0)
        } else {
            let stride = self.m + 1;
            let (start, end) = (
                self.upper_off[node] as usize,
                self.upper_off[node + 1] as usize,
            );
            if start > end || end > self.upper.len() || (end - start) / stride < level {
                return Err(corrupt(format!(
                    "HNSW node {node} has no level-{level} neighbour list"
                )));
            }
            (self.upper, start + (level - 1) * stride, self.m)
        };
        let count = words[base] as usize;
        if count > cap {
            return Err(corrupt(format!(
                "HNSW node {node} lists {count} level-{level} neighbours, more than {cap}"
            )));
        }
        let ids = &words[base + 1..base + 1 + count];
        // Only the largest id needs checking: a max over the block is a loop the compiler vectorises.
        let largest = ids.iter().fold(0, |m, &id| m.max(id));
        if largest as usize >= self.n {
            return Err(corrupt(format!(
                "HNSW node {node} links to row {largest}, past the {} rows",
                self.n
            )));
        }
        Ok(ids)
    }
}

/// Per-search working memory. The visited set is a bitset over node ids (n/8 bytes: 125 KB for a
/// million nodes, small enough to stay in cache and to cost each process little) with the list of
/// ids set in it, so starting a search clears only what the last one visited.
#[derive(Default)]
pub(crate) struct Scratch {
    visited: Vec<u64>,
    /// At most one id per word of `visited`: a search that visits more (a selective filter walks most
    /// of the graph) leaves it full, and the next start zeroes the whole bitset instead. That bounds
    /// the list at n/16 bytes and never clears more ids than there are words.
    visited_ids: Vec<u32>,
    pub candidates: BinaryHeap<Reverse<Cand>>,
    /// The best `ef` found so far, worst on top.
    pub results: BinaryHeap<Cand>,
    /// The unvisited neighbours of the node being expanded.
    fresh: Vec<u32>,
}

impl Scratch {
    fn start(&mut self, n: usize) {
        if self.visited_ids.len() == self.visited.len() {
            self.visited.fill(0);
        } else {
            // The list is not full, so it holds every set bit's id: zeroing their words clears the set.
            for &id in &self.visited_ids {
                self.visited[id as usize / 64] = 0;
            }
        }
        self.visited_ids.clear();
        let words = n.div_ceil(64);
        if self.visited.len() < words {
            self.visited.resize(words, 0);
        }
        self.candidates.clear();
        self.results.clear();
    }

    /// True the first time `id` is seen in this search.
    fn first_visit(&mut self, id: u32) -> bool {
        let (word, bit) = (&mut self.visited[id as usize / 64], 1u64 << (id % 64));
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        if self.visited_ids.len() < self.visited.len() {
            self.visited_ids.push(id);
        }
        true
    }
}

/// How a walk reaches the rows: `score(id)` is the score of row `id` against the query (smaller is
/// better); `prefetch(id)` hints that row `id` is about to be scored.
pub(crate) struct Scorer<S, P> {
    pub score: S,
    pub prefetch: P,
}

/// Greedy walk on one layer: move to the best neighbour until none improves.
/// `score(id)` is the score of row `id` against the query (smaller is better).
pub(crate) fn greedy(
    g: &Graph,
    score: &impl Fn(u32) -> f32,
    mut cur: Cand,
    level: usize,
) -> Result<Cand> {
    loop {
        let mut moved = false;
        for &nb in g.neighbours(cur.id, level)? {
            let d = score(nb);
            if d < cur.d {
                cur = Cand { d, id: nb };
                moved = true;
            }
        }
        if !moved {
            return Ok(cur);
        }
    }
}

/// Beam search on one layer from `entries`; leaves the best `ef` accepted nodes in `s.results`.
/// With a filter, every node is still traversed (the graph stays connected through non-matching
/// rows) but only matching nodes enter the results, so the beam keeps widening until it holds `ef`
/// matching rows.
/// Generic over the scorer so the f32 and the quantized paths each get a monomorphised loop.
pub(crate) fn search_layer(
    g: &Graph,
    scorer: &Scorer<impl Fn(u32) -> f32, impl Fn(u32)>,
    entries: &[Cand],
    ef: usize,
    level: usize,
    filter: Option<&dyn Fn(u32) -> bool>,
    s: &mut Scratch,
) -> Result<()> {
    s.start(g.n);
    let accepts = |id: u32| filter.is_none_or(|f| f(id));
    for &e in entries {
        if s.first_visit(e.id) {
            s.candidates.push(Reverse(e));
            if accepts(e.id) {
                s.results.push(e);
                if s.results.len() > ef {
                    s.results.pop();
                }
            }
        }
    }
    while let Some(Reverse(c)) = s.candidates.pop() {
        if s.results.len() >= ef && s.results.peek().is_some_and(|w| c.d > w.d) {
            break;
        }
        // Hint every unvisited neighbour's row first, then score them: their cache misses overlap
        // instead of each distance waiting for its own row (rows sit far apart in a large collection).
        let mut fresh = std::mem::take(&mut s.fresh);
        fresh.clear();
        for &nb in g.neighbours(c.id, level)? {
            if s.first_visit(nb) {
                (scorer.prefetch)(nb);
                fresh.push(nb);
            }
        }
        for &nb in &fresh {
            let d = (scorer.score)(nb);
            let full = s.results.len() >= ef;
            if full && s.results.peek().is_some_and(|w| d >= w.d) {
                continue;
            }
            let cand = Cand { d, id: nb };
            s.candidates.push(Reverse(cand));
            if accepts(nb) {
                s.results.push(cand);
                if s.results.len() > ef {
                    s.results.pop();
                }
            }
        }
        s.fresh = fresh;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Scratch;

    #[test]
    fn each_search_sees_every_node_once_whatever_the_last_searched() {
        let mut s = Scratch::default();
        s.start(1000);
        let first: Vec<u32> = vec![0, 63, 64, 999, 500];
        for &id in &first {
            assert!(s.first_visit(id));
            assert!(!s.first_visit(id), "{id} seen twice in one search");
        }
        // A smaller graph next (the thread's scratch serves every collection), then the large one again.
        s.start(10);
        assert!((0..10).all(|id| s.first_visit(id)));
        s.start(1000);
        assert!(first.iter().chain(&[1, 9]).all(|&id| s.first_visit(id)));
        assert!((0..1000).filter(|&id| s.first_visit(id)).count() == 1000 - 7);
        // That search visited every node, more ids than the list keeps: the next one still starts clean.
        assert!(s.visited_ids.len() <= s.visited.len());
        s.start(1000);
        assert!((0..1000).all(|id| s.first_visit(id)));
    }
}
