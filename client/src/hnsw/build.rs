//! Construction (writer side): HNSW insertion in row order, in batches of `BATCH` rows that every core
//! works on (`insert_batch`), so the graph is a pure function of (vectors, metric, params) and, for a
//! graph grown by `extend`, of where its base ended.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::distance::Space;
use super::graph::{greedy, search_layer, Cand, Scorer, Scratch};
use super::{HnswIndex, HnswParams, HnswView, Links, MAX_LEVEL, MAX_M};
use crate::error::{Error, Result};
use crate::schema::Metric;

/// Batch `k` holds the rows at insertion positions `k * BATCH .. (k + 1) * BATCH` (row 0, the first
/// entry point, is not inserted). A row is searched against the graph as it was before its batch, so
/// the batches are part of what the graph is: frozen, whatever the number of cores. 256 keeps each
/// core busy for tens of milliseconds per batch at 384 dimensions while a row's exactly scored
/// batch-mates (at most 255) cost it a few percent of its graph search.
pub const BATCH: usize = 256;

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

    fn words(&self, level: usize) -> &[u32] {
        if level == 0 {
            &self.layer0
        } else {
            &self.upper
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
    /// The batch's earlier rows, scored against the row being inserted.
    peers: Vec<Cand>,
    sorted: Vec<Cand>,
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
/// `base.len()` rows, that graph is taken as it is and only the later rows are inserted. Levels come
/// from the seed and rows are inserted in row order, batch by batch, so when `base.len()` is a multiple
/// of `BATCH` the result is byte-identical to building over all rows at once; otherwise the rows up to
/// the next multiple are one batch searched against the base.
pub(super) fn build(
    space: Space,
    params: &HnswParams,
    base: Option<&HnswView>,
) -> Result<HnswIndex> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    build_on(space, params, base, threads)
}

/// `build` on `threads` threads (at least one).
fn build_on(
    space: Space,
    params: &HnswParams,
    base: Option<&HnswView>,
    threads: usize,
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
    let mut pool: Vec<Buffers> = (0..threads.max(1)).map(|_| Buffers::default()).collect();
    let mut start = first;
    while start < n {
        let end = ((start / BATCH + 1) * BATCH).min(n);
        insert_batch(&mut links, space, start as u32..end as u32, ef_c, &mut pool)?;
        start = end;
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

/// Inserts the rows of `batch` (all of one `BATCH`), every core working on it; the result does not
/// depend on the number of cores or their timing:
/// 1. in parallel, each row chooses its neighbours on each of its levels from the graph as it was before
///    the batch (searched as a one-row insert searches it) and the batch's earlier rows (scored exactly);
/// 2. the chosen lists are stored, then, in parallel per (level, node), each node takes its new
///    back-links in insertion order, re-choosing a full list as a one-row insert does;
/// 3. a row whose level tops the graph's becomes the entry point, in insertion order.
fn insert_batch(
    links: &mut Links,
    space: Space,
    batch: Range<u32>,
    ef_c: usize,
    pool: &mut [Buffers],
) -> Result<()> {
    let graph: &Links = links;
    let chosen = parallel(pool, batch.len(), |k, buf| {
        choose(graph, space, batch.start..batch.start + k as u32, ef_c, buf)
    })?;
    let mut back = Vec::new();
    for (row, lists) in batch.clone().zip(&chosen) {
        for (level, list) in lists.iter().enumerate() {
            links.set(row, level, list.iter().map(|c| c.id));
            back.extend(list.iter().map(|c| BackLink {
                level,
                node: c.id,
                new: Cand { d: c.d, id: row },
            }));
        }
    }
    // Stable: each node's back-links stay in insertion order.
    back.sort_by_key(|b| (b.level, b.node));
    let groups: Vec<&[BackLink]> = back
        .chunk_by(|a, b| (a.level, a.node) == (b.level, b.node))
        .collect();
    let graph: &Links = links;
    let relinked = parallel(pool, groups.len(), |k, buf| {
        Ok(link_back(graph, space, groups[k], buf))
    })?;
    for (group, ids) in groups.iter().zip(relinked) {
        links.set(group[0].node, group[0].level, ids.into_iter());
    }
    for row in batch {
        let level = links.graph().level(row);
        if level > links.max_level {
            links.max_level = level;
            links.entry = row;
        }
    }
    Ok(())
}

/// A link from `node` on `level` to a row of the batch, `new.d` apart.
struct BackLink {
    level: usize,
    node: u32,
    new: Cand,
}

/// The neighbours of row `rows.end` on each of its levels (index = level), chosen from `links` (the
/// graph before the batch) and `rows`, the batch's rows before it.
fn choose(
    links: &Links,
    space: Space,
    rows: Range<u32>,
    ef_c: usize,
    buf: &mut Buffers,
) -> Result<Vec<Vec<Cand>>> {
    let g = links.graph();
    let row = rows.end;
    let (level, top) = (g.level(row), links.max_level);
    let scorer = Scorer {
        score: |id: u32| space.score_rows(row, id),
        prefetch: |id: u32| space.prefetch(id),
    };
    let mut cur = Cand {
        d: (scorer.score)(links.entry),
        id: links.entry,
    };
    for l in (level + 1..=top).rev() {
        cur = greedy(&g, &scorer.score, cur, l)?;
    }
    buf.peers.clear();
    buf.peers.extend(rows.map(|id| Cand {
        d: (scorer.score)(id),
        id,
    }));
    buf.entries.clear();
    buf.entries.push(cur);
    let mut chosen = vec![Vec::new(); level + 1];
    for l in (0..=level).rev() {
        buf.sorted.clear();
        if l <= top {
            search_layer(&g, &scorer, &buf.entries, ef_c, l, None, &mut buf.search)?;
            buf.sorted.extend(buf.search.results.drain());
            // The beam over the graph seeds the next layer down (the paper's `ep <- W`).
            buf.entries.clear();
            buf.entries.extend_from_slice(&buf.sorted);
        }
        buf.sorted
            .extend(buf.peers.iter().filter(|p| g.level(p.id) >= l));
        buf.sorted.sort_unstable();
        select(space, &buf.sorted, links.m, &mut chosen[l]);
    }
    Ok(chosen)
}

/// `node`'s list on its level after adding each row of `new` (one node and level, in insertion order):
/// appended while the list has room, else the list is re-chosen by the heuristic over old + new.
/// Both metrics are symmetric, so `new.d` is also the score from `node` to the new row.
fn link_back(links: &Links, space: Space, new: &[BackLink], buf: &mut Buffers) -> Vec<u32> {
    let (node, level) = (new[0].node, new[0].level);
    let (base, cap) = links.block(node, level);
    let words = links.words(level);
    let mut list = words[base + 1..base + 1 + words[base] as usize].to_vec();
    for b in new {
        if list.len() < cap {
            list.push(b.new.id);
            continue;
        }
        buf.relink.clear();
        buf.relink.extend(list.iter().map(|&id| Cand {
            d: space.score_rows(node, id),
            id,
        }));
        buf.relink.push(b.new);
        buf.relink.sort_unstable();
        select(space, &buf.relink, cap, &mut buf.kept);
        list.clear();
        list.extend(buf.kept.iter().map(|c| c.id));
    }
    list
}

/// `task(k, buffers)` for every `k` in `0..count`, on one thread per entry of `pool`, each claiming the
/// next `k`; the results in `k` order, so they do not depend on the number of threads or their timing.
fn parallel<T: Send>(
    pool: &mut [Buffers],
    count: usize,
    task: impl Fn(usize, &mut Buffers) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    if pool.len() == 1 || count < 2 {
        return (0..count).map(|k| task(k, &mut pool[0])).collect();
    }
    let (next, task) = (AtomicUsize::new(0), &task);
    let mut done: Vec<(usize, T)> = Vec::with_capacity(count);
    std::thread::scope(|s| {
        let workers: Vec<_> = pool
            .iter_mut()
            .map(|buf| {
                let next = &next;
                s.spawn(move || -> Result<Vec<(usize, T)>> {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= count {
                            return Ok(out);
                        }
                        out.push((k, task(k, buf)?));
                    }
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(out) => done.extend(out?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok::<(), Error>(())
    })?;
    done.sort_unstable_by_key(|(k, _)| *k);
    Ok(done.into_iter().map(|(_, t)| t).collect())
}

#[cfg(test)]
mod tests {
    use super::{build_on, Rng, BATCH};
    use crate::dense::DenseRows;
    use crate::hnsw::distance::Space;
    use crate::hnsw::HnswParams;
    use crate::schema::Metric;

    #[test]
    fn the_graph_is_the_same_on_any_number_of_threads() {
        let dim = 8;
        let mut rng = Rng(7);
        let rows: Vec<f32> = (0..(3 * BATCH + 17) * dim)
            .map(|_| rng.unit() as f32)
            .collect();
        let space = Space {
            rows: DenseRows::F32(&rows),
            dim,
            metric: Metric::L2,
            inv_norms: None,
        };
        let params = HnswParams {
            m: 6,
            ef_construction: 32,
            seed: 3,
        };
        let one = build_on(space, &params, None, 1).unwrap();
        for threads in [2, 3, 8] {
            let many = build_on(space, &params, None, threads).unwrap();
            assert!(one == many, "{threads} threads built another graph");
        }
    }
}
