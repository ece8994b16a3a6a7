//! Construction (writer side): standard HNSW insertion, one node at a time in row order, so the graph is
//! a pure function of (vectors, metric, params).

use super::distance::Space;
use super::graph::{greedy, search_layer, Cand, Scorer, Scratch};
use super::{HnswIndex, HnswParams, HnswView, Links, MAX_LEVEL, MAX_M};
use crate::error::{Error, Result};
use crate::schema::Metric;

impl Links {
    /// Start of node's `[count, ids...]` block on `level`, and its capacity.
    fn block(&self, node: u32, level: usize) -> (usize, usize) {
        if level == 0 {
            (node as usize * (self.m0 + 1), self.m0)
        } else {
            let base = self.upper_off[node as usize] as usize + (level - 1) * (self.m + 1);
            (base, self.m)
        }
    }

    fn words_mut(&mut self, level: usize) -> &mut [u32] {
        if level == 0 {
            &mut self.layer0
        } else {
            &mut self.upper
        }
    }

    fn set(&mut self, node: u32, level: usize, ids: impl ExactSizeIterator<Item = u32>) {
        let (base, cap) = self.block(node, level);
        let words = self.words_mut(level);
        let count = ids.len().min(cap);
        words[base] = count as u32;
        for (slot, id) in words[base + 1..base + 1 + count].iter_mut().zip(ids) {
            *slot = id;
        }
    }
}

/// Reusable buffers: nothing is allocated per distance or per neighbour once they have grown.
#[derive(Default)]
struct Buffers {
    search: Scratch,
    entries: Vec<Cand>,
    sorted: Vec<Cand>,
    selected: Vec<Cand>,
    relink: Vec<Cand>,
    kept: Vec<Cand>,
}

/// The selection heuristic of the HNSW paper (algorithm 4): walk candidates best first and keep one
/// only if it is closer to the base than to every neighbour kept so far. It spreads links over
/// directions instead of spending them all on one tight cluster, which keeps clustered data navigable.
///
/// Exact copies tie with the kept neighbour they copy, so the paper's rule keeps them all: a row with
/// more copies than links (the same chunk embedded many times) then links only to its copies, and the
/// copies become an island no search can enter or leave. At most a quarter of the links go to copies
/// of a kept neighbour; the rest stay free for other directions.
fn select(space: Space, sorted: &[Cand], max: usize, out: &mut Vec<Cand>) {
    out.clear();
    let copy_limit = max / 4;
    let mut copies = 0;
    for &c in sorted {
        if out.len() >= max {
            break;
        }
        let mut is_copy = false;
        let diverse = out.iter().all(|s| {
            let d = space.score_rows(c.id, s.id);
            is_copy |= d == c.d && space.same(c.id, s.id);
            d >= c.d
        });
        if diverse && (!is_copy || copies < copy_limit) {
            copies += usize::from(is_copy);
            out.push(c);
        }
    }
}

/// splitmix64: a tiny, well-mixed generator; the build must not depend on a crate's stream changing.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// Builds over every row of `space`; with `base`, a graph of the same params over the first
/// `base.len()` rows, that graph is taken as it is and only the later rows are inserted. Insertion is
/// sequential in row order and levels come from the seed, so the result is byte-identical to building
/// over all rows at once.
pub(super) fn build(
    space: Space,
    params: &HnswParams,
    base: Option<&HnswView>,
) -> Result<HnswIndex> {
    let (dim, metric) = (space.dim, space.metric);
    if dim == 0 {
        return Err(Error::invalid("vector dimension must be at least 1"));
    }
    if !space.rows.len().is_multiple_of(dim) {
        return Err(Error::invalid(format!(
            "{} values is not a whole number of {dim}-dimensional vectors",
            space.rows.len()
        )));
    }
    let n = space.rows.len() / dim;
    if space.inv_norms.is_some_and(|inv| inv.len() < n) {
        return Err(Error::invalid(format!(
            "{n} rows need {n} inverse norms to build a COSINE graph"
        )));
    }
    if n >= u32::MAX as usize {
        return Err(Error::invalid(format!(
            "an HNSW index holds at most {} rows, got {n}",
            u32::MAX - 1
        )));
    }
    let m = params.m;
    if !(2..=MAX_M).contains(&m) {
        return Err(Error::invalid(format!(
            "HNSW M must be between 2 and {MAX_M}, got {m}"
        )));
    }
    if params.ef_construction == 0 {
        return Err(Error::invalid("HNSW efConstruction must be at least 1"));
    }
    let m0 = 2 * m;
    let ef_c = params.ef_construction.max(m);

    // Levels are drawn up front, so each node's upper blocks can be laid out before insertion.
    let mut rng = Rng(params.seed);
    let ml = 1.0 / (m as f64).ln();
    let mut upper_off = Vec::with_capacity(n + 1);
    let mut total = 0usize;
    upper_off.push(0u32);
    for _ in 0..n {
        let level = ((-rng.unit().ln() * ml) as usize).min(MAX_LEVEL);
        total += level * (m + 1);
        let off = u32::try_from(total).map_err(|_| {
            Error::invalid("HNSW upper layers exceed 4 G words; lower M or split the collection")
        })?;
        upper_off.push(off);
    }
    let mut links = Links {
        m,
        m0,
        max_level: 0,
        entry: 0,
        n,
        layer0: vec![0; n * (m0 + 1)],
        upper_off,
        upper: vec![0; total],
    };
    let by_insertion = base
        .filter(|b| b.insertion.is_some())
        .map(HnswView::by_insertion);
    let first = match by_insertion.as_ref().map(HnswIndex::view).as_ref().or(base) {
        Some(base) => adopt(&mut links, base, dim, metric)?,
        None => 1,
    };
    if n > 0 && first == 1 {
        links.max_level = links.graph().level(0);
    }
    let mut buf = Buffers::default();
    for i in first as u32..n as u32 {
        insert(&mut links, space, i, ef_c, &mut buf)?;
    }
    Ok(HnswIndex {
        dim,
        metric,
        links,
        insertion: None,
    })
}

