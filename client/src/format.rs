//! Pure encode/decode of the db file's header, meta slots and catalog (the segment header is in
//! `segment/header.rs`).
//! No I/O here: every function takes bytes and returns values, never panics, and never trusts a length
//! it has not checked against the input (see docs/format.md for the byte layout).

mod tags;

use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::schema::{
    check_scalar_index, index_names, CollectionSchema, DataType, FieldSchema, IndexSpec,
    ScalarIndexSpec,
};

#[cfg(target_endian = "big")]
compile_error!("covec maps little-endian columns in place and supports little-endian targets only");

pub const MAGIC: &[u8; 8] = b"COVECDB\0";
pub const FORMAT_VERSION: u32 = 1;
/// Bytes 0..HEADER_LEN hold the preamble and the two meta slots; data starts here.
pub const HEADER_LEN: u64 = 4096;
pub const PREAMBLE_LEN: usize = 48;
/// Meta slot A (even generations) and B (odd generations), each within one 512-byte sector.
pub const SLOT_OFFSETS: [usize; 2] = [1024, 2048];
pub const SLOT_LEN: usize = 64;
/// Every section and the catalog start at a multiple of this.
pub const ALIGN: u64 = 64;
/// The catalog never exceeds this; it also bounds what bincode may allocate while decoding.
pub const CATALOG_LIMIT: usize = 256 << 20;

type CatalogConfig = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<CATALOG_LIMIT>,
>;

fn catalog_config() -> CatalogConfig {
    bincode::config::standard().with_limit::<CATALOG_LIMIT>()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Rounds `n` up to the next multiple of `ALIGN` (None on overflow).
pub fn align_up(n: u64) -> Option<u64> {
    n.checked_add(ALIGN - 1).map(|x| x & !(ALIGN - 1))
}

/// Bytes of a bitmap with one bit per row.
pub fn bitmap_len(rows: u64) -> u64 {
    rows.div_ceil(8)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    pub format_version: u32,
    pub flags: u32,
    pub db_uuid: [u8; 16],
    pub created_unix_nanos: u64,
}

pub fn encode_preamble(p: &Preamble) -> [u8; PREAMBLE_LEN] {
    let mut b = [0u8; PREAMBLE_LEN];
    b[0..8].copy_from_slice(MAGIC);
    b[8..12].copy_from_slice(&p.format_version.to_le_bytes());
    b[12..16].copy_from_slice(&p.flags.to_le_bytes());
    b[16..32].copy_from_slice(&p.db_uuid);
    b[32..40].copy_from_slice(&p.created_unix_nanos.to_le_bytes());
    let sum = xxh3_64(&b[0..40]);
    b[40..48].copy_from_slice(&sum.to_le_bytes());
    b
}

/// Decodes the preamble at the start of `bytes`. The version is checked before the checksum so that
/// a newer format (which may checksum differently) is reported as newer, not as damaged.
pub fn decode_preamble(bytes: &[u8], path: &Path) -> Result<Preamble> {
    if bytes.len() < HEADER_LEN as usize {
        return Err(Error::NotCovec {
            path: path.into(),
            reason: format!(
                "file is {} bytes, shorter than the {HEADER_LEN}-byte header",
                bytes.len()
            ),
        });
    }
    if &bytes[0..8] != MAGIC {
        return Err(Error::NotCovec {
            path: path.into(),
            reason: "wrong magic bytes (expected COVECDB)".into(),
        });
    }
    let format_version = u32_at(bytes, 8);
    if format_version > FORMAT_VERSION {
        return Err(Error::NewerVersion {
            path: path.into(),
            found: format_version,
            supported: FORMAT_VERSION,
        });
    }
    if xxh3_64(&bytes[0..40]) != u64_at(bytes, 40) {
        return Err(Error::corrupt(path, "header checksum mismatch"));
    }
    if format_version == 0 {
        return Err(Error::corrupt(path, "format version 0 does not exist"));
    }
    let mut db_uuid = [0u8; 16];
    db_uuid.copy_from_slice(&bytes[16..32]);
    Ok(Preamble {
        format_version,
        flags: u32_at(bytes, 12),
        db_uuid,
        created_unix_nanos: u64_at(bytes, 32),
    })
}

/// One meta slot: the root of one committed generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaSlot {
    pub generation: u64,
    /// Random per commit: tells two histories apart that reached the same generation number.
    pub commit_id: u64,
    pub catalog_offset: u64,
    pub catalog_len: u64,
    pub catalog_xxh3: u64,
    /// Bytes [0, committed_len) are this generation's image; anything beyond is a torn or newer tail.
    pub committed_len: u64,
    /// Header + catalog + sections the catalog references: what a compaction would keep.
    pub live_bytes: u64,
}

impl MetaSlot {
    /// The slot this generation is written to: generations alternate between A and B.
    pub fn slot_index(&self) -> usize {
        (self.generation % 2) as usize
    }
}

pub fn encode_meta(m: &MetaSlot) -> [u8; SLOT_LEN] {
    let mut b = [0u8; SLOT_LEN];
    let fields = [
        m.generation,
        m.commit_id,
        m.catalog_offset,
        m.catalog_len,
        m.catalog_xxh3,
        m.committed_len,
        m.live_bytes,
    ];
    for (i, f) in fields.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&f.to_le_bytes());
    }
    let sum = xxh3_64(&b[0..56]);
    b[56..64].copy_from_slice(&sum.to_le_bytes());
    b
}

/// A slot whose checksum fails (torn write, never written) is None.
pub fn decode_meta(b: &[u8]) -> Option<MetaSlot> {
    let b = b.get(0..SLOT_LEN)?;
    if xxh3_64(&b[0..56]) != u64_at(b, 56) {
        return None;
    }
    Some(MetaSlot {
        generation: u64_at(b, 0),
        commit_id: u64_at(b, 8),
        catalog_offset: u64_at(b, 16),
        catalog_len: u64_at(b, 24),
        catalog_xxh3: u64_at(b, 32),
        committed_len: u64_at(b, 40),
        live_bytes: u64_at(b, 48),
    })
}

