//! The catalog's names and the mutations that change only the catalog: lookups by name (database,
//! collection or alias, partition) with the errors Milvus gives, and `plan_*` for databases, aliases,
//! partitions, properties and schema evolution. Mutations that move rows are `write`'s.

use super::coerce;
use crate::error::{Error, Result};
use crate::format::{
    AliasEntry, Catalog, CollectionEntry, DatabaseEntry, PartitionEntry, DEFAULT_DATABASE,
    DEFAULT_PARTITION,
};
use crate::schema::{
    validate_collection_name, validate_database_name, validate_partition_name, DataType,
    FieldSchema,
};
use crate::timestamptz::Zone;

/// The collection and database property naming the zone of naive TIMESTAMPTZ text (Milvus's name).
pub const TIMEZONE: &str = "timezone";

/// Properties covec cannot honour: refused by name, never kept and ignored (docs/compatibility.md).
const REFUSED_PROPERTIES: [(&str, &str); 5] = [
    ("collection.ttl.seconds", "expiring rows by age"),
    ("database.force.deny.writing", "denying writes"),
    ("database.force.deny.reading", "denying reads"),
    ("database.max.collections", "limiting collections"),
    ("database.diskQuota.mb", "disk quotas"),
];

/// The most partitions a collection may have (the Milvus server's default `maxPartitionNum`).
pub const MAX_PARTITIONS: usize = 1024;
/// Buckets of a partition-key collection when create_collection does not say (the server's default).
pub const DEFAULT_KEY_PARTITIONS: u32 = 16;
/// The most fields a collection may have (the server's `maxFieldNum`).
const MAX_FIELDS: usize = 64;

/// Database `name`; code 6, as Milvus Lite, when there is none.
pub fn database<'c>(cat: &'c Catalog, name: &str) -> Result<&'c DatabaseEntry> {
    cat.database(name)
        .ok_or_else(|| Error::invalid(format!("database '{name}' does not exist")))
}

/// The collection `name` (or the alias of that name) stands for in database `db`.
pub fn entry<'c>(cat: &'c Catalog, db: &str, name: &str) -> Result<&'c CollectionEntry> {
    database(cat, db)?;
    cat.resolve(db, name)
        .ok_or_else(|| Error::CollectionNotFound { name: name.into() })
}

/// `entry`, to change.
pub(super) fn entry_mut<'c>(
    cat: &'c mut Catalog,
    db: &str,
    name: &str,
) -> Result<&'c mut CollectionEntry> {
    let id = entry(cat, db, name)?.id;
    cat.collections
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::Internal("a resolved collection vanished".into()))
}

/// The zone TIMESTAMPTZ text without an offset is read in, for collection `entry`: its `timezone`
/// property, else its database's, else UTC.
pub(super) fn zone(cat: &Catalog, entry: &CollectionEntry) -> Result<Zone> {
    let property = |props: &[(String, String)]| {
        props
            .iter()
            .find(|(k, _)| k == TIMEZONE)
            .map(|(_, v)| v.clone())
    };
    let named = property(&entry.properties).or_else(|| {
        cat.database(&entry.db)
            .and_then(|d| property(&d.properties))
    });
    match named {
        Some(name) => Zone::named(&name).map_err(Error::invalid),
        None => Ok(Zone::utc()),
    }
}

pub(super) fn partition<'c>(entry: &'c CollectionEntry, name: &str) -> Result<&'c PartitionEntry> {
    entry
        .partition(name)
        .ok_or_else(|| Error::invalid_code(200, format!("partition not found[partition={name}]")))
}

/// Naming partitions in a call on a partition-key collection, which Milvus refuses.
pub(super) fn partitions_named_with_key() -> Error {
    Error::invalid_code(
        1,
        "not support manually specifying the partition names if partition key mode is used",
    )
}

fn alias_not_found(alias: &str) -> Error {
    Error::invalid_code(100, format!("alias '{alias}' does not exist"))
}

/// Refuses a new collection name (create, rename) that is taken in database `db` by a collection or
/// an alias.
pub(super) fn check_free_name(cat: &Catalog, db: &str, name: &str) -> Result<()> {
    validate_collection_name(name)?;
    if cat.collection(db, name).is_some() {
        return Err(Error::AlreadyExists {
            what: format!("collection '{name}'"),
        });
    }
    if cat.alias(db, name).is_some() {
        return Err(Error::invalid_code(
            1,
            format!("collection name [{name}] conflicts with an existing alias, please choose a unique name"),
        ));
    }
    Ok(())
}

