//! Planning mutations of collections and rows: each `plan_*` takes the current generation and returns
//! the catalog of the next one, after pushing any new sections (parts, deletion bitmaps) into the commit
//! builder; which parts a write rewrites is `merge`'s decision. Mutations of the catalog alone
//! (databases, aliases, properties, ...) are `catalog`'s.

use std::collections::{HashMap, HashSet};

use super::build::{build_due, BuildScope};
use super::catalog::{self, check_free_name, droppable_partition, entry_mut, initial_partitions};
use super::coerce::{coerce, fill, pk_of, settle_default, split};
use super::merge::{rebuild_entry, Rewrite};
use super::part::StoredRow;
use super::{ann, route, CollectionView, RowId, Scope, Snapshot};
use crate::error::{Error, Result};
use crate::format::{Catalog, CollectionEntry, PartitionEntry, DEFAULT_PARTITION};
use crate::fulltext::{self, FullText};
use crate::rowview::RowFilter;
use crate::schema::{
    check_scalar_index, index_names, resolve_index_name, validate_collection_name,
    CollectionSchema, IndexSpec, ScalarIndexSpec,
};
use crate::store::CommitBuilder;
use crate::value::{Pk, Row, Value};

/// What create_collection makes.
#[derive(Debug, Clone)]
pub struct NewCollection {
    pub schema: CollectionSchema,
    pub indexes: Vec<IndexSpec>,
    pub scalar_indexes: Vec<ScalarIndexSpec>,
    /// Collection properties (shown by describe_collection).
    pub properties: Vec<(String, String)>,
    /// The buckets of a partition-key collection; None: 16. Refused without a partition key.
    pub num_partitions: Option<u32>,
}

impl NewCollection {
    /// A collection of `schema` with these indexes, no properties, default partitions.
    pub fn new(schema: CollectionSchema, indexes: Vec<IndexSpec>) -> NewCollection {
        NewCollection {
            schema,
            indexes,
            scalar_indexes: Vec::new(),
            properties: Vec::new(),
            num_partitions: None,
        }
    }
}

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

/// Everything create_collection checks of a schema by itself, in the same order: what
/// `CollectionSchema.verify()` runs, so both raise the same error. Functions and analyzers first (pymilvus
/// checks them on the client), then the fields.
pub fn check_new_schema(schema: &CollectionSchema) -> Result<()> {
    fulltext::validate(schema)?;
    schema.validate()
}

/// Refuses a second index on a field (code 35, Milvus Lite's message) and a name another index of the
/// collection has.
fn check_index_free(entry: &CollectionEntry, field: &str, index_name: &str) -> Result<()> {
    let mut taken = index_names(&entry.indexes, &entry.scalar_indexes);
    match taken.find(|(f, n)| *f == field || *n == index_name) {
        Some((f, _)) if f == field => Err(Error::IndexExists {
            field: field.into(),
        }),
        Some((f, _)) => Err(Error::invalid_code(
            35,
            format!("index name '{index_name}' is taken by the index on field '{f}'"),
        )),
        None => Ok(()),
    }
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
    db: &str,
    name: &str,
    new: NewCollection,
) -> Result<Catalog> {
    validate_collection_name(name)?;
    let NewCollection {
        mut schema,
        mut indexes,
        scalar_indexes,
        properties: given,
        num_partitions,
    } = new;
    catalog::database(cat, db)?;
    check_new_schema(&schema)?;
    schema.number_fields();
    let partitions = initial_partitions(schema.partition_key().is_some(), num_partitions)?;
    let mut properties = Vec::new();
    catalog::edit_properties(&mut properties, &given, &[])?;
    for spec in &mut indexes {
        ann::normalise_spec(spec, &schema)?;
    }
    check_free_name(cat, db, name)?;
    let mut entry = CollectionEntry {
        db: db.into(),
        name: name.into(),
        id: cat.next_id,
        schema,
        indexes: Vec::new(),
        properties,
        next_partition_id: partitions.len() as u32,
        partitions,
        next_auto_id: 1,
        parts: Vec::new(),
        scalar_indexes: Vec::new(),
    };
    for spec in indexes {
        check_index(&entry.schema, &spec)?;
        check_index_free(&entry, &spec.field, &spec.index_name)?;
        entry.indexes.push(spec);
    }
    for spec in scalar_indexes {
        add_scalar_index(&mut entry, spec)?;
    }
    let zone = catalog::zone(cat, &entry)?;
    for f in &mut entry.schema.fields {
        settle_default(f, &zone)?;
    }
    let mut next = cat.clone();
    next.collections.push(entry);
    next.next_id += 1;
    Ok(next)
}