/// Checks that a slot's numbers describe a possible image of a file of `file_len` bytes.
pub fn meta_is_plausible(m: &MetaSlot, file_len: u64) -> bool {
    let catalog_end = m.catalog_offset.checked_add(m.catalog_len);
    m.committed_len >= HEADER_LEN
        && m.committed_len <= file_len
        && m.catalog_offset >= HEADER_LEN
        && m.catalog_offset.is_multiple_of(ALIGN)
        && m.catalog_len as usize <= CATALOG_LIMIT
        && catalog_end == Some(m.committed_len)
}

/// Preamble plus the valid meta slot with the higher generation. `file_len` is the file's current
/// length: a slot pointing past it is not a usable root.
pub fn decode_header(bytes: &[u8], file_len: u64, path: &Path) -> Result<(Preamble, MetaSlot)> {
    let preamble = decode_preamble(bytes, path)?;
    let best = SLOT_OFFSETS
        .iter()
        .filter_map(|&at| decode_meta(&bytes[at..at + SLOT_LEN]))
        .filter(|m| meta_is_plausible(m, file_len))
        .max_by_key(|m| m.generation);
    match best {
        Some(m) => Ok((preamble, m)),
        None => Err(Error::corrupt(path, "neither meta slot is valid")),
    }
}

/// Writes `m` into both meta slots of a header held in `dst` (used when copying an image whose other
/// slot may since have been overwritten by a later commit).
pub fn write_both_slots(dst: &mut [u8], m: &MetaSlot) -> Result<()> {
    if dst.len() < HEADER_LEN as usize {
        return Err(Error::Internal(
            "image buffer shorter than the header".into(),
        ));
    }
    let enc = encode_meta(m);
    for at in SLOT_OFFSETS {
        dst[at..at + SLOT_LEN].copy_from_slice(&enc);
    }
    Ok(())
}

/// A byte range of the file with its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub offset: u64,
    pub len: u64,
    pub xxh3: u64,
}

/// One schema field's column within a part. Which sections are present depends on the type
/// (docs/format.md, "Sections"): fixed-width types use `data`; VARCHAR, JSON, GEOMETRY and ARRAY add
/// `offsets` (rows+1 u64); a dense vector's `aux` is one f32 1/|v| per row, an ARRAY<VARCHAR>'s its
/// elements' byte offsets; a nullable field adds `validity` (bit set = value present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub data: Section,
    pub offsets: Option<Section>,
    /// A second per-row or per-element section whose meaning depends on the type (revision 2 called
    /// it `inv_norms`: same position, same bytes).
    pub aux: Option<Section>,
    pub validity: Option<Section>,
}

/// An immutable batch of rows. Only `deleted` changes between generations (a new bitmap section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub rows: u64,
    /// One per schema field, in schema order. A part written before fields were added has fewer: the
    /// missing ones read as the field's default, else null.
    pub columns: Vec<Column>,
    /// The `$meta` object of each row as JSON text, when the schema enables dynamic fields.
    pub dynamic: Option<Column>,
    /// Row numbers (u32) in ascending primary-key order; the keys are read from the pk column.
    pub pk_index: Section,
    /// Bit set = row deleted (or shadowed by a later write of the same key).
    pub deleted: Option<Section>,
    pub deleted_count: u64,
    /// Approximate-search indexes over this part's rows (catalog revision 2; docs/ann.md).
    pub ann: Vec<AnnIndex>,
    /// Which partitions the part's rows belong to (revision 3).
    pub partitions: PartPartitions,
    /// Inverted indexes over sparse-vector and text fields (revision 3).
    pub text: Vec<TextIndex>,
}

/// The partitions of a part's rows: searches restricted to some partitions skip a part none of whose
/// `ids` is asked for without reading it, then check `rows` per row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartPartitions {
    /// The ids (`PartitionEntry::id`) of the partitions present, strictly ascending, never empty. An id
    /// whose partition was dropped may stay: its rows are deleted.
    pub ids: Vec<u32>,
    /// One u32 partition id per row when `ids` has more than one; None: every row is in `ids[0]`.
    pub rows: Option<Section>,
}

impl PartPartitions {
    /// Every row in partition `id`.
    pub fn one(id: u32) -> PartPartitions {
        PartPartitions {
            ids: vec![id],
            rows: None,
        }
    }
}

/// An HNSW graph over all rows of one part for one vector field, searched in place by readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnIndex {
    /// Schema position of the indexed FLOAT_VECTOR field.
    pub field: u32,
    /// The graph (layout in docs/ann.md); it numbers the part's rows 0..rows.
    pub graph: Section,
    /// SQ8 codes of the rows (HNSW_SQ): the graph is walked on them and hits re-ranked exactly.
    pub sq8: Option<Section>,
}

/// An inverted index over one field of a part (sparse vectors, BM25 outputs, match-enabled text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextIndex {
    /// Schema position of the indexed field.
    pub field: u32,
    /// The layout of `index` and `stats`: `TextIndex::SPARSE` or `TextIndex::MATCH` (docs/format.md).
    pub kind: u8,
    pub index: Section,
    pub stats: Option<Section>,
}

impl TextIndex {
    /// On a SPARSE_FLOAT_VECTOR field: `index` is a sparse inverted index (docs/sparse.md); `stats`, on a BM25
    /// index only, the BM25 statistics of the part's deleted rows.
    pub const SPARSE: u8 = 0;
    /// On a match-enabled VARCHAR field: `index` is a match index (docs/text.md); no `stats`.
    pub const MATCH: u8 = 1;

    /// The field type a kind indexes; None for a kind this build does not know.
    fn field_type(kind: u8) -> Option<DataType> {
        match kind {
            TextIndex::SPARSE => Some(DataType::SparseFloatVector),
            TextIndex::MATCH => Some(DataType::VarChar),
            _ => None,
        }
    }
}

/// A partition of a collection: manual ("_default" and the ones created), or one of a partition-key
/// collection's `num_partitions` buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// Unique in the collection and never reused (`CollectionEntry::next_partition_id`).
    pub id: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionEntry {
    /// The database the collection is in (`DatabaseEntry::name`).
    pub db: String,
    pub name: String,
    /// Milvus's collection id (from `Catalog::next_id`).
    pub id: u64,
    pub schema: CollectionSchema,
    pub indexes: Vec<IndexSpec>,
    /// alter/drop_collection_properties, in the order first set.
    pub properties: Vec<(String, String)>,
    /// Manual partitions: "_default" first, then the created ones in creation order. Partition-key
    /// collections: exactly their `num_partitions` buckets, in bucket order.
    pub partitions: Vec<PartitionEntry>,
    pub next_partition_id: u32,
    pub next_auto_id: i64,
    pub parts: Vec<Part>,
    /// Scalar indexes (revision 4): kept, described, listed and dropped; nothing is built for them.
    pub scalar_indexes: Vec<ScalarIndexSpec>,
}

