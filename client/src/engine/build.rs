//! Graph builds outside the writer lock (docs/ann.md, "Growing graphs outside the writer's commit"). A
//! build reads a committed generation without the lock (`prepare_index_pending`) and encodes its new
//! part into a prepared builder; under the lock (`plan_take_build`) it is kept only when the collection
//! still has the same schema and indexes and every part it consumed is still there, and the rows deleted
//! from those parts meanwhile (deletes, upserts, a dropped partition) are deleted in the new part too.

use std::collections::HashSet;

use super::ann::{self, MAX_TAIL_ROWS};
use super::merge::{over_deleted, rebuild_entry_traced, Rewrite};
use super::write::replace_entry;
use super::{part, CollectionView, RowId, Scope, Snapshot};
use crate::error::Result;
use crate::format::{Catalog, CollectionEntry, Part};
use crate::hnsw::HnswView;
use crate::schema::{CollectionSchema, IndexSpec};
use crate::store::CommitBuilder;

/// What a write commit that leaves a collection as `entry` asks of the graph builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildNeed {
    /// Nothing: no graph is due, the tail is within its start threshold and the graph within its
    /// deletion threshold.
    Nothing,
    /// Start a builder, if none runs: the tail passed `min(TAIL_PERCENT % of indexed rows,
    /// MAX_TAIL_ROWS / 2)` (any tail, when there is no graph yet), or deleted rows inside the graph
    /// passed `DELETED_PERCENT` %.
    Start,
    /// The tail passed `MAX_TAIL_ROWS`: the writer waits until a build brings it back under.
    Wait,
}

/// Which rows a build consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildScope {
    /// The builder's: the indexed part and the tail parts up to the newest sealed one (which no
    /// commit merges), or the whole tail when none of them holds a live row.
    Sealed,
    /// flush's: the whole tail.
    Tail,
}

impl BuildScope {
    pub(super) fn rewrite(self) -> Rewrite {
        match self {
            BuildScope::Sealed => Rewrite::IndexSealed,
            BuildScope::Tail => Rewrite::IndexTail,
        }
    }
}

/// A collection's live rows: inside its graphs (`indexed`, stored; `indexed_deleted` of them deleted),
/// outside (`tail`), and in all.
struct Counts {
    indexed: u64,
    indexed_deleted: u64,
    tail: u64,
    all: u64,
}

impl Counts {
    /// Deleted rows inside the graphs passed `DELETED_PERCENT` % of a collection big enough for a graph:
    /// a build rebuilds them.
    fn rebuild_due(&self) -> bool {
        self.all >= ann::MIN_GRAPH_ROWS && over_deleted(self.indexed, self.indexed_deleted)
    }
}

fn counts(entry: &CollectionEntry, fields: &[ann::GraphField]) -> Counts {
    // Saturating: the counts come from the file.
    let live = |p: &Part| p.rows.saturating_sub(p.deleted_count);
    let mut c = Counts {
        indexed: 0,
        indexed_deleted: 0,
        tail: 0,
        all: 0,
    };
    for p in &entry.parts {
        c.all = c.all.saturating_add(live(p));
        match ann::covers(&p.ann, fields) {
            true => {
                c.indexed = c.indexed.saturating_add(p.rows);
                c.indexed_deleted = c.indexed_deleted.saturating_add(p.deleted_count);
            }
            false => c.tail = c.tail.saturating_add(live(p)),
        }
    }
    c
}

/// What the commit that left `entry` asks of the builder (docs/ann.md, "The builder").
pub fn build_need(entry: &CollectionEntry) -> Result<BuildNeed> {
    let fields = ann::graph_fields(entry)?;
    if fields.is_empty() {
        return Ok(BuildNeed::Nothing);
    }
    let c = counts(entry, &fields);
    let start = (c.indexed.saturating_mul(ann::TAIL_PERCENT) / 100).min(MAX_TAIL_ROWS / 2);
    Ok(if c.all < ann::MIN_GRAPH_ROWS {
        BuildNeed::Nothing
    } else if c.tail > MAX_TAIL_ROWS {
        BuildNeed::Wait
    } else if c.tail > start || c.rebuild_due() {
        BuildNeed::Start
    } else {
        BuildNeed::Nothing
    })
}

/// Whether a build of the collection would change it: a live row outside the graph, or deleted
/// rows inside it past `DELETED_PERCENT` %.
pub(super) fn build_due(view: &CollectionView<'_>) -> Result<bool> {
    if view.pending_index_rows()? > 0 {
        return Ok(true);
    }
    let fields = ann::graph_fields(view.entry())?;
    let c = counts(view.entry(), &fields);
    Ok(!fields.is_empty() && c.rebuild_due())
}

/// A build encoded from one generation, waiting for the writer lock.
pub struct PreparedBuild {
    collection: u64,
    schema: CollectionSchema,
    indexes: Vec<IndexSpec>,
    /// The parts the build rewrote, as that generation had them.
    consumed: Vec<Part>,
    /// `rows[k]`: the consumed row (index into `consumed`, row) that became the new part's row `k`.
    rows: Vec<(usize, usize)>,
    /// The new part; its sections' offsets index `bytes`.
    new_part: Part,
    bytes: CommitBuilder,
}

impl PreparedBuild {
    /// Rows the new part holds.
    pub fn rows(&self) -> u64 {
        self.new_part.rows
    }

    /// The new part's bytes, which its sections' offsets index from 0: a reservation of their length
    /// holds them, its sections then moved by the reservation's offset (`plan_take_build`).
    pub fn bytes(&self) -> Result<&[u8]> {
        self.bytes
            .prepared_bytes()
            .ok_or_else(|| super::corrupt("a build's bytes are not one run"))
    }
}

