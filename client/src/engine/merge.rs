//! The merge policy: which parts a commit rewrites. Each commit's new rows become a part; the newest
//! parts merge as a binary counter (`first_merged_part`), so a collection keeps O(log n) parts; a
//! collection with an approximate index gets its graph built, grown or rebuilt here (`rebuild_entry`) when a
//! build asks (`Rewrite::IndexTail`, `Rewrite::IndexSealed`); a write commit never builds one.

use std::collections::{BTreeMap, HashSet};

use super::part::{self, build_part, StoredRow};
use super::{ann, CollectionView, RowId};
use crate::error::Result;
use crate::format::{CollectionEntry, Part};
use crate::hnsw::HnswView;
use crate::store::CommitBuilder;

/// A tail part of a collection with graphs is sealed once it holds this many stored rows (16 build
/// batches): merges leave it as it is, and a build consumes it with every tail part before it.
pub const SEAL_ROWS: u64 = 16 * crate::hnsw::BATCH as u64;

/// Merge all of a collection's unsealed tail parts into one when more than this fraction of their
/// stored rows are deleted (otherwise they merge by size: `first_merged_part`).
const MAX_DELETED_FRACTION: f64 = 0.3;

/// How much of a collection a commit rewrites beyond what its writes need.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Rewrite {
    /// What the merge policy asks for.
    AsNeeded,
    /// Also put every live row outside the graph into it (flush, create_index).
    IndexTail,
    /// A background build: put the sealed tail parts into the graph, or the whole tail when none is
    /// sealed; never merge the unsealed parts (commits merge them meanwhile).
    IndexSealed,
    /// Every live row into one part, graphs rebuilt: nothing deleted is kept (compact).
    All,
}

/// The collection after deleting `doomed` rows and appending `new_rows` as a part, starting from
/// `entry` (the view's entry, possibly with a changed index or partition list).
///
/// With an approximate index on a collection of at least `MIN_GRAPH_ROWS` live rows, a build
/// (`Rewrite::IndexTail`: flush, create_index; `Rewrite::IndexSealed`: the builder) rewrites the indexed
/// part and the tail parts it consumes (the whole tail, or for `IndexSealed` those up to the newest
/// sealed one when there is one) as one part with a grown or fresh graph, when there is no graph yet,
/// any live row among them, or deleted indexed rows past `DELETED_PERCENT` %. A write commit
/// (`Rewrite::AsNeeded`) never builds: it only merges the tail parts after the newest sealed one
/// (`first_unsealed`; every tail part without graphs), all of them when more than MAX_DELETED_FRACTION
/// of their rows are deleted, else the newest by size (`first_merged_part`): a graph is never dropped by
/// a merge. `Rewrite::All` rewrites every part, rebuilding the graphs of an indexed collection.
pub(super) fn rebuild_entry(
    view: &CollectionView<'_>,
    b: &mut CommitBuilder,
    entry: CollectionEntry,
    doomed: &HashSet<RowId>,
    new_rows: Vec<StoredRow>,
    rewrite: Rewrite,
) -> Result<CollectionEntry> {
    rebuild_entry_traced(view, b, entry, doomed, new_rows, rewrite).map(|(entry, _)| entry)
}