/// Copies `base`'s adjacency into `links` (sized for all rows, levels already drawn); returns the
/// first row still to insert. The base must be a graph of this metric, dimension and M whose levels
/// are the ones this seed draws, else extending it would not be the graph a full build makes.
fn adopt(links: &mut Links, base: &HnswView, dim: usize, metric: Metric) -> Result<usize> {
    let g = &base.graph;
    let same_levels = g.upper_off.len() <= links.upper_off.len()
        && links.upper_off[..g.upper_off.len()] == *g.upper_off;
    if base.metric != metric || base.dim != dim || g.m != links.m || g.n > links.n || !same_levels {
        return Err(Error::invalid(
            "cannot extend an HNSW graph built with another metric, dimension, M or seed",
        ));
    }
    if g.n == 0 {
        return Ok(1);
    }
    let (Some(layer0), Some(upper)) = (
        links.layer0.get_mut(..g.layer0.len()),
        links.upper.get_mut(..g.upper.len()),
    ) else {
        return Err(Error::invalid(
            "the HNSW graph to extend is larger than its rows",
        ));
    };
    layer0.copy_from_slice(g.layer0);
    upper.copy_from_slice(g.upper);
    links.max_level = g.max_level;
    links.entry = g.entry;
    Ok(g.n)
}

fn insert(links: &mut Links, space: Space, i: u32, ef_c: usize, buf: &mut Buffers) -> Result<()> {
    let level = links.graph().level(i);
    let top = links.max_level;
    let mut cur = Cand {
        d: space.score_rows(i, links.entry),
        id: links.entry,
    };
    let scorer = Scorer {
        score: |id: u32| space.score_rows(i, id),
        prefetch: |id: u32| space.prefetch(id),
    };
    for l in (level + 1..=top).rev() {
        cur = greedy(&links.graph(), &scorer.score, cur, l)?;
    }
    buf.entries.clear();
    buf.entries.push(cur);
    for l in (0..=level.min(top)).rev() {
        search_layer(
            &links.graph(),
            &scorer,
            &buf.entries,
            ef_c,
            l,
            None,
            &mut buf.search,
        )?;
        buf.sorted.clear();
        buf.sorted.extend(buf.search.results.drain());
        buf.sorted.sort_unstable();
        select(space, &buf.sorted, links.m, &mut buf.selected);
        links.set(i, l, buf.selected.iter().map(|c| c.id));
        for k in 0..buf.selected.len() {
            let c = buf.selected[k];
            link_back(links, space, c.id, Cand { d: c.d, id: i }, l, buf);
        }
        // The whole beam seeds the next layer down (the paper's `ep <- W`).
        std::mem::swap(&mut buf.entries, &mut buf.sorted);
    }
    if level > top {
        links.max_level = level;
        links.entry = i;
    }
    Ok(())
}

/// Adds `new` to `node`'s list on `level`; a full list is re-chosen by the heuristic over old + new.
/// Both metrics are symmetric, so `new.d` is also the score from `node` to `new`.
fn link_back(
    links: &mut Links,
    space: Space,
    node: u32,
    new: Cand,
    level: usize,
    buf: &mut Buffers,
) {
    let (base, cap) = links.block(node, level);
    let words = links.words_mut(level);
    let count = words[base] as usize;
    if count < cap {
        words[base + 1 + count] = new.id;
        words[base] = count as u32 + 1;
        return;
    }
    buf.relink.clear();
    buf.relink
        .extend(words[base + 1..base + 1 + count].iter().map(|&id| Cand {
            d: space.score_rows(node, id),
            id,
        }));
    buf.relink.push(new);
    buf.relink.sort_unstable();
    select(space, &buf.relink, cap, &mut buf.kept);
    links.set(node, level, buf.kept.iter().map(|c| c.id));
}
