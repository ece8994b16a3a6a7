//! Renumbering a graph's nodes. The engine stores an indexed part's rows in an order that keeps
//! neighbours near each other in memory (a first query then faults in fewer pages), so the graph is
//! renumbered to that order after it is built. The index remembers the order its nodes were inserted
//! in: extending it must insert the new rows after the old ones exactly as one build over all rows
//! would, and that build numbers nodes by insertion.

use super::graph::Graph;
use super::{HnswIndex, HnswView, Links};

/// The first id in `ids` that repeats an earlier one or is not below `ids.len()`; None when `ids` is
/// a permutation of `0..ids.len()`.
pub(crate) fn not_once(ids: &[u32]) -> Option<u32> {
    let mut seen = vec![0u64; ids.len().div_ceil(64)];
    ids.iter().copied().find(|&id| {
        let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
        match seen.get_mut(word) {
            Some(w) if *w & bit == 0 && (id as usize) < ids.len() => {
                *w |= bit;
                false
            }
            _ => true,
        }
    })
}

/// `g` with node `i` renumbered `new_id[i]` (a permutation of `0..n`, checked by the caller). Slots
/// past a list's count are zeroed: their old contents are never read.
fn relabel(g: &Graph, new_id: &[u32]) -> Links {
    let n = g.n;
    let mut old_id = vec![0u32; n];
    for (old, &new) in new_id.iter().enumerate() {
        old_id[new as usize] = old as u32;
    }
    let renumber = |block: &[u32], out: &mut Vec<u32>| {
        let count = block[0] as usize;
        out.push(block[0]);
        out.extend(block[1..=count].iter().map(|&id| new_id[id as usize]));
        out.resize(out.len() + block.len() - 1 - count, 0);
    };
    let stride0 = g.m0 + 1;
    let mut layer0 = Vec::with_capacity(g.layer0.len());
    let mut upper = Vec::with_capacity(g.upper.len());
    let mut upper_off = Vec::with_capacity(n + 1);
    upper_off.push(0);
    for &old in &old_id {
        let old = old as usize;
        renumber(&g.layer0[old * stride0..(old + 1) * stride0], &mut layer0);
        let own = &g.upper[g.upper_off[old] as usize..g.upper_off[old + 1] as usize];
        for block in own.chunks_exact(g.m + 1) {
            renumber(block, &mut upper);
        }
        upper_off.push(upper.len() as u32);
    }
    Links {
        m: g.m,
        m0: g.m0,
        max_level: g.max_level,
        entry: if n == 0 { 0 } else { new_id[g.entry as usize] },
        n,
        layer0,
        upper_off,
        upper,
    }
}

impl HnswIndex {
    /// The same graph with node `i` renumbered `new_id[i]`, for rows stored in that order; searches
    /// return the new numbers. Panics unless `new_id` is a permutation of `0..len()` (the engine makes
    /// it; it is not read from a file).
    pub fn renumbered(&self, new_id: &[u32]) -> HnswIndex {
        assert!(
            new_id.len() == self.links.n && not_once(new_id).is_none(),
            "a renumbering must be a permutation of the nodes"
        );
        let insertion = (0..self.links.n)
            .map(|k| new_id[self.view().inserted(k) as usize])
            .collect();
        HnswIndex {
            dim: self.dim,
            metric: self.metric,
            links: relabel(&self.links.graph(), new_id),
            insertion: Some(insertion),
        }
    }
}

impl HnswView<'_> {
    /// The node inserted `k`-th.
    pub fn inserted(&self, k: usize) -> u32 {
        self.insertion.map_or(k as u32, |order| order[k])
    }

    /// This graph numbered by insertion, as a build makes it (what `extend` grows).
    pub(super) fn by_insertion(&self) -> HnswIndex {
        let mut new_id = vec![0u32; self.graph.n];
        for k in 0..self.graph.n {
            new_id[self.inserted(k) as usize] = k as u32;
        }
        HnswIndex {
            dim: self.dim,
            metric: self.metric,
            links: relabel(&self.graph, &new_id),
            insertion: None,
        }
    }
}
