//! Planning mutations: each `plan_*` takes the current generation and returns the catalog of the next
//! one, after pushing any new sections (parts, deletion bitmaps) into the commit builder; which parts a
//! write rewrites is `merge`'s decision.

use std::collections::{HashMap, HashSet};

use super::coerce::{coerce, fill, pk_of, split};
use super::merge::rebuild_entry;
use super::part::StoredRow;
use super::{ann, RowId, Snapshot};
use crate::error::{Error, Result};
use crate::format::{
    Catalog, CollectionEntry, PartitionEntry, DEFAULT_DATABASE, DEFAULT_PARTITION,
};
use crate::rowview::RowFilter;
use crate::schema::{validate_collection_name, CollectionSchema, IndexSpec};
use crate::store::CommitBuilder;
use crate::value::{Pk, Row, Value};

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
        .find(|c| c.db == DEFAULT_DATABASE && c.name == name)
        .ok_or_else(|| Error::CollectionNotFound { name: name.into() })
}

/// Everything create_collection checks of a schema by itself, in the same order: what
/// `CollectionSchema.verify()` runs, so both raise the same error.
pub fn check_new_schema(schema: &CollectionSchema) -> Result<()> {
    schema.validate()?;
    check_supported(schema)
}

/// Refuses what the schema asks for that covec cannot run yet, naming it: functions.
fn check_supported(schema: &CollectionSchema) -> Result<()> {
    if let Some(function) = schema.functions.first() {
        return Err(Error::invalid(format!(
            "function '{}': schema functions (BM25) are not supported by covec yet",
            function.name
        )));
    }
    Ok(())
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
    mut schema: CollectionSchema,
    mut indexes: Vec<IndexSpec>,
) -> Result<Catalog> {
    validate_collection_name(name)?;
    check_new_schema(&schema)?;
    schema.number_fields();
    for spec in &mut indexes {
        ann::normalise_spec(spec, &schema)?;
    }
    if cat.collection(DEFAULT_DATABASE, name).is_some() {
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
        db: DEFAULT_DATABASE.into(),
        name: name.into(),
        id: next.next_id,
        schema,
        indexes,
        properties: Vec::new(),
        partitions: vec![PartitionEntry {
            id: 0,
            name: DEFAULT_PARTITION.into(),
        }],
        next_partition_id: 1,
        next_auto_id: 1,
        parts: Vec::new(),
    });
    next.next_id += 1;
    Ok(next)
}

pub fn plan_drop_collection(cat: &Catalog, name: &str) -> Catalog {
    let mut next = cat.clone();
    next.collections
        .retain(|c| !(c.db == DEFAULT_DATABASE && c.name == name));
    next
}

pub fn plan_rename_collection(cat: &Catalog, old: &str, new: &str) -> Result<Catalog> {
    validate_collection_name(new)?;
    if cat.collection(DEFAULT_DATABASE, new).is_some() {
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
    ann::normalise_spec(&mut spec, &entry.schema)?;
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
    // The field's graphs and inverted indexes go with the index; compaction reclaims their bytes.
    if let Some(field) = entry
        .schema
        .fields
        .iter()
        .position(|f| f.name == spec.field)
    {
        for part in &mut entry.parts {
            part.ann.retain(|a| a.field as usize != field);
            part.text.retain(|t| t.field as usize != field);
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
    let zone = snap.zone(view.entry())?;
    let partition = view
        .entry()
        .partition(DEFAULT_PARTITION)
        .ok_or_else(|| Error::Internal("collection without its default partition".into()))?
        .id;
    let mut next_auto_id = view.entry().next_auto_id;
    let mut batch: Vec<StoredRow> = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    let mut latest: HashMap<Pk, usize> = HashMap::new();
    for row in rows {
        let (mut given, dynamic) = split(schema, row)?;
        let pk_value = match given[pk_col].take() {
            Some(v) if v != Value::Null => coerce(pk_field, v, &zone)?,
            _ if pk_field.auto_id && mode == WriteMode::Insert => {
                let id = next_auto_id;
                next_auto_id = id
                    .checked_add(1)
                    .ok_or_else(|| Error::invalid("auto_id counter exhausted"))?;
                Value::Int(id)
            }
            _ => fill(pk_field, None, &zone)?,
        };
        if let (true, Value::Int(i)) = (pk_field.auto_id, &pk_value) {
            // An explicit id must not be handed out again by the counter.
            next_auto_id = next_auto_id.max(i.saturating_add(1));
        }
        let pk = pk_of(&pk_value)?;
        let base = match mode {
            WriteMode::Upsert { partial: true } => match latest.get(&pk) {
                Some(&i) => Some(batch[i].clone()),
                None => view.find(&pk).map(|id| view.stored_row(id)).transpose()?,
            },
            _ => None,
        };
        let new = match base {
            Some(mut base) => {
                for (c, v) in given.into_iter().enumerate() {
                    if let Some(v) = v {
                        base.values[c] = fill(&schema.fields[c], Some(v), &zone)?;
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
                        fill(&schema.fields[c], v, &zone)?
                    });
                }
                StoredRow {
                    values,
                    dynamic,
                    partition,
                }
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
        if c.id == entry.id {
            *c = entry;
            break;
        }
    }
    next
}
