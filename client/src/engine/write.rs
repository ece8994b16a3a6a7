//! Planning mutations: each `plan_*` takes the current generation and returns the catalog of the next
//! one, after pushing any new sections (parts, deletion bitmaps) into the commit builder.

use std::collections::{HashMap, HashSet};

use super::coerce::{coerce, fill, pk_of, split};

use super::part::{self, build_part, StoredRow};
use super::{ann, CollectionView, RowId, Snapshot};
use crate::error::{Error, Result};
use crate::format::{Catalog, CollectionEntry, Part};
use crate::hnsw::HnswView;
use crate::rowview::RowFilter;
use crate::schema::{validate_collection_name, CollectionSchema, IndexSpec};
use crate::store::CommitBuilder;
use crate::value::{Pk, Row, Value};

/// Merge all of a collection's tail parts into one when more than this fraction of their stored rows are
/// deleted (otherwise they merge by size: `first_merged_part`).
const MAX_DELETED_FRACTION: f64 = 0.3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Insert,
    /// Replace the row with that key; `partial` merges the given fields into the stored row instead.
    Upsert {
        partial: bool,
    },
}

pub enum Deletion<'f> {
    Ids(&'f [Pk]),
    /// Rows the filter accepts; None deletes every row.
    Filter(Option<&'f dyn RowFilter>),
}

fn entry_mut<'c>(cat: &'c mut Catalog, name: &str) -> Result<&'c mut CollectionEntry> {
    cat.collections
        .iter_mut()
        .find(|c| c.name == name)
        .ok_or_else(|| Error::CollectionNotFound { name: name.into() })
}

fn check_index(schema: &CollectionSchema, spec: &IndexSpec) -> Result<()> {
    match schema.field(&spec.field) {
        Some(f) if f.dtype.is_vector() => Ok(()),
        Some(f) => Err(Error::invalid(format!(
            "field '{}' has type {}; covec indexes vector fields only",
            f.name,
            f.dtype.name()
        ))),
        None => Err(Error::invalid(format!(
            "cannot create index on non-existent field '{}'",
            spec.field
        ))),
    }
}

pub fn plan_create_collection(
    cat: &Catalog,
    name: &str,
    schema: CollectionSchema,
    mut indexes: Vec<IndexSpec>,
) -> Result<Catalog> {
    validate_collection_name(name)?;
    schema.validate()?;
    for spec in &mut indexes {
        ann::normalise_spec(spec)?;
    }
    if cat.collection(name).is_some() {
        return Err(Error::AlreadyExists {
            what: format!("collection '{name}'"),
        });
    }
    for (i, spec) in indexes.iter().enumerate() {
        check_index(&schema, spec)?;
        if indexes[..i].iter().any(|o| o.field == spec.field) {
            return Err(Error::IndexExists {
                field: spec.field.clone(),
            });
        }
    }
    let mut next = cat.clone();
    next.collections.push(CollectionEntry {
        name: name.into(),
        schema,
        indexes,
        next_auto_id: 1,
        parts: Vec::new(),
    });
    Ok(next)
}

pub fn plan_drop_collection(cat: &Catalog, name: &str) -> Catalog {
    let mut next = cat.clone();
    next.collections.retain(|c| c.name != name);
    next
}

pub fn plan_rename_collection(cat: &Catalog, old: &str, new: &str) -> Result<Catalog> {
    validate_collection_name(new)?;
    if cat.collection(new).is_some() {
        return Err(Error::AlreadyExists {
            what: format!("collection '{new}'"),
        });
    }
    let mut next = cat.clone();
    entry_mut(&mut next, old)?.name = new.into();
    Ok(next)
}

/// Adds an index; an approximate one on a collection of at least `MIN_GRAPH_ROWS` rows builds its
/// graph in this commit.
pub fn plan_create_index(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    collection: &str,
    mut spec: IndexSpec,
) -> Result<Catalog> {
    let view = snap.collection(collection)?;
    let mut entry = view.entry().clone();
    check_index(&entry.schema, &spec)?;
    ann::normalise_spec(&mut spec)?;
    if entry.indexes.iter().any(|i| i.field == spec.field) {
        return Err(Error::IndexExists { field: spec.field });
    }
    entry.indexes.push(spec);
    let entry = rebuild_entry(&view, b, entry, &HashSet::new(), Vec::new(), false)?;
    Ok(replace_entry(snap.catalog(), entry))
}