/// `rebuild_entry`, also returning the rows of the view that went into the new part it rewrote, in the
/// order they went in (before the commit's new rows): the new part's `k`-th inserted row is `fed[k]`.
/// Empty when nothing was rewritten.
pub(super) fn rebuild_entry_traced(
    view: &CollectionView<'_>,
    b: &mut CommitBuilder,
    mut entry: CollectionEntry,
    doomed: &HashSet<RowId>,
    new_rows: Vec<StoredRow>,
    rewrite: Rewrite,
) -> Result<(CollectionEntry, Vec<RowId>)> {
    let fields = ann::graph_fields(&entry)?;
    let sparse = ann::sparse_index_fields(&entry)?;
    // A part is indexed when it carries a graph for every approximate index of the collection.
    let indexed: Vec<bool> = entry
        .parts
        .iter()
        .map(|p| !fields.is_empty() && ann::covers(&p.ann, &fields))
        .collect();
    let doomed_in = |graph: bool| doomed.iter().filter(|id| indexed[id.part] == graph).count();
    let sum = |graph: bool, f: &dyn Fn(&Part) -> u64| -> u64 {
        entry
            .parts
            .iter()
            .zip(&indexed)
            .filter(|(_, &g)| g == graph)
            .map(|(p, _)| f(p))
            .sum()
    };
    let indexed_rows = sum(true, &|p| p.rows);
    let indexed_deleted = sum(true, &|p| p.deleted_count) + doomed_in(true) as u64;
    let tail_stored = sum(false, &|p| p.rows) + new_rows.len() as u64;
    let tail_deleted = sum(false, &|p| p.deleted_count) + doomed_in(false) as u64;
    // Saturating: the counts come from the file (validated per part, not across the sums).
    let tail_live = tail_stored.saturating_sub(tail_deleted);
    let live = indexed_rows.saturating_sub(indexed_deleted) + tail_live;
    let tail: Vec<usize> = (0..indexed.len()).filter(|&pi| !indexed[pi]).collect();
    let tail_rows: Vec<u64> = tail.iter().map(|&pi| entry.parts[pi].rows).collect();
    // With graphs, only the parts after the newest sealed one merge: a build consumes the sealed ones
    // and must find them as it read them.
    let first = match fields.is_empty() {
        true => 0,
        false => first_unsealed(&tail_rows),
    };
    let live_in = |parts: &[usize]| -> u64 {
        parts
            .iter()
            .map(|&pi| {
                entry.parts[pi]
                    .rows
                    .saturating_sub(entry.parts[pi].deleted_count)
            })
            .sum()
    };
    // The tail parts a build consumes: for the builder the sealed ones, unless they hold no live row.
    let consumed = match rewrite {
        Rewrite::IndexSealed if live_in(&tail[..first]) > 0 => &tail[..first],
        _ => &tail[..],
    };
    let consumed_live = live_in(consumed);
    let building = matches!(rewrite, Rewrite::IndexTail | Rewrite::IndexSealed);
    let rebuild = !fields.is_empty()
        && ((building
            && live >= ann::MIN_GRAPH_ROWS
            && (indexed_rows == 0
                || consumed_live > 0
                || over_deleted(indexed_rows, indexed_deleted)))
            || (rewrite == Rewrite::All && (indexed_rows > 0 || live >= ann::MIN_GRAPH_ROWS)));
    // The graph is extended rather than rebuilt when the only indexed part is the first and lost no
    // row: its rows then come first in the merged part, in insertion order, as extending requires.
    let extendable =
        indexed_deleted == 0 && indexed.iter().filter(|&&g| g).count() == 1 && indexed[0];
    let unsealed = &tail[first..];
    let unsealed_stored = tail_rows[first..].iter().sum::<u64>() + new_rows.len() as u64;
    let unsealed_deleted = unsealed
        .iter()
        .map(|&pi| entry.parts[pi].deleted_count)
        .sum::<u64>()
        + doomed
            .iter()
            .filter(|id| unsealed.contains(&id.part))
            .count() as u64;
    let merged_tail = if rewrite == Rewrite::All {
        &tail[..]
    } else if rewrite == Rewrite::IndexSealed {
        &[]
    } else if unsealed_stored > 0
        && unsealed_deleted as f64 / unsealed_stored as f64 > MAX_DELETED_FRACTION
    {
        unsealed
    } else {
        &unsealed[first_merged_part(&tail_rows[first..], new_rows.len() as u64)..]
    };
    if rebuild || !merged_tail.is_empty() {
        // Rewrite every live row of the parts being merged (on a rebuild: all parts, or for
        // `IndexSealed` the indexed and the consumed ones) as one part.
        let merged = |pi: usize| match rebuild {
            true => rewrite != Rewrite::IndexSealed || indexed[pi] || consumed.contains(&pi),
            false => merged_tail.contains(&pi),
        };
        // Only the merged parts' rows are read: a commit that merges a small tail leaves the indexed
        // part's rows alone.
        let mut rows = Vec::new();
        let mut fed = Vec::new();
        for pi in (0..entry.parts.len()).filter(|&pi| merged(pi)) {
            for id in live_rows_as_inserted(view, pi)? {
                if !doomed.contains(&id) {
                    rows.push(view.stored_row(id)?);
                    fed.push(id);
                }
            }
        }
        rows.extend(new_rows);
        // Deletions in the parts that stay (the indexed ones) become bitmap bits as usual.
        let stays: HashSet<RowId> = doomed
            .iter()
            .filter(|id| !merged(id.part))
            .copied()
            .collect();
        mark_deleted(view, b, &mut entry, &stays)?;
        let old = std::mem::take(&mut entry.parts);
        entry.parts = old
            .into_iter()
            .enumerate()
            .filter(|(pi, _)| !merged(*pi))
            .map(|(_, p)| p)
            .collect();
        let graphs: &[ann::GraphField] = if rebuild { &fields } else { &[] };
        let bases = if rebuild && extendable {
            base_graphs(view, &fields)?
        } else {
            vec![None; graphs.len()]
        };
        if let Some(p) = build_part(&entry.schema, &rows, b, graphs, &bases, &sparse)? {
            entry.parts.push(p);
        }
        return Ok((entry, fed));
    }
    mark_deleted(view, b, &mut entry, doomed)?;
    if let Some(p) = build_part(&entry.schema, &new_rows, b, &[], &[], &sparse)? {
        entry.parts.push(p);
    }
    Ok((entry, Vec::new()))
}