impl CollectionEntry {
    pub fn partition(&self, name: &str) -> Option<&PartitionEntry> {
        self.partitions.iter().find(|p| p.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseEntry {
    pub id: u64,
    pub name: String,
    /// create_database's and alter_database_properties' properties, in the order first set.
    pub properties: Vec<(String, String)>,
}

/// Another name for a collection of the same database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasEntry {
    pub db: String,
    pub alias: String,
    /// The collection's id: a renamed collection keeps its aliases.
    pub collection: u64,
}

/// The database every db has, which cannot be dropped.
pub const DEFAULT_DATABASE: &str = "default";
/// Milvus's id for it.
pub const DEFAULT_DATABASE_ID: u64 = 1;
/// The partition every collection without a partition key has, which cannot be dropped.
pub const DEFAULT_PARTITION: &str = "_default";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// "default" always among them.
    pub databases: Vec<DatabaseEntry>,
    /// Of every database, in creation order; (db, name) unique.
    pub collections: Vec<CollectionEntry>,
    /// (db, alias) unique; an alias never equals a collection name of its database.
    pub aliases: Vec<AliasEntry>,
    /// The id the next database or collection takes (ids are never reused).
    pub next_id: u64,
}

impl Default for Catalog {
    /// An empty db: the "default" database alone.
    fn default() -> Catalog {
        Catalog {
            databases: vec![DatabaseEntry {
                id: DEFAULT_DATABASE_ID,
                name: DEFAULT_DATABASE.into(),
                properties: Vec::new(),
            }],
            collections: Vec::new(),
            aliases: Vec::new(),
            next_id: DEFAULT_DATABASE_ID + 1,
        }
    }
}

impl Catalog {
    pub fn database(&self, name: &str) -> Option<&DatabaseEntry> {
        self.databases.iter().find(|d| d.name == name)
    }

    /// The collection called `name` in database `db` (not an alias: see `resolve`).
    pub fn collection(&self, db: &str, name: &str) -> Option<&CollectionEntry> {
        self.collections
            .iter()
            .find(|c| c.db == db && c.name == name)
    }

    pub fn alias(&self, db: &str, alias: &str) -> Option<&AliasEntry> {
        self.aliases.iter().find(|a| a.db == db && a.alias == alias)
    }

    /// The collection `name` stands for in database `db`: the collection of that name, else the one
    /// the alias of that name points at.
    pub fn resolve(&self, db: &str, name: &str) -> Option<&CollectionEntry> {
        self.collection(db, name).or_else(|| {
            let id = self.alias(db, name)?.collection;
            self.collections.iter().find(|c| c.id == id)
        })
    }

    /// The aliases of the collection with id `id`, in creation order.
    pub fn aliases_of(&self, id: u64) -> impl Iterator<Item = &str> {
        self.aliases
            .iter()
            .filter(move |a| a.collection == id)
            .map(|a| a.alias.as_str())
    }

    /// What a generation with this catalog (encoded in `catalog_len` bytes) keeps when compacted: the
    /// header, every section it references and the catalog (`MetaSlot::live_bytes`).
    pub fn live_bytes(&self, catalog_len: u64) -> u64 {
        let sections: u64 = self.sections().map(|s| s.len).sum();
        HEADER_LEN + sections + catalog_len
    }

    /// Every section the catalog references.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.collections
            .iter()
            .flat_map(|c| c.parts.iter())
            .flat_map(|p| {
                p.columns
                    .iter()
                    .chain(p.dynamic.iter())
                    .flat_map(|c| {
                        std::iter::once(&c.data)
                            .chain(c.offsets.iter())
                            .chain(c.aux.iter())
                            .chain(c.validity.iter())
                    })
                    .chain(std::iter::once(&p.pk_index))
                    .chain(p.deleted.iter())
                    .chain(
                        p.ann
                            .iter()
                            .flat_map(|a| std::iter::once(&a.graph).chain(a.sq8.iter())),
                    )
                    .chain(p.partitions.rows.iter())
                    .chain(
                        p.text
                            .iter()
                            .flat_map(|t| std::iter::once(&t.index).chain(t.stats.iter())),
                    )
            })
    }
}

/// Calls `f` on every section the catalog references, in the order `Catalog::sections` yields them.
pub fn for_each_section_mut(c: &mut Catalog, mut f: impl FnMut(&mut Section)) {
    for part in c.collections.iter_mut().flat_map(|c| c.parts.iter_mut()) {
        part.for_each_section_mut(&mut f);
    }
}

impl Part {
    /// Calls `f` on every section of the part, in the order `Catalog::sections` yields them.
    pub fn for_each_section_mut(&mut self, mut f: impl FnMut(&mut Section)) {
        for col in self.columns.iter_mut().chain(self.dynamic.iter_mut()) {
            f(&mut col.data);
            col.offsets.iter_mut().for_each(&mut f);
            col.aux.iter_mut().for_each(&mut f);
            col.validity.iter_mut().for_each(&mut f);
        }
        f(&mut self.pk_index);
        self.deleted.iter_mut().for_each(&mut f);
        for a in &mut self.ann {
            f(&mut a.graph);
            a.sq8.iter_mut().for_each(&mut f);
        }
        self.partitions.rows.iter_mut().for_each(&mut f);
        for t in &mut self.text {
            f(&mut t.index);
            t.stats.iter_mut().for_each(&mut f);
        }
    }

    /// Moves every section of a part encoded into a prepared `CommitBuilder` to where that builder's
    /// bytes were appended (`CommitBuilder::append` returns `shift`).
    pub fn rebase(&mut self, shift: u64) {
        self.for_each_section_mut(|s| s.offset += shift);
    }
}

/// First byte of a catalog of revision 2 or later. It can never start a revision-1 catalog: bincode's
/// varint for the collection count uses 0..=254 as its first byte.
const CATALOG_TAG: u8 = 0xFF;
/// Catalog revision written by this build: 2 added `Part::ann`, 3 the whole data model (databases,
/// aliases, partitions, properties, functions, field ids, new types), 4 scalar indexes. Revision 1 has
/// no tag byte.
pub const CATALOG_REVISION: u8 = 4;