/// Refuses a collection name that is an alias, as Milvus refuses dropping or renaming through one.
fn not_an_alias(cat: &Catalog, db: &str, name: &str, what: &str) -> Result<()> {
    match cat.alias(db, name) {
        Some(_) => Err(Error::invalid_code(1, format!("{what}, alias = {name}"))),
        None => Ok(()),
    }
}

/// None when there is no such collection (dropping it is not an error, as in Milvus). A collection
/// with aliases is not dropped, as the Milvus server refuses it.
pub fn plan_drop_collection(cat: &Catalog, db: &str, name: &str) -> Result<Option<Catalog>> {
    catalog::database(cat, db)?;
    not_an_alias(cat, db, name, "cannot drop the collection via alias")?;
    let Some(entry) = cat.collection(db, name) else {
        return Ok(None);
    };
    let aliases: Vec<&str> = cat.aliases_of(entry.id).collect();
    if !aliases.is_empty() {
        return Err(Error::invalid_code(
            1,
            format!(
                "unable to drop the collection [{name}] because it has associated aliases [{}], please remove all aliases before dropping the collection",
                aliases.join(" ")
            ),
        ));
    }
    let mut next = cat.clone();
    let id = entry.id;
    next.collections.retain(|c| c.id != id);
    Ok(Some(next))
}

/// Renames a collection, into another database when `to.db` differs; its aliases stay with it, so it
/// cannot leave their database.
pub fn plan_rename_collection(cat: &Catalog, from: Scope<'_>, to: Scope<'_>) -> Result<Catalog> {
    catalog::database(cat, to.db)?;
    not_an_alias(
        cat,
        from.db,
        from.collection,
        "unsupported use an alias to rename collection",
    )?;
    check_free_name(cat, to.db, to.collection)?;
    let mut next = cat.clone();
    let entry = entry_mut(&mut next, from.db, from.collection)?;
    let id = entry.id;
    entry.db = to.db.into();
    entry.name = to.collection.into();
    if from.db != to.db && cat.aliases_of(id).next().is_some() {
        return Err(Error::invalid_code(
            1,
            format!(
                "cannot move collection '{}' to database '{}' while it has aliases; drop them first",
                from.collection, to.db
            ),
        ));
    }
    Ok(next)
}

/// Adds an index; an approximate one on a collection of at least `MIN_GRAPH_ROWS` rows builds its
/// graph in this commit.
pub fn plan_create_index(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    target: Scope<'_>,
    mut spec: IndexSpec,
) -> Result<Catalog> {
    let view = snap.collection(target.db, target.collection)?;
    let mut entry = view.entry().clone();
    check_index(&entry.schema, &spec)?;
    ann::normalise_spec(&mut spec, &entry.schema)?;
    check_index_free(&entry, &spec.field, &spec.index_name)?;
    entry.indexes.push(spec);
    // The index's graph is built in its own commit, as Milvus's create_index builds before it returns.
    let entry = rebuild_entry(
        &view,
        b,
        entry,
        &HashSet::new(),
        Vec::new(),
        Rewrite::IndexTail,
    )?;
    Ok(replace_entry(snap.catalog(), entry))
}

/// Adds a scalar index: metadata only, no commit of rows (covec's filters scan; docs/compatibility.md).
pub fn plan_create_scalar_index(
    cat: &Catalog,
    target: Scope<'_>,
    spec: ScalarIndexSpec,
) -> Result<Catalog> {
    let mut next = cat.clone();
    add_scalar_index(entry_mut(&mut next, target.db, target.collection)?, spec)?;
    Ok(next)
}

fn add_scalar_index(entry: &mut CollectionEntry, spec: ScalarIndexSpec) -> Result<()> {
    let f = entry.schema.field(&spec.field).ok_or_else(|| {
        Error::invalid(format!(
            "cannot create index on non-existent field '{}'",
            spec.field
        ))
    })?;
    check_scalar_index(f, &spec.index_type, None)?;
    check_index_free(entry, &spec.field, &spec.index_name)?;
    entry.scalar_indexes.push(spec);
    Ok(())
}