/// Puts the live rows outside the graph (the tail) into it now instead of when they pass
/// `TAIL_PERCENT`: `flush`, as Milvus seals growing segments and indexes them. None when no row is
/// pending (`CollectionView::pending_index_rows`).
pub fn plan_index_pending(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    collection: &str,
) -> Result<Option<Catalog>> {
    let view = snap.collection(collection)?;
    if view.pending_index_rows()? == 0 {
        return Ok(None);
    }
    let entry = rebuild_entry(
        &view,
        b,
        view.entry().clone(),
        &HashSet::new(),
        Vec::new(),
        true,
    )?;
    Ok(Some(replace_entry(snap.catalog(), entry)))
}

pub fn plan_drop_index(cat: &Catalog, collection: &str, index_name: &str) -> Result<Catalog> {
    let mut next = cat.clone();
    let entry = entry_mut(&mut next, collection)?;
    let Some(at) = entry
        .indexes
        .iter()
        .position(|i| i.index_name == index_name)
    else {
        return Err(Error::IndexNotFound {
            name: index_name.into(),
        });
    };
    let spec = entry.indexes.remove(at);
    // The field's graphs go with the index; compaction reclaims their bytes.
    if let Some(field) = entry
        .schema
        .fields
        .iter()
        .position(|f| f.name == spec.field)
    {
        for part in &mut entry.parts {
            part.ann.retain(|a| a.field as usize != field);
        }
    }
    Ok(next)
}

/// Plans an insert or upsert of `rows` into collection `name`: returns the next catalog and the
/// rows' primary keys in input order. Within the batch and against stored rows, the last write of a
/// key wins.
pub fn plan_write(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    name: &str,
    rows: Vec<Row>,
    mode: WriteMode,
) -> Result<(Catalog, Vec<Pk>)> {
    let view = snap.collection(name)?;
    let schema = view.schema();
    let pk_col = schema
        .fields
        .iter()
        .position(|f| f.is_primary)
        .ok_or_else(|| Error::Internal("schema without primary key".into()))?;
    let pk_field = &schema.fields[pk_col];
    let mut next_auto_id = view.entry().next_auto_id;
    let mut batch: Vec<StoredRow> = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut latest: HashMap<Pk, usize> = HashMap::new();
    for row in rows {
        let (mut given, dynamic) = split(schema, row)?;
        let pk_value = match given[pk_col].take() {
            Some(v) if v != Value::Null => coerce(pk_field, v)?,
            _ if pk_field.auto_id && mode == WriteMode::Insert => {
                let id = next_auto_id;
                next_auto_id = id
                    .checked_add(1)
                    .ok_or_else(|| Error::invalid("auto_id counter exhausted"))?;
                Value::Int(id)
            }
            _ => fill(pk_field, None)?,
        };
        if let (true, Value::Int(i)) = (pk_field.auto_id, &pk_value) {
            // An explicit id must not be handed out again by the counter.
            next_auto_id = next_auto_id.max(i.saturating_add(1));
        }
        let pk = pk_of(&pk_value)?;
        let base = match mode {
            WriteMode::Upsert { partial: true } => match latest.get(&pk) {
                Some(&i) => Some(batch[i].clone()),
                None => match view.find(&pk) {
                    Some(id) => {
                        let (values, dynamic) = view.stored_row(id)?;
                        Some(StoredRow { values, dynamic })
                    }
                    None => None,
                },
            },
            _ => None,
        };
        let new = match base {
            Some(mut base) => {
                for (c, v) in given.into_iter().enumerate() {
                    if let Some(v) = v {
                        base.values[c] = fill(&schema.fields[c], Some(v))?;
                    }
                }
                base.values[pk_col] = pk_value;
                base.dynamic.extend(dynamic);
                base
            }
            None => {
                let mut values = Vec::with_capacity(given.len());
                for (c, v) in given.into_iter().enumerate() {
                    values.push(if c == pk_col {
                        pk_value.clone()
                    } else {
                        fill(&schema.fields[c], v)?
                    });
                }
                StoredRow { values, dynamic }
            }
        };
        latest.insert(pk.clone(), batch.len());
        batch.push(new);
        ids.push(pk);
    }
    let survivors: Vec<StoredRow> = batch
        .into_iter()
        .enumerate()
        .filter(|(i, _)| latest.get(&ids[*i]) == Some(i))
        .map(|(_, r)| r)
        .collect();
    let shadowed: HashSet<RowId> = latest.keys().filter_map(|pk| view.find(pk)).collect();
    let mut entry = rebuild_entry(&view, b, view.entry().clone(), &shadowed, survivors, false)?;
    entry.next_auto_id = next_auto_id;
    Ok((replace_entry(snap.catalog(), entry), ids))
}