/// Revision 3's shapes: revision 4's without `CollectionEntry::scalar_indexes`.
mod v3 {
    use super::{AliasEntry, CollectionSchema, DatabaseEntry, IndexSpec, Part, PartitionEntry};
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct CollectionEntry {
        pub db: String,
        pub name: String,
        pub id: u64,
        pub schema: CollectionSchema,
        pub indexes: Vec<IndexSpec>,
        pub properties: Vec<(String, String)>,
        pub partitions: Vec<PartitionEntry>,
        pub next_partition_id: u32,
        pub next_auto_id: i64,
        pub parts: Vec<Part>,
    }
    #[derive(Deserialize)]
    pub struct Catalog {
        pub databases: Vec<DatabaseEntry>,
        pub collections: Vec<CollectionEntry>,
        pub aliases: Vec<AliasEntry>,
        pub next_id: u64,
    }

    impl From<Catalog> for super::Catalog {
        fn from(c: Catalog) -> super::Catalog {
            let collections = c
                .collections
                .into_iter()
                .map(|e| super::CollectionEntry {
                    db: e.db,
                    name: e.name,
                    id: e.id,
                    schema: e.schema,
                    indexes: e.indexes,
                    properties: e.properties,
                    partitions: e.partitions,
                    next_partition_id: e.next_partition_id,
                    next_auto_id: e.next_auto_id,
                    parts: e.parts,
                    scalar_indexes: Vec::new(),
                })
                .collect();
            super::Catalog {
                databases: c.databases,
                collections,
                aliases: c.aliases,
                next_id: c.next_id,
            }
        }
    }
}

/// Revision-1 and -2 shapes, decoded and upgraded in memory to revision 3 (`upgrade`), then to 4.
mod v2 {
    use super::{Column, IndexSpec, Section};
    use crate::schema::{DataType, DefaultValue};
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct FieldSchema {
        pub name: String,
        pub dtype: DataType,
        pub description: String,
        pub is_primary: bool,
        pub auto_id: bool,
        pub max_length: Option<u32>,
        pub dim: Option<u32>,
        pub nullable: bool,
        pub default_value: Option<DefaultValue>,
    }
    #[derive(Deserialize)]
    pub struct CollectionSchema {
        pub fields: Vec<FieldSchema>,
        pub description: String,
        pub enable_dynamic_field: bool,
    }
    /// Revision 1's part: revision 2's without `ann`.
    #[derive(Deserialize)]
    pub struct PartV1 {
        pub rows: u64,
        pub columns: Vec<Column>,
        pub dynamic: Option<Column>,
        pub pk_index: Section,
        pub deleted: Option<Section>,
        pub deleted_count: u64,
    }
    #[derive(Deserialize)]
    pub struct Part {
        pub rows: u64,
        pub columns: Vec<Column>,
        pub dynamic: Option<Column>,
        pub pk_index: Section,
        pub deleted: Option<Section>,
        pub deleted_count: u64,
        pub ann: Vec<super::AnnIndex>,
    }
    #[derive(Deserialize)]
    pub struct CollectionEntry<P> {
        pub name: String,
        pub schema: CollectionSchema,
        pub indexes: Vec<IndexSpec>,
        pub next_auto_id: i64,
        pub parts: Vec<P>,
    }
    #[derive(Deserialize)]
    pub struct Catalog<P> {
        pub collections: Vec<CollectionEntry<P>>,
    }

    impl From<PartV1> for Part {
        fn from(p: PartV1) -> Part {
            Part {
                rows: p.rows,
                columns: p.columns,
                dynamic: p.dynamic,
                pk_index: p.pk_index,
                deleted: p.deleted,
                deleted_count: p.deleted_count,
                ann: Vec::new(),
            }
        }
    }
}

/// Tags revision 3 added (format/tags.rs): a revision-1 or -2 catalog holding one is damaged, not old.
fn older_than_revision_3(schema: &v2::CollectionSchema, indexes: &[IndexSpec]) -> bool {
    schema
        .fields
        .iter()
        .all(|f| f.dtype.stored_tag() <= DataType::FloatVector.stored_tag())
        && indexes.iter().all(|i| {
            i.metric.stored_tag() <= crate::schema::Metric::Cosine.stored_tag()
                && i.kind.stored_tag() <= crate::schema::IndexKind::HnswSq8.stored_tag()
        })
}

/// A revision-1 or -2 catalog as revision 3: one database "default" holding every collection (ids
/// 2, 3, ... in order), no aliases, one partition "_default" (id 0) per collection holding every
/// part, no properties or functions, field ids 100, 101, ... in schema order.
fn upgrade<P: Into<v2::Part>>(old: v2::Catalog<P>, path: &Path) -> Result<Catalog> {
    let mut catalog = Catalog::default();
    for e in old.collections {
        if !older_than_revision_3(&e.schema, &e.indexes) {
            return Err(Error::corrupt(
                path,
                format!(
                    "collection '{}' uses a type of catalog revision 3 in an older catalog",
                    e.name
                ),
            ));
        }
        let fields = e
            .schema
            .fields
            .into_iter()
            .map(|f| FieldSchema {
                description: f.description,
                is_primary: f.is_primary,
                auto_id: f.auto_id,
                max_length: f.max_length,
                dim: f.dim,
                nullable: f.nullable,
                default_value: f.default_value,
                ..FieldSchema::new(f.name, f.dtype)
            })
            .collect();
        let schema =
            CollectionSchema::new(fields, e.schema.description, e.schema.enable_dynamic_field);
        let parts = e
            .parts
            .into_iter()
            .map(|p| {
                let p: v2::Part = p.into();
                Part {
                    rows: p.rows,
                    columns: p.columns,
                    dynamic: p.dynamic,
                    pk_index: p.pk_index,
                    deleted: p.deleted,
                    deleted_count: p.deleted_count,
                    ann: p.ann,
                    partitions: PartPartitions::one(0),
                    text: Vec::new(),
                }
            })
            .collect();
        catalog.collections.push(CollectionEntry {
            db: DEFAULT_DATABASE.into(),
            name: e.name,
            id: catalog.next_id,
            schema,
            indexes: e.indexes,
            properties: Vec::new(),
            partitions: vec![PartitionEntry {
                id: 0,
                name: DEFAULT_PARTITION.into(),
            }],
            next_partition_id: 1,
            next_auto_id: e.next_auto_id,
            parts,
            scalar_indexes: Vec::new(),
        });
        catalog.next_id += 1;
    }
    Ok(catalog)
}