/// A build under the writer lock (`prepare_index_pending`'s last resort): puts the live rows outside
/// the graph that `scope` names into it, and rebuilds a graph past `DELETED_PERCENT` % deletions. None
/// when no build is due.
pub fn plan_index_pending(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    target: Scope<'_>,
    scope: BuildScope,
) -> Result<Option<Catalog>> {
    let view = snap.collection(target.db, target.collection)?;
    if !build_due(&view)? {
        return Ok(None);
    }
    rewrite(snap, b, &view, scope.rewrite()).map(Some)
}

/// Rewrites the collection's live rows into one part (graphs rebuilt), so nothing deleted, shadowed or
/// dropped with a partition is kept (compact); None when there is nothing to reclaim.
pub fn plan_compact(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    target: Scope<'_>,
) -> Result<Option<Catalog>> {
    let view = snap.collection(target.db, target.collection)?;
    let parts = &view.entry().parts;
    if parts.len() <= 1 && parts.iter().all(|p| p.deleted_count == 0) {
        return Ok(None);
    }
    rewrite(snap, b, &view, Rewrite::All).map(Some)
}

fn rewrite(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    view: &CollectionView<'_>,
    how: Rewrite,
) -> Result<Catalog> {
    let entry = rebuild_entry(
        view,
        b,
        view.entry().clone(),
        &HashSet::new(),
        Vec::new(),
        how,
    )?;
    Ok(replace_entry(snap.catalog(), entry))
}

/// Empties the collection, keeping its schema, indexes, partitions, aliases and properties.
pub fn plan_truncate(cat: &Catalog, target: Scope<'_>) -> Result<Catalog> {
    let mut next = cat.clone();
    entry_mut(&mut next, target.db, target.collection)?
        .parts
        .clear();
    Ok(next)
}

/// Drops a partition and deletes its rows.
pub fn plan_drop_partition(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    target: Scope<'_>,
    name: &str,
) -> Result<Catalog> {
    let view = snap.collection(target.db, target.collection)?;
    let id = droppable_partition(view.entry(), name)?;
    let doomed: HashSet<RowId> = snap
        .collection(target.db, target.collection)?
        .confined_to(vec![id])
        .matching(None)?
        .into_iter()
        .collect();
    let mut entry = view.entry().clone();
    entry.partitions.retain(|p| p.id != id);
    let entry = rebuild_entry(&view, b, entry, &doomed, Vec::new(), Rewrite::AsNeeded)?;
    Ok(replace_entry(snap.catalog(), entry))
}

/// Drops the index `index_name` names (`schema::resolve_index_name`), loaded or not: a search of its
/// field afterwards is exact.
pub fn plan_drop_index(cat: &Catalog, target: Scope<'_>, index_name: &str) -> Result<Catalog> {
    let mut next = cat.clone();
    let entry = entry_mut(&mut next, target.db, target.collection)?;
    let names = index_names(&entry.indexes, &entry.scalar_indexes);
    let Some(at) = resolve_index_name(names, index_name) else {
        return Err(Error::IndexNotFound {
            name: index_name.into(),
        });
    };
    if at >= entry.indexes.len() {
        entry.scalar_indexes.remove(at - entry.indexes.len());
        return Ok(next);
    }
    let spec = entry.indexes.remove(at);
    // The field's graphs and inverted indexes go with the index (compaction reclaims their bytes),
    // but for a BM25 output's, which every part carries, indexed or not (docs/format.md).
    if let Some(field) = entry
        .schema
        .fields
        .iter()
        .position(|f| f.name == spec.field)
    {
        let keep_text = entry.schema.fields[field].is_function_output;
        for part in &mut entry.parts {
            part.ann.retain(|a| a.field as usize != field);
            part.text.retain(|t| keep_text || t.field as usize != field);
        }
    }
    Ok(next)
}

/// Where a write's rows go.
enum Route<'e> {
    /// Every row into the partition of this id.
    One(u32),
    /// Each row into the partition of its key's bucket (`route::bucket`); `col` is the key's schema
    /// position.
    Key {
        col: usize,
        partitions: &'e [PartitionEntry],
    },
}