/// Plans a delete; returns the next catalog and how many live rows it deletes.
pub fn plan_delete(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    name: &str,
    which: Deletion<'_>,
) -> Result<(Catalog, u64)> {
    let view = snap.collection(name)?;
    let doomed: HashSet<RowId> = match which {
        Deletion::Ids(ids) => ids.iter().filter_map(|pk| view.find(pk)).collect(),
        Deletion::Filter(f) => view.matching(f).into_iter().collect(),
    };
    let n = doomed.len() as u64;
    if n == 0 {
        return Ok((snap.catalog().clone(), 0));
    }
    let entry = rebuild_entry(&view, b, view.entry().clone(), &doomed, Vec::new(), false)?;
    Ok((replace_entry(snap.catalog(), entry), n))
}

fn replace_entry(cat: &Catalog, entry: CollectionEntry) -> Catalog {
    let mut next = cat.clone();
    for c in &mut next.collections {
        if c.name == entry.name {
            *c = entry;
            break;
        }
    }
    next
}

/// The collection after deleting `doomed` rows and appending `new_rows` as a part, starting from
/// `entry` (the view's entry, possibly with a changed index list).
///
/// With an approximate index on a collection of at least `MIN_GRAPH_ROWS` live rows, every live row is
/// rewritten as one part with a fresh graph when there is no graph yet, when the rows outside the
/// graph (the tail) exceed `TAIL_PERCENT` % of the indexed rows, or when deleted indexed rows exceed
/// `DELETED_PERCENT` %, or, with `index_tail`, when there is any live tail row. Otherwise only the
/// tail parts are ever merged (all of them when more than MAX_DELETED_FRACTION of the tail is deleted,
/// else the newest by size, `first_merged_part`): a graph is never dropped by a merge.
fn rebuild_entry(
    view: &CollectionView<'_>,
    b: &mut CommitBuilder,
    mut entry: CollectionEntry,
    doomed: &HashSet<RowId>,
    new_rows: Vec<StoredRow>,
    index_tail: bool,
) -> Result<CollectionEntry> {
    let fields = ann::graph_fields(&entry)?;
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
    let rebuild = !fields.is_empty()
        && live >= ann::MIN_GRAPH_ROWS
        && (indexed_rows == 0
            || tail_live * 100 > indexed_rows * ann::TAIL_PERCENT
            || indexed_deleted * 100 > indexed_rows * ann::DELETED_PERCENT
            || (index_tail && tail_live > 0));
    // The graph is extended rather than rebuilt when the only indexed part is the first and lost no
    // row: its rows then come first in the merged part, in insertion order, as extending requires.
    let extendable =
        indexed_deleted == 0 && indexed.iter().filter(|&&g| g).count() == 1 && indexed[0];
    let tail: Vec<usize> = (0..indexed.len()).filter(|&pi| !indexed[pi]).collect();
    let merged_tail =
        if tail_stored > 0 && tail_deleted as f64 / tail_stored as f64 > MAX_DELETED_FRACTION {
            &tail[..]
        } else {
            let rows: Vec<u64> = tail.iter().map(|&pi| entry.parts[pi].rows).collect();
            &tail[first_merged_part(&rows, new_rows.len() as u64)..]
        };
    if rebuild || !merged_tail.is_empty() {
        // Rewrite every live row of the parts being merged (all parts on a rebuild) as one part.
        let merged = |pi: usize| rebuild || merged_tail.contains(&pi);
        // Only the merged parts' rows are read: a commit that merges a small tail leaves the indexed
        // part's rows alone.
        let mut rows = Vec::new();
        for pi in (0..entry.parts.len()).filter(|&pi| merged(pi)) {
            for id in live_rows_as_inserted(view, pi)? {
                if !doomed.contains(&id) {
                    let (values, dynamic) = view.stored_row(id)?;
                    rows.push(StoredRow { values, dynamic });
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
        if let Some(p) = build_part(&entry.schema, &rows, b, graphs, &bases)? {
            entry.parts.push(p);
        }
        return Ok(entry);
    }
    mark_deleted(view, b, &mut entry, doomed)?;
    if let Some(p) = build_part(&entry.schema, &new_rows, b, &[], &[])? {
        entry.parts.push(p);
    }
    Ok(entry)
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
    let mut by_part: HashMap<usize, Vec<usize>> = HashMap::new();
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
    use super::first_merged_part;

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
}