/// `[CATALOG_TAG, CATALOG_REVISION]` followed by the bincode of the catalog.
pub fn encode_catalog(c: &Catalog) -> Result<Vec<u8>> {
    let mut out = vec![CATALOG_TAG, CATALOG_REVISION];
    bincode::serde::encode_into_std_write(c, &mut out, catalog_config())
        .map_err(|e| Error::Internal(format!("catalog does not encode: {e}")))?;
    Ok(out)
}

fn decode_exact<T: serde::de::DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<T> {
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, catalog_config())
        .map_err(|e| Error::corrupt(path, format!("catalog does not decode: {e}")))?;
    if used != bytes.len() {
        return Err(Error::corrupt(path, "catalog has trailing bytes"));
    }
    Ok(value)
}

/// Checks the catalog's checksum, decodes it (any revision, upgraded to this one) and validates its
/// structure against an image of `image_len` bytes (see `validate_catalog`).
pub fn decode_catalog(bytes: &[u8], xxh3: u64, image_len: u64, path: &Path) -> Result<Catalog> {
    if xxh3_64(bytes) != xxh3 {
        return Err(Error::corrupt(path, "catalog checksum mismatch"));
    }
    let catalog = match bytes {
        [CATALOG_TAG, rev, rest @ ..] => match *rev {
            4 => decode_exact::<Catalog>(rest, path)?,
            3 => decode_exact::<v3::Catalog>(rest, path)?.into(),
            2 => upgrade(decode_exact::<v2::Catalog<v2::Part>>(rest, path)?, path)?,
            rev if rev > CATALOG_REVISION => {
                return Err(Error::NewerVersion {
                    path: path.to_path_buf(),
                    found: u32::from(rev),
                    supported: u32::from(CATALOG_REVISION),
                })
            }
            rev => {
                return Err(Error::corrupt(
                    path,
                    format!("catalog revision {rev} is tagged"),
                ))
            }
        },
        _ => upgrade(decode_exact::<v2::Catalog<v2::PartV1>>(bytes, path)?, path)?,
    };
    validate_catalog(&catalog, image_len, path)?;
    Ok(catalog)
}

fn check_section(
    s: &Section,
    want_len: Option<u64>,
    image_len: u64,
    what: &str,
    path: &Path,
) -> Result<()> {
    let end = s.offset.checked_add(s.len);
    if s.offset < HEADER_LEN || !s.offset.is_multiple_of(ALIGN) || end.is_none_or(|e| e > image_len)
    {
        return Err(Error::corrupt(
            path,
            format!(
                "{what} section [{}, +{}) lies outside the image",
                s.offset, s.len
            ),
        ));
    }
    if let Some(w) = want_len {
        if s.len != w {
            return Err(Error::corrupt(
                path,
                format!("{what} section is {} bytes, expected {w}", s.len),
            ));
        }
    }
    Ok(())
}

fn check_var_column(c: &Column, rows: u64, image_len: u64, what: &str, path: &Path) -> Result<()> {
    check_section(&c.data, None, image_len, what, path)?;
    match &c.offsets {
        Some(o) => check_section(o, Some((rows + 1) * 8), image_len, what, path)?,
        None => return Err(Error::corrupt(path, format!("{what} has no offsets"))),
    }
    if c.aux.is_some() {
        return Err(Error::corrupt(path, format!("{what} has an aux section")));
    }
    Ok(())
}

/// The first name `key` gives twice among `items`, if any.
fn duplicate<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> Option<usize> {
    (0..items.len()).find(|&i| items[..i].iter().any(|o| key(o) == key(&items[i])))
}

/// Databases, collections and aliases: names unique where Milvus makes them unique, every reference
/// resolved, ids unique and below `next_id`.
fn validate_names(c: &Catalog, path: &Path) -> Result<()> {
    let bad = |why: String| Err(Error::corrupt(path, why));
    if let Some(i) = duplicate(&c.databases, |d| d.name.clone()) {
        return bad(format!("database '{}' appears twice", c.databases[i].name));
    }
    if c.databases.iter().all(|d| d.name != DEFAULT_DATABASE) {
        return bad("the default database is missing".into());
    }
    let ids: Vec<u64> = c
        .databases
        .iter()
        .map(|d| d.id)
        .chain(c.collections.iter().map(|e| e.id))
        .collect();
    if duplicate(&ids, |id| *id).is_some() || ids.iter().any(|&id| id >= c.next_id) {
        return bad("database and collection ids are not unique and below next_id".into());
    }
    for e in &c.collections {
        if c.databases.iter().all(|d| d.name != e.db) {
            return bad(format!(
                "collection '{}' is in a missing database '{}'",
                e.name, e.db
            ));
        }
    }
    if let Some(i) = duplicate(&c.collections, |e| (e.db.clone(), e.name.clone())) {
        return bad(format!(
            "collection '{}' appears twice",
            c.collections[i].name
        ));
    }
    if let Some(i) = duplicate(&c.aliases, |a| (a.db.clone(), a.alias.clone())) {
        return bad(format!("alias '{}' appears twice", c.aliases[i].alias));
    }
    for a in &c.aliases {
        let target = c.collections.iter().find(|e| e.id == a.collection);
        if target.is_none_or(|e| e.db != a.db) || c.collection(&a.db, &a.alias).is_some() {
            return bad(format!(
                "alias '{}' names no collection of its database, or a collection's name",
                a.alias
            ));
        }
    }
    Ok(())
}