/// True when deleted rows inside the graphs exceed `DELETED_PERCENT` % of their rows: a build then
/// rebuilds them (they still cost traversal).
pub(super) fn over_deleted(indexed_rows: u64, indexed_deleted: u64) -> bool {
    indexed_deleted.saturating_mul(100) > indexed_rows.saturating_mul(ann::DELETED_PERCENT)
}

/// Of tail parts holding `rows` stored rows (oldest first), the index of the first one after the newest
/// sealed part (`rows.len()` when the newest is sealed). A part is sealed once it holds `SEAL_ROWS` rows.
/// Merges only make parts larger, so a sealed part stays sealed, and merges never reach past it.
fn first_unsealed(rows: &[u64]) -> usize {
    rows.iter()
        .rposition(|&r| r >= SEAL_ROWS)
        .map_or(0, |i| i + 1)
}

/// Of tail parts holding `rows` (oldest first), the index of the first one to merge with `new` rows into
/// one part (`rows.len()` when none): the newest parts merge while together they hold at least as many
/// rows as the part before them. Parts then at least double in size from newest to oldest, as the digits
/// of a binary counter: a tail of n rows has O(log n) parts and each row is rewritten O(log n) times,
/// where merging every part beyond a fixed count rewrote the whole tail every few commits (quadratic).
fn first_merged_part(rows: &[u64], new: u64) -> usize {
    let mut first = rows.len();
    let mut run = new;
    while first > 0 && new > 0 && run >= rows[first - 1] {
        first -= 1;
        run += rows[first];
    }
    first
}

/// Sets the deletion bits of `doomed` rows in new bitmap sections; `entry.parts` are still the view's.
fn mark_deleted(
    view: &CollectionView<'_>,
    b: &mut CommitBuilder,
    entry: &mut CollectionEntry,
    doomed: &HashSet<RowId>,
) -> Result<()> {
    let mut by_part: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for id in doomed {
        by_part.entry(id.part).or_default().push(id.row);
    }
    for (pi, rows) in by_part {
        part::delete_rows(view.image, &mut entry.parts[pi], &rows, b)?;
    }
    Ok(())
}