/// Refuses a property covec cannot honour, naming it.
fn check_properties(properties: &[(String, String)]) -> Result<()> {
    for (key, value) in properties {
        // A zone the reads after it could not use is refused when set, not at every later call.
        if key == TIMEZONE {
            Zone::named(value).map_err(|e| Error::invalid_code(1100, e))?;
        }
        if let Some((_, what)) = REFUSED_PROPERTIES.iter().find(|(k, _)| k == key) {
            return Err(Error::invalid_code(
                1100,
                format!("property '{key}' ({what}) is not supported by covec"),
            ));
        }
    }
    Ok(())
}

/// `properties` with `set` applied (a key already there keeps its place) and `delete` removed.
pub(super) fn edit_properties(
    properties: &mut Vec<(String, String)>,
    set: &[(String, String)],
    delete: &[String],
) -> Result<()> {
    check_properties(set)?;
    for (key, value) in set {
        match properties.iter_mut().find(|(k, _)| k == key) {
            Some(kept) => kept.1 = value.clone(),
            None => properties.push((key.clone(), value.clone())),
        }
    }
    properties.retain(|(k, _)| !delete.contains(k));
    Ok(())
}

// Databases.

pub fn plan_create_database(
    cat: &Catalog,
    name: &str,
    properties: &[(String, String)],
) -> Result<Catalog> {
    validate_database_name(name)?;
    if cat.database(name).is_some() {
        return Err(Error::invalid(format!("database '{name}' already exists")));
    }
    let mut kept = Vec::new();
    edit_properties(&mut kept, properties, &[])?;
    let mut next = cat.clone();
    next.databases.push(DatabaseEntry {
        id: next.next_id,
        name: name.into(),
        properties: kept,
    });
    next.next_id += 1;
    Ok(next)
}

pub fn plan_drop_database(cat: &Catalog, name: &str) -> Result<Catalog> {
    validate_database_name(name)?;
    if name == DEFAULT_DATABASE {
        return Err(Error::invalid("can not drop default database"));
    }
    database(cat, name)?;
    if cat.collections.iter().any(|c| c.db == name) {
        return Err(Error::invalid(format!("database '{name}' is not empty")));
    }
    let mut next = cat.clone();
    next.databases.retain(|d| d.name != name);
    Ok(next)
}

pub fn plan_alter_database_properties(
    cat: &Catalog,
    name: &str,
    set: &[(String, String)],
    delete: &[String],
) -> Result<Catalog> {
    database(cat, name)?;
    let mut next = cat.clone();
    let db = next
        .databases
        .iter_mut()
        .find(|d| d.name == name)
        .ok_or_else(|| Error::Internal("a found database vanished".into()))?;
    edit_properties(&mut db.properties, set, delete)?;
    Ok(next)
}

// Aliases.

/// Makes `alias` a name of `collection` in database `db`. Creating an alias that already names the
/// same collection changes nothing.
pub fn plan_create_alias(
    cat: &Catalog,
    db: &str,
    collection: &str,
    alias: &str,
) -> Result<Catalog> {
    validate_collection_name(alias)?;
    let id = entry(cat, db, collection)?.id;
    if cat.collection(db, alias).is_some() {
        return Err(Error::invalid_code(
            1,
            format!("alias '{alias}' conflicts with an existing collection"),
        ));
    }
    match cat.alias(db, alias) {
        Some(a) if a.collection == id => Ok(cat.clone()),
        Some(_) => Err(Error::AlreadyExists {
            what: format!("alias '{alias}'"),
        }),
        None => {
            let mut next = cat.clone();
            next.aliases.push(AliasEntry {
                db: db.into(),
                alias: alias.into(),
                collection: id,
            });
            Ok(next)
        }
    }
}

/// Points the existing `alias` of database `db` at `collection`.
pub fn plan_alter_alias(cat: &Catalog, db: &str, collection: &str, alias: &str) -> Result<Catalog> {
    let id = entry(cat, db, collection)?.id;
    let mut next = cat.clone();
    let entry = next
        .aliases
        .iter_mut()
        .find(|a| a.db == db && a.alias == alias)
        .ok_or_else(|| alias_not_found(alias))?;
    entry.collection = id;
    Ok(next)
}

pub fn plan_drop_alias(cat: &Catalog, db: &str, alias: &str) -> Result<Catalog> {
    database(cat, db)?;
    cat.alias(db, alias).ok_or_else(|| alias_not_found(alias))?;
    let mut next = cat.clone();
    next.aliases.retain(|a| !(a.db == db && a.alias == alias));
    Ok(next)
}

/// The name of the collection `alias` points at.
pub fn alias_target<'c>(cat: &'c Catalog, db: &str, alias: &str) -> Result<&'c str> {
    database(cat, db)?;
    let id = cat
        .alias(db, alias)
        .ok_or_else(|| alias_not_found(alias))?
        .collection;
    cat.collections
        .iter()
        .find(|c| c.id == id)
        .map(|c| c.name.as_str())
        .ok_or_else(|| alias_not_found(alias))
}