/// A collection's partitions and field ids.
fn validate_entry(e: &CollectionEntry, path: &Path) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::corrupt(
            path,
            format!("collection '{}': {why}", e.name),
        ))
    };
    e.schema
        .validate()
        .map_err(|err| Error::corrupt(path, format!("collection '{}': {err}", e.name)))?;
    let fields = &e.schema.fields;
    if duplicate(fields, |f| f.id).is_some()
        || fields.iter().any(|f| f.id >= e.schema.next_field_id)
    {
        return bad("field ids are not unique and below next_field_id");
    }
    for spec in &e.indexes {
        if !e
            .schema
            .field(&spec.field)
            .is_some_and(|f| spec.metric.accepts(f.dtype))
        {
            return bad(&format!(
                "index '{}' is not on a vector field its metric fits",
                spec.index_name
            ));
        }
    }
    for (i, spec) in e.scalar_indexes.iter().enumerate() {
        let fits = e
            .schema
            .field(&spec.field)
            .is_some_and(|f| check_scalar_index(f, &spec.index_type, None).is_ok());
        let mut taken = index_names(&e.indexes, &e.scalar_indexes[..i]);
        if !fits || taken.any(|(f, n)| f == spec.field || n == spec.index_name) {
            return bad(&format!(
                "scalar index '{}' is not on a scalar field its type takes, or its field or name is taken",
                spec.index_name
            ));
        }
    }
    if e.partitions.is_empty()
        || duplicate(&e.partitions, |p| p.name.clone()).is_some()
        || duplicate(&e.partitions, |p| p.id).is_some()
        || e.partitions.iter().any(|p| p.id >= e.next_partition_id)
    {
        return bad("partitions are not unique, named and below next_partition_id");
    }
    Ok(())
}

/// Checks that each of the part's columns has the sections its field type implies.
fn validate_columns(e: &CollectionEntry, part: &Part, image_len: u64, path: &Path) -> Result<()> {
    let n = part.rows;
    for (f, col) in e.schema.fields.iter().zip(&part.columns) {
        let what = format!("field '{}'", f.name);
        match f.dtype {
            DataType::Bool
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float
            | DataType::Double => {
                let w = f.dtype.fixed_width().unwrap_or(0) as u64;
                check_section(&col.data, Some(n * w), image_len, &what, path)?;
                if col.offsets.is_some() || col.aux.is_some() {
                    return Err(Error::corrupt(path, format!("{what} has extra sections")));
                }
            }
            DataType::VarChar | DataType::Json | DataType::Geometry => {
                check_var_column(col, n, image_len, &what, path)?
            }
            DataType::Timestamptz => {
                check_section(&col.data, Some(n * 8), image_len, &what, path)?;
                if col.offsets.is_some() || col.aux.is_some() {
                    return Err(Error::corrupt(path, format!("{what} has extra sections")));
                }
            }
            // The element count and byte offsets are read (bounds-checked) row by row, so only their
            // sections' bounds are checked here.
            DataType::Array => {
                let strings = f.element_type == Some(DataType::VarChar);
                check_section(&col.data, None, image_len, &what, path)?;
                match &col.offsets {
                    Some(o) => check_section(o, Some((n + 1) * 8), image_len, &what, path)?,
                    None => return Err(Error::corrupt(path, format!("{what} has no offsets"))),
                }
                match (&col.aux, strings) {
                    (Some(a), true) => check_section(a, None, image_len, &what, path)?,
                    (None, false) => {}
                    _ => {
                        return Err(Error::corrupt(
                            path,
                            format!("{what}: byte offsets disagree with the element type"),
                        ))
                    }
                }
            }
            DataType::FloatVector
            | DataType::Float16Vector
            | DataType::BFloat16Vector
            | DataType::Int8Vector => {
                let width = match f.dtype {
                    DataType::FloatVector => 4,
                    DataType::Int8Vector => 1,
                    _ => 2,
                };
                let dim = u64::from(f.dim.unwrap_or(0));
                check_section(&col.data, Some(n * dim * width), image_len, &what, path)?;
                match &col.aux {
                    Some(s) => check_section(s, Some(n * 4), image_len, &what, path)?,
                    None => return Err(Error::corrupt(path, format!("{what} has no norms"))),
                }
                if col.offsets.is_some() {
                    return Err(Error::corrupt(path, format!("{what} has offsets")));
                }
            }
            DataType::BinaryVector | DataType::SparseFloatVector => {
                // A binary vector is dim/8 bytes; a sparse column's length follows from its header,
                // which its reader checks (docs/sparse.md).
                let len = (f.dtype == DataType::BinaryVector)
                    .then(|| n * u64::from(f.dim.unwrap_or(0) / 8));
                check_section(&col.data, len, image_len, &what, path)?;
                if col.offsets.is_some() || col.aux.is_some() {
                    return Err(Error::corrupt(path, format!("{what} has extra sections")));
                }
            }
        }
        match (&col.validity, f.nullable) {
            (Some(v), true) => check_section(v, Some(bitmap_len(n)), image_len, &what, path)?,
            (None, false) => {}
            _ => {
                return Err(Error::corrupt(
                    path,
                    format!("{what}: validity bitmap disagrees with nullable"),
                ))
            }
        }
    }
    Ok(())
}

/// A part's partition list and its per-field indexes.
fn validate_part_indexes(
    e: &CollectionEntry,
    part: &Part,
    image_len: u64,
    path: &Path,
) -> Result<()> {
    let n = part.rows;
    let ids = &part.partitions.ids;
    if ids.is_empty()
        || ids.windows(2).any(|w| w[0] >= w[1])
        || ids.iter().any(|&id| id >= e.next_partition_id)
    {
        return Err(Error::corrupt(
            path,
            "part's partition ids are not ascending and below next_partition_id",
        ));
    }
    match (&part.partitions.rows, ids.len() > 1) {
        (Some(s), true) => check_section(s, Some(n * 4), image_len, "partition column", path)?,
        (None, false) => {}
        _ => {
            return Err(Error::corrupt(
                path,
                "partition column disagrees with the part's partition count",
            ))
        }
    }
    let fields = &e.schema.fields;
    for (i, a) in part.ann.iter().enumerate() {
        let field = fields.get(a.field as usize);
        if !field.is_some_and(|f| f.dtype.is_vector())
            || part.ann[..i].iter().any(|o| o.field == a.field)
        {
            return Err(Error::corrupt(
                path,
                format!("ANN index names field #{} twice or a non-vector", a.field),
            ));
        }
        // Lengths depend on the graph's contents: the reader validates them (HnswView).
        check_section(&a.graph, None, image_len, "HNSW graph", path)?;
        if let Some(s) = &a.sq8 {
            check_section(s, None, image_len, "SQ8 codes", path)?;
        }
    }
    for (i, t) in part.text.iter().enumerate() {
        let field = fields.get(t.field as usize);
        if !field.is_some_and(|f| TextIndex::field_type(t.kind) == Some(f.dtype))
            || part.text[..i]
                .iter()
                .any(|o| (o.field, o.kind) == (t.field, t.kind))
            || (t.kind == TextIndex::MATCH && t.stats.is_some())
        {
            return Err(Error::corrupt(
                path,
                format!(
                    "text index of kind {} names field #{} twice or one of another type",
                    t.kind, t.field
                ),
            ));
        }
        // Like graphs, their lengths follow from their contents, which their reader checks.
        check_section(&t.index, None, image_len, "text index", path)?;
        if let Some(s) = &t.stats {
            check_section(s, None, image_len, "text index statistics", path)?;
        }
    }
    Ok(())
}