/// The live rows of part `pi` in the order they were inserted: a part with graphs stores its rows in
/// another order, and its graphs (all renumbered alike) record the insertion order.
fn live_rows_as_inserted(view: &CollectionView<'_>, pi: usize) -> Result<Vec<RowId>> {
    let part = &view.entry().parts[pi];
    let Some(index) = part.ann.first() else {
        return Ok(view.part_live_rows(pi).collect());
    };
    let graph = HnswView::from_bytes(part::slice(view.image, &index.graph)?, part.rows as usize)?;
    let live = &view.parts[pi];
    Ok((0..part.rows as usize)
        .map(|k| graph.inserted(k) as usize)
        .filter(|&row| live.is_live(row))
        .map(|row| RowId { part: pi, row })
        .collect())
}

/// The first part's graph of each of `fields`, to extend (see `rebuild_entry`).
fn base_graphs<'a>(
    view: &CollectionView<'a>,
    fields: &[ann::GraphField],
) -> Result<Vec<Option<HnswView<'a>>>> {
    let part = &view.entry().parts[0];
    fields
        .iter()
        .map(|g| {
            let index = part.ann.iter().find(|a| a.field as usize == g.field);
            index
                .map(|a| {
                    HnswView::from_bytes(part::slice(view.image, &a.graph)?, part.rows as usize)
                })
                .transpose()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{first_merged_part, first_unsealed, SEAL_ROWS};

    /// Commits of equal batches: the tail's parts are the binary digits of the number of commits, and the
    /// merges rewrite each row at most log2(commits) times in all.
    #[test]
    fn tail_parts_merge_as_a_binary_counter() {
        const BATCH: u64 = 10;
        let mut parts: Vec<u64> = Vec::new();
        let mut rewritten = 0;
        for commit in 1..=1000u64 {
            let first = first_merged_part(&parts, BATCH);
            rewritten += parts[first..].iter().sum::<u64>();
            let merged = parts.drain(first..).sum::<u64>() + BATCH;
            parts.push(merged);
            let digits: Vec<u64> = (0..64)
                .rev()
                .filter(|bit| commit >> bit & 1 == 1)
                .map(|bit| BATCH << bit)
                .collect();
            assert_eq!(parts, digits, "after {commit} commits");
        }
        assert!(rewritten <= 1000 * BATCH * 10, "{rewritten} rows rewritten");
    }

    #[test]
    fn a_commit_without_new_rows_merges_nothing_by_size() {
        assert_eq!(first_merged_part(&[40, 20], 0), 2);
        assert_eq!(first_merged_part(&[], 5), 0);
        assert_eq!(first_merged_part(&[400, 20, 10], 1000), 0);
        assert_eq!(first_merged_part(&[400, 20, 10], 15), 1);
    }

    /// Commits of varied sizes into a collection with graphs, merged as `rebuild_entry` does: a part
    /// once sealed is never changed by a later merge, and the unsealed parts after the newest sealed one
    /// still merge as a binary counter (each under SEAL_ROWS, so O(log SEAL_ROWS) of them).
    #[test]
    fn merges_never_reach_a_sealed_part() {
        let mut parts: Vec<u64> = Vec::new();
        for commit in 1..=3000u64 {
            let new = 1 + commit * 7919 % 1500;
            let first = first_unsealed(&parts);
            let merged_from = first + first_merged_part(&parts[first..], new);
            let sealed_before = parts[..first].to_vec();
            let merged = parts.drain(merged_from..).sum::<u64>() + new;
            parts.push(merged);
            assert_eq!(parts[..first], sealed_before[..], "commit {commit}");
            let unsealed = &parts[first_unsealed(&parts)..];
            assert!(unsealed.iter().all(|&r| r < SEAL_ROWS));
            assert!(unsealed.len() <= 13, "{unsealed:?}");
        }
        assert!(
            first_unsealed(&parts) > 100,
            "most rows end up in sealed parts"
        );
        assert_eq!(first_unsealed(&[]), 0);
        assert_eq!(first_unsealed(&[SEAL_ROWS, 10, SEAL_ROWS + 1, 5]), 3);
        assert_eq!(first_unsealed(&[10, SEAL_ROWS - 1]), 0);
    }
}