/// Puts the target collection's live rows outside its graphs (those `scope` names) into them, and
/// rebuilds graphs past `DELETED_PERCENT` % deletions, as `plan_index_pending` does, but reading `snap`
/// (a generation opened without the writer lock) and encoding into a prepared builder. None when no
/// build is due.
pub fn prepare_index_pending(
    snap: &Snapshot<'_>,
    target: Scope<'_>,
    scope: BuildScope,
) -> Result<Option<PreparedBuild>> {
    let view = snap.collection(target.db, target.collection)?;
    if !build_due(&view)? {
        return Ok(None);
    }
    let before = view.entry();
    let mut bytes = CommitBuilder::prepared();
    let (after, fed) = rebuild_entry_traced(
        &view,
        &mut bytes,
        before.clone(),
        &HashSet::new(),
        Vec::new(),
        scope.rewrite(),
    )?;
    // Without deletions, the parts a rewrite leaves are the view's as they were, and the one it wrote
    // comes last.
    let consumed_at: Vec<usize> = (0..before.parts.len())
        .filter(|&pi| !after.parts.contains(&before.parts[pi]))
        .collect();
    let Some(new_part) = after.parts.last().filter(|p| !before.parts.contains(p)) else {
        return Ok(None);
    };
    let order = inserted_order(&bytes, new_part, fed.len())?;
    let mut rows = vec![(0, 0); fed.len()];
    for (RowId { part, row }, slot) in fed.into_iter().zip(order) {
        let ci = consumed_at.iter().position(|&pi| pi == part);
        rows[slot] = (
            ci.ok_or_else(|| super::corrupt("a build read a part it kept"))?,
            row,
        );
    }
    Ok(Some(PreparedBuild {
        collection: before.id,
        schema: before.schema.clone(),
        indexes: before.indexes.clone(),
        consumed: consumed_at
            .iter()
            .map(|&pi| before.parts[pi].clone())
            .collect(),
        rows,
        new_part: new_part.clone(),
        bytes,
    }))
}

/// Where the new part stores its `k`-th inserted row, for `k` in 0..n: its graphs record it; a part
/// without graphs stores rows as inserted.
fn inserted_order(bytes: &CommitBuilder, part: &Part, n: usize) -> Result<Vec<usize>> {
    let Some(index) = part.ann.first() else {
        return Ok((0..n).collect());
    };
    let image = bytes
        .prepared_bytes()
        .ok_or_else(|| super::corrupt("a build's bytes are not one run"))?;
    let graph = HnswView::from_bytes(part::slice(image, &index.graph)?, part.rows as usize)?;
    Ok((0..n).map(|k| graph.inserted(k) as usize).collect())
}

/// The part's rows and the sections derived from them alone: what a deletion or a compaction leaves
/// as it is (a deletion changes the bitmap and BM25's deleted-row statistics; a compaction moves offsets).
fn content(p: &Part) -> Part {
    let mut p = p.clone();
    p.deleted = None;
    p.deleted_count = 0;
    p.text.iter_mut().for_each(|t| t.stats = None);
    p.for_each_section_mut(|s| s.offset = 0);
    p
}

/// Under the writer lock, over the newest generation `snap`: the next catalog with `build`'s new part
/// in place of the parts it consumed, or None when the collection changed so that the build no
/// longer applies (it is then dropped; the caller may prepare it again).
///
/// `placed`: where the newest generation's file already holds the build's bytes (a filled reservation);
/// None appends them to `b`.
pub fn plan_take_build(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    mut build: PreparedBuild,
    placed: Option<u64>,
) -> Result<Option<Catalog>> {
    let Some(now) = snap
        .catalog()
        .collections
        .iter()
        .find(|c| c.id == build.collection)
    else {
        return Ok(None);
    };
    if now.schema != build.schema || now.indexes != build.indexes {
        return Ok(None);
    }
    // Each consumed part, found by its content (a part may hold the same rows as another only if it
    // is empty of live rows, so the first unclaimed match is as good as any).
    let mut found: Vec<usize> = Vec::with_capacity(build.consumed.len());
    for c in build.consumed.iter().map(content) {
        let hit =
            (0..now.parts.len()).find(|&pi| !found.contains(&pi) && content(&now.parts[pi]) == c);
        match hit {
            Some(pi) => found.push(pi),
            None => return Ok(None),
        }
    }
    let view = snap.collection(&now.db, &now.name)?;
    let gone: Vec<usize> = (0..build.rows.len())
        .filter(|&k| {
            let (ci, row) = build.rows[k];
            !view.parts[found[ci]].is_live(row)
        })
        .collect();
    let mut new_part = build.new_part;
    match placed {
        Some(at) => {
            new_part.rebase(at);
            if !gone.is_empty() {
                part::delete_rows(snap.image(), &mut new_part, &gone, b)?;
            }
        }
        None => {
            if !gone.is_empty() {
                build.bytes.extend_reading(|image, more| {
                    part::delete_rows(image, &mut new_part, &gone, more)
                })?;
            }
            new_part.rebase(b.append(build.bytes));
        }
    }
    let next = CollectionEntry {
        parts: std::iter::once(new_part)
            .chain(
                (0..now.parts.len())
                    .filter(|pi| !found.contains(pi))
                    .map(|pi| now.parts[pi].clone()),
            )
            .collect(),
        ..now.clone()
    };
    Ok(Some(replace_entry(snap.catalog(), next)))
}