/// Structural checks that make every later access in bounds: names and references are consistent,
/// schemas are valid, every section lies inside the image, is aligned, and has the length its type and
/// row count imply.
pub fn validate_catalog(c: &Catalog, image_len: u64, path: &Path) -> Result<()> {
    validate_names(c, path)?;
    for e in &c.collections {
        validate_entry(e, path)?;
        let pk_col = e.schema.fields.iter().position(|f| f.is_primary);
        for part in &e.parts {
            let n = part.rows;
            if n > u64::from(u32::MAX) {
                return Err(Error::corrupt(path, "part has more than 2^32 rows"));
            }
            // A part may predate added fields, never the primary key (which is never added).
            if part.columns.len() > e.schema.fields.len()
                || pk_col.is_none_or(|pk| pk >= part.columns.len())
            {
                return Err(Error::corrupt(
                    path,
                    "part column count differs from schema",
                ));
            }
            if part.deleted_count > n {
                return Err(Error::corrupt(path, "part deletes more rows than it has"));
            }
            validate_columns(e, part, image_len, path)?;
            match (&part.dynamic, e.schema.enable_dynamic_field) {
                (Some(d), true) => {
                    check_var_column(d, n, image_len, "$meta", path)?;
                    if d.validity.is_some() {
                        return Err(Error::corrupt(path, "$meta has a validity bitmap"));
                    }
                }
                (None, false) => {}
                _ => return Err(Error::corrupt(path, "dynamic column disagrees with schema")),
            }
            check_section(&part.pk_index, Some(n * 4), image_len, "pk index", path)?;
            if let Some(d) = &part.deleted {
                check_section(d, Some(bitmap_len(n)), image_len, "deletion bitmap", path)?;
            }
            validate_part_indexes(e, part, image_len, path)?;
        }
    }
    Ok(())
}