impl<'e> Route<'e> {
    /// The route of a write to `entry` that names `partitions` (none, or the one it writes to).
    fn of(entry: &'e CollectionEntry, partitions: &[String]) -> Result<Route<'e>> {
        match (entry.schema.partition_key(), partitions) {
            (Some((col, _)), []) => Ok(Route::Key {
                col,
                partitions: &entry.partitions,
            }),
            (Some(_), _) => Err(catalog::partitions_named_with_key()),
            (None, []) => Ok(Route::One(catalog::partition(entry, DEFAULT_PARTITION)?.id)),
            (None, [name]) => Ok(Route::One(catalog::partition(entry, name)?.id)),
            (None, names) => Err(Error::param(format!(
                "a write goes to one partition, got {} partition names",
                names.len()
            ))),
        }
    }

    /// The partition of a row of these values (in stored form).
    fn partition(&self, values: &[Value]) -> Result<u32> {
        match self {
            Route::One(id) => Ok(*id),
            Route::Key { col, partitions } => {
                let bucket = route::bucket(&values[*col], partitions.len() as u32)
                    .ok_or_else(|| Error::Internal("partition key without a key value".into()))?;
                Ok(partitions[bucket as usize].id)
            }
        }
    }
}

/// Plans an insert or upsert of `rows` into the target collection (into its one named partition, else
/// "_default" or where the partition key sends each row): returns the next catalog and the rows'
/// primary keys in input order. Within the batch and against stored rows, the last write of a key wins,
/// whatever partition the older row is in.
pub fn plan_write(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    target: Scope<'_>,
    rows: Vec<Row>,
    mode: WriteMode,
) -> Result<(Catalog, Vec<Pk>)> {
    let view = snap.collection(target.db, target.collection)?;
    let schema = view.schema();
    let pk_col = schema
        .fields
        .iter()
        .position(|f| f.is_primary)
        .ok_or_else(|| Error::Internal("schema without primary key".into()))?;
    let pk_field = &schema.fields[pk_col];
    let route = Route::of(view.entry(), target.partitions)?;
    let zone = view.zone()?;
    let full_text = FullText::of(schema)?;
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
        let mut new = match base {
            Some(mut base) => {
                for (c, v) in given.into_iter().enumerate() {
                    if let Some(v) = v {
                        base.values[c] = fill(&schema.fields[c], Some(v), &zone)?;
                    }
                }
                base.values[pk_col] = pk_value;
                base.dynamic.extend(dynamic);
                base.partition = route.partition(&base.values)?;
                base
            }
            None => {
                let mut values = Vec::with_capacity(given.len());
                for (c, v) in given.into_iter().enumerate() {
                    values.push(if c == pk_col {
                        pk_value.clone()
                    } else if schema.fields[c].is_function_output {
                        Value::Null
                    } else {
                        fill(&schema.fields[c], v, &zone)?
                    });
                }
                StoredRow {
                    partition: route.partition(&values)?,
                    values,
                    dynamic,
                }
            }
        };
        // Function outputs follow the row's final input (a partial upsert may change the text or not).
        full_text.compute_outputs(&mut new.values);
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
    let mut entry = rebuild_entry(
        &view,
        b,
        view.entry().clone(),
        &shadowed,
        survivors,
        Rewrite::AsNeeded,
    )?;
    entry.next_auto_id = next_auto_id;
    Ok((replace_entry(snap.catalog(), entry), ids))
}

/// Plans a delete of rows in the target's partitions (all without); returns the next catalog and how
/// many live rows it deletes.
pub fn plan_delete(
    snap: &Snapshot<'_>,
    b: &mut CommitBuilder,
    target: Scope<'_>,
    which: Deletion<'_>,
) -> Result<(Catalog, u64)> {
    let view = snap.scoped(target)?;
    let doomed: HashSet<RowId> = match which {
        Deletion::Ids(ids) => ids.iter().filter_map(|pk| view.find(pk)).collect(),
        Deletion::Filter(f) => view.matching(f)?.into_iter().collect(),
    };
    let n = doomed.len() as u64;
    if n == 0 {
        return Ok((snap.catalog().clone(), 0));
    }
    let entry = rebuild_entry(
        &view,
        b,
        view.entry().clone(),
        &doomed,
        Vec::new(),
        Rewrite::AsNeeded,
    )?;
    Ok((replace_entry(snap.catalog(), entry), n))
}

pub(super) fn replace_entry(cat: &Catalog, entry: CollectionEntry) -> Catalog {
    let mut next = cat.clone();
    if let Some(c) = next.collections.iter_mut().find(|c| c.id == entry.id) {
        *c = entry;
    }
    next
}