/// The aliases of database `db`, of one collection when `collection` names one, sorted.
pub fn list_aliases(cat: &Catalog, db: &str, collection: Option<&str>) -> Result<Vec<String>> {
    database(cat, db)?;
    let id = collection
        .map(|c| entry(cat, db, c).map(|e| e.id))
        .transpose()?;
    let mut names: Vec<String> = cat
        .aliases
        .iter()
        .filter(|a| a.db == db && id.is_none_or(|id| a.collection == id))
        .map(|a| a.alias.clone())
        .collect();
    names.sort_unstable();
    Ok(names)
}

// Partitions.

fn no_manual_partitions(entry: &CollectionEntry, verb: &str) -> Result<()> {
    match entry.schema.partition_key() {
        Some(_) => Err(Error::invalid_code(
            1,
            format!("disable {verb} partition if partition key mode is used"),
        )),
        None => Ok(()),
    }
}

pub fn plan_create_partition(
    cat: &Catalog,
    db: &str,
    collection: &str,
    name: &str,
) -> Result<Catalog> {
    let mut next = cat.clone();
    let entry = entry_mut(&mut next, db, collection)?;
    no_manual_partitions(entry, "create")?;
    validate_partition_name(name)?;
    if entry.partition(name).is_some() {
        return Err(Error::AlreadyExists {
            what: format!("partition '{name}'"),
        });
    }
    if entry.partitions.len() >= MAX_PARTITIONS {
        return Err(Error::invalid_code(
            1100,
            format!(
                "partition number ({}) exceeds max configuration ({MAX_PARTITIONS})",
                entry.partitions.len() + 1
            ),
        ));
    }
    let id = entry.next_partition_id;
    entry.next_partition_id = id
        .checked_add(1)
        .ok_or_else(|| Error::invalid("partition ids exhausted"))?;
    entry.partitions.push(PartitionEntry {
        id,
        name: name.into(),
    });
    Ok(next)
}

/// The id of the partition `drop_partition` removes, after Milvus's checks.
pub(super) fn droppable_partition(entry: &CollectionEntry, name: &str) -> Result<u32> {
    no_manual_partitions(entry, "drop")?;
    if name == DEFAULT_PARTITION {
        return Err(Error::invalid(format!(
            "cannot remove default partition '{DEFAULT_PARTITION}'"
        )));
    }
    Ok(partition(entry, name)?.id)
}

/// The partitions of a new collection: "_default", or the `num_partitions` buckets "_default_0", ... of a
/// partition-key collection (16 unless given; at most `MAX_PARTITIONS`).
pub(super) fn initial_partitions(
    has_key: bool,
    num_partitions: Option<u32>,
) -> Result<Vec<PartitionEntry>> {
    let invalid = |message: String| Err(Error::invalid_code(1100, message));
    let n = match (has_key, num_partitions) {
        (false, None) => {
            return Ok(vec![PartitionEntry {
                id: 0,
                name: DEFAULT_PARTITION.into(),
            }])
        }
        (false, Some(_)) => {
            return invalid(
                "num_partitions should only be specified with partition key field enabled".into(),
            )
        }
        (true, None) => DEFAULT_KEY_PARTITIONS,
        (true, Some(0)) => {
            return invalid(
                "the specified partitions should be greater than 0 if partition key is used".into(),
            )
        }
        (true, Some(n)) if n as usize > MAX_PARTITIONS => {
            return invalid(format!(
                "partition number ({n}) exceeds max configuration ({MAX_PARTITIONS})"
            ))
        }
        (true, Some(n)) => n,
    };
    Ok((0..n)
        .map(|i| PartitionEntry {
            id: i,
            name: format!("{DEFAULT_PARTITION}_{i}"),
        })
        .collect())
}

// Collections.

pub fn plan_alter_collection_properties(
    cat: &Catalog,
    db: &str,
    collection: &str,
    set: &[(String, String)],
    delete: &[String],
) -> Result<Catalog> {
    let mut next = cat.clone();
    let entry = entry_mut(&mut next, db, collection)?;
    edit_properties(&mut entry.properties, set, delete)?;
    Ok(next)
}