/// Checks every section's checksum against `image` (the full walk `covec verify` does).
pub fn verify_sections(c: &Catalog, image: &[u8], path: &Path) -> Result<()> {
    for s in c.sections() {
        let bytes = usize::try_from(s.offset)
            .ok()
            .zip(usize::try_from(s.len).ok())
            .and_then(|(o, l)| image.get(o..o.checked_add(l)?))
            .ok_or_else(|| Error::corrupt(path, "section outside the image"))?;
        if xxh3_64(bytes) != s.xxh3 {
            return Err(Error::corrupt(
                path,
                format!("section at offset {} fails its checksum", s.offset),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bincode of a revision-1 catalog (revision 2's without `Part::ann`: with no parts the two
    /// encode alike) of one collection "c": an INT64 key "id" and a vector field of type `dtype`.
    fn old_catalog(dtype: DataType) -> Vec<u8> {
        type OldField = (
            &'static str,
            DataType,
            &'static str,
            bool,
            bool,
            Option<u32>,
            Option<u32>,
            bool,
            Option<crate::schema::DefaultValue>,
        );
        let id: OldField = (
            "id",
            DataType::Int64,
            "",
            true,
            false,
            None,
            None,
            false,
            None,
        );
        let v: OldField = ("v", dtype, "", false, false, None, Some(2), false, None);
        let schema = (vec![id, v], "", false);
        let collection = ("c", schema, Vec::<IndexSpec>::new(), 1i64, Vec::<u8>::new());
        bincode::serde::encode_to_vec((vec![collection],), catalog_config()).unwrap()
    }

    #[test]
    fn revision_1_and_2_catalogs_are_upgraded_to_revision_3() {
        let p = Path::new("x");
        let v1 = old_catalog(DataType::FloatVector);
        let v2 = [&[CATALOG_TAG, 2][..], &v1].concat();
        for old in [v1, v2] {
            let cat = decode_catalog(&old, xxh3_64(&old), 4096, p).unwrap();
            assert_eq!(cat.databases, Catalog::default().databases);
            assert!(cat.aliases.is_empty());
            let c = cat.collection(DEFAULT_DATABASE, "c").unwrap();
            assert_eq!((c.id, cat.next_id), (2, 3));
            let ids: Vec<i64> = c.schema.fields.iter().map(|f| f.id).collect();
            assert_eq!((ids, c.schema.next_field_id), (vec![100, 101], 102));
            assert_eq!(
                c.partitions,
                [PartitionEntry {
                    id: 0,
                    name: DEFAULT_PARTITION.into()
                }]
            );
            assert_eq!(c.next_partition_id, 1);
        }
        // A tag revision 3 added cannot be in an older catalog.
        let wrong = old_catalog(DataType::SparseFloatVector);
        let err = decode_catalog(&wrong, xxh3_64(&wrong), 4096, p).unwrap_err();
        assert!(err.to_string().contains("revision 3"), "{err}");
    }

    #[test]
    fn this_revision_round_trips_and_newer_revisions_are_refused() {
        let p = Path::new("x");
        let new = encode_catalog(&Catalog::default()).unwrap();
        assert_eq!(new[..2], [CATALOG_TAG, CATALOG_REVISION]);
        assert_eq!(
            decode_catalog(&new, xxh3_64(&new), 4096, p).unwrap(),
            Catalog::default()
        );
        let mut newer = new.clone();
        newer[1] = CATALOG_REVISION + 1;
        assert!(matches!(
            decode_catalog(&newer, xxh3_64(&newer), 4096, p),
            Err(Error::NewerVersion { found: 5, .. })
        ));
    }

    /// A catalog of one collection "c" (key "id", vector "v", INT64 "age") with `scalar` indexes.
    fn catalog_with(scalar: Vec<ScalarIndexSpec>) -> Catalog {
        let mut id = FieldSchema::new("id", DataType::Int64);
        id.is_primary = true;
        let mut v = FieldSchema::new("v", DataType::FloatVector);
        v.dim = Some(2);
        let mut schema = CollectionSchema::new(
            vec![id, v, FieldSchema::new("age", DataType::Int64)],
            "",
            false,
        );
        schema.number_fields();
        let mut c = Catalog::default();
        c.collections.push(CollectionEntry {
            db: DEFAULT_DATABASE.into(),
            name: "c".into(),
            id: c.next_id,
            schema,
            indexes: Vec::new(),
            properties: Vec::new(),
            partitions: vec![PartitionEntry {
                id: 0,
                name: DEFAULT_PARTITION.into(),
            }],
            next_partition_id: 1,
            next_auto_id: 1,
            parts: Vec::new(),
            scalar_indexes: scalar,
        });
        c.next_id += 1;
        c
    }

    fn scalar(field: &str, name: &str, index_type: &str) -> ScalarIndexSpec {
        ScalarIndexSpec {
            field: field.into(),
            index_name: name.into(),
            index_type: index_type.into(),
            params: vec![("k".into(), "1".into())],
        }
    }

    #[test]
    fn revision_3_catalogs_read_as_having_no_scalar_indexes() {
        let p = Path::new("x");
        let want = catalog_with(Vec::new());
        let e = &want.collections[0];
        // Revision 3's collection: revision 4's fields without `scalar_indexes` (a tuple encodes as a
        // struct of the same fields).
        let entry = (
            &e.db,
            &e.name,
            e.id,
            &e.schema,
            &e.indexes,
            &e.properties,
            &e.partitions,
            e.next_partition_id,
            e.next_auto_id,
            &e.parts,
        );
        let body = (&want.databases, vec![entry], &want.aliases, want.next_id);
        let mut v3 = vec![CATALOG_TAG, 3];
        v3.extend(bincode::serde::encode_to_vec(body, catalog_config()).unwrap());
        assert_eq!(decode_catalog(&v3, xxh3_64(&v3), 4096, p).unwrap(), want);
        // The same bytes tagged revision 4 lack the scalar index list: damaged, not misread.
        v3[1] = 4;
        assert!(decode_catalog(&v3, xxh3_64(&v3), 4096, p).is_err());
    }

    #[test]
    fn scalar_indexes_round_trip_and_are_checked() {
        let p = Path::new("x");
        let good = catalog_with(vec![scalar("age", "age_sort", "STL_SORT")]);
        let bytes = encode_catalog(&good).unwrap();
        assert_eq!(
            decode_catalog(&bytes, xxh3_64(&bytes), 4096, p).unwrap(),
            good
        );
        for bad in [
            vec![scalar("v", "v", "INVERTED")],
            vec![scalar("nope", "nope", "INVERTED")],
            vec![scalar("age", "age", "TRIE")],
            vec![scalar("age", "a", "INVERTED"), scalar("age", "b", "BITMAP")],
            vec![
                scalar("age", "a", "INVERTED"),
                scalar("id", "a", "INVERTED"),
            ],
        ] {
            let err = validate_catalog(&catalog_with(bad.clone()), 4096, p).unwrap_err();
            assert!(err.to_string().contains("scalar index"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn names_and_references_are_checked() {
        let p = Path::new("x");
        let check = |c: &Catalog| validate_catalog(c, 4096, p).map_err(|e| e.to_string());
        let mut c = Catalog::default();
        c.databases.clear();
        assert!(check(&c).unwrap_err().contains("default database"));
        let mut c = Catalog::default();
        c.databases.push(c.databases[0].clone());
        assert!(check(&c).unwrap_err().contains("appears twice"));
        let mut c = Catalog::default();
        c.aliases.push(AliasEntry {
            db: DEFAULT_DATABASE.into(),
            alias: "a".into(),
            collection: 7,
        });
        assert!(check(&c).unwrap_err().contains("alias 'a'"));
        let c = Catalog {
            next_id: 1,
            ..Catalog::default()
        };
        assert!(check(&c).unwrap_err().contains("next_id"));
    }

    fn header_with(slots: &[MetaSlot]) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN as usize];
        b[..PREAMBLE_LEN].copy_from_slice(&encode_preamble(&Preamble {
            format_version: FORMAT_VERSION,
            flags: 0,
            db_uuid: [7; 16],
            created_unix_nanos: 1,
        }));
        for m in slots {
            let at = SLOT_OFFSETS[m.slot_index()];
            b[at..at + SLOT_LEN].copy_from_slice(&encode_meta(m));
        }
        b
    }

    fn meta(generation: u64) -> MetaSlot {
        MetaSlot {
            generation,
            commit_id: 9,
            catalog_offset: HEADER_LEN,
            catalog_len: 1,
            catalog_xxh3: 0,
            committed_len: HEADER_LEN + 1,
            live_bytes: HEADER_LEN + 1,
        }
    }

    #[test]
    fn newest_valid_slot_wins_and_torn_slot_falls_back() {
        let mut b = header_with(&[meta(4), meta(5)]);
        let p = Path::new("x");
        assert_eq!(decode_header(&b, 10_000, p).unwrap().1.generation, 5);
        b[SLOT_OFFSETS[1] + 3] ^= 1;
        assert_eq!(decode_header(&b, 10_000, p).unwrap().1.generation, 4);
        b[SLOT_OFFSETS[0] + 3] ^= 1;
        assert!(matches!(
            decode_header(&b, 10_000, p),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn slot_beyond_file_end_is_ignored() {
        let b = header_with(&[meta(4), meta(5)]);
        let mut far = meta(5);
        far.committed_len = 1 << 40;
        assert_eq!(
            decode_header(&b, HEADER_LEN + 1, Path::new("x")).unwrap().1,
            meta(5)
        );
        let b = header_with(&[meta(4), far]);
        assert_eq!(
            decode_header(&b, HEADER_LEN + 1, Path::new("x")).unwrap().1,
            meta(4)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let p = Path::new("x");
        for len in [0usize, 7, 100, 4096, 5000] {
            let junk: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            assert!(decode_header(&junk, len as u64, p).is_err());
            assert!(decode_catalog(&junk, xxh3_64(&junk), len as u64, p).is_err());
        }
    }
}