/// Adds `field` to the collection's schema (add_collection_field). Milvus's rules: the field is nullable
/// (rows stored before read as its default, else null) and neither a primary nor a partition key.
pub fn plan_add_field(
    cat: &Catalog,
    db: &str,
    collection: &str,
    mut field: FieldSchema,
) -> Result<Catalog> {
    let defaults_zone = zone(cat, entry(cat, db, collection)?)?;
    let mut next = cat.clone();
    let entry = entry_mut(&mut next, db, collection)?;
    let invalid = |message: String| Err(Error::invalid_code(1100, message));
    if entry.schema.field(&field.name).is_some() {
        return invalid(format!("duplicate field name: {}", field.name));
    }
    if !field.nullable {
        return invalid(format!(
            "added field must be nullable, please check it, field name = {}",
            field.name
        ));
    }
    if field.is_primary || field.auto_id || field.is_partition_key {
        return invalid(format!(
            "field '{}': an added field cannot be a primary key, auto_id or a partition key",
            field.name
        ));
    }
    if entry.schema.fields.len() >= MAX_FIELDS {
        return invalid(format!(
            "maximum field's number should be limited to {MAX_FIELDS}"
        ));
    }
    // Rows written before read the added field's default as `coerce::absent_ref` gives it.
    coerce::settle_default(&mut field, &defaults_zone)?;
    field.id = entry.schema.next_field_id;
    entry.schema.next_field_id += 1;
    entry.schema.fields.push(field);
    entry.schema.validate()?;
    Ok(next)
}

/// Field parameters alter_collection_field changes, as Milvus allows: `max_length` (VARCHAR and
/// ARRAY<VARCHAR>), `max_capacity` (ARRAY), `mmap.enabled` (kept: covec maps every column). Values are
/// JSON text.
pub fn plan_alter_field(
    cat: &Catalog,
    db: &str,
    collection: &str,
    field_name: &str,
    params: &[(String, String)],
) -> Result<Catalog> {
    let mut next = cat.clone();
    let entry = entry_mut(&mut next, db, collection)?;
    let field = entry
        .schema
        .fields
        .iter_mut()
        .find(|f| f.name == field_name)
        .ok_or_else(|| {
            Error::invalid_code(
                1100,
                format!("field {field_name} does not exist in collection {collection}"),
            )
        })?;
    let positive = |key: &str, value: &str| -> Result<u32> {
        value
            .trim_matches('"')
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Error::invalid_code(
                    1100,
                    format!("field '{field_name}': {key} must be a positive integer, got {value}"),
                )
            })
    };
    let element = field.element_type.unwrap_or(field.dtype);
    for (key, value) in params {
        match key.as_str() {
            "max_length" if element == DataType::VarChar => {
                field.max_length = Some(positive(key, value)?)
            }
            "max_capacity" if field.dtype == DataType::Array => {
                field.max_capacity = Some(positive(key, value)?)
            }
            "mmap.enabled" => match value.trim_matches('"') {
                "true" | "false" | "True" | "False" => {
                    let value = value.trim_matches('"').to_ascii_lowercase();
                    field.type_params.retain(|(k, _)| k != key);
                    field.type_params.push((key.clone(), value));
                }
                _ => {
                    return Err(Error::invalid_code(
                        1100,
                        format!(
                            "field '{field_name}': mmap.enabled must be true or false, got {value}"
                        ),
                    ))
                }
            },
            _ => {
                return Err(Error::invalid_code(
                    1100,
                    format!("{key} does not allow update in collection field param"),
                ))
            }
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn properties_keep_their_place_and_refused_ones_are_named() {
        let mut kept = props(&[("a", "1"), ("b", "2")]);
        edit_properties(&mut kept, &props(&[("a", "3"), ("c", "4")]), &["b".into()]).unwrap();
        assert_eq!(kept, props(&[("a", "3"), ("c", "4")]));
        let err = edit_properties(&mut kept, &props(&[("collection.ttl.seconds", "60")]), &[])
            .unwrap_err();
        assert!(err.to_string().contains("collection.ttl.seconds"), "{err}");
        assert_eq!(kept, props(&[("a", "3"), ("c", "4")]));
    }

    #[test]
    fn databases_follow_milvus_rules() {
        let cat = Catalog::default();
        let cat = plan_create_database(&cat, "db2", &props(&[("k", "v")])).unwrap();
        assert_eq!(cat.database("db2").unwrap().id, 2);
        assert!(plan_create_database(&cat, "db2", &[]).is_err());
        assert_eq!(
            plan_create_database(&cat, "2db", &[]).unwrap_err().code(),
            802
        );
        assert!(plan_drop_database(&cat, DEFAULT_DATABASE).is_err());
        let err = plan_drop_database(&cat, "nodb").unwrap_err();
        assert_eq!(
            (err.code(), err.to_string()),
            (6, "database 'nodb' does not exist".into())
        );
        assert!(plan_drop_database(&cat, "db2")
            .unwrap()
            .database("db2")
            .is_none());
    }

    #[test]
    fn key_collections_get_their_buckets() {
        let names: Vec<String> = initial_partitions(true, Some(3))
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["_default_0", "_default_1", "_default_2"]);
        assert_eq!(initial_partitions(true, None).unwrap().len(), 16);
        assert!(initial_partitions(false, Some(4)).is_err());
        assert!(initial_partitions(true, Some(0)).is_err());
        assert!(initial_partitions(true, Some(1025)).is_err());
    }
}
