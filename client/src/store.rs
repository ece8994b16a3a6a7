//! The db file on disk: create, the writer lock, the atomic durable commit, compaction, and the
//! committed image a loader copies. Layout and invariants: docs/format.md.
//!
//! Durability order of a commit: append sections + catalog beyond `committed_len`, fdatasync, write the
//! meta slot the current generation does not use, fdatasync. A crash before the slot write leaves the
//! old slot newest (the tail is truncated by the next writer); a torn slot fails its checksum.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::format::{self, Catalog, MetaSlot, Preamble, Section, HEADER_LEN};
use crate::random::random_u64;

/// Compact when the file is larger than twice the live bytes plus this slack.
const COMPACT_SLACK: u64 = 1 << 20;
/// Sections are copied through a buffer of this size: small enough to stay in L2 between the read,
/// the loader's hash and the write (as `cp`'s own buffer does), large enough that syscalls are cheap.
const COPY_CHUNK: usize = 128 << 10;

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(path: &Path) -> Result<()> {
    let dir = dir_of(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// A Milvus Lite db is a directory; say how to bring it over instead of failing obscurely.
fn reject_directory(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::NotCovec {
            path: path.into(),
            reason: format!(
                "it is a directory (a Milvus Lite db?); convert it with `covec import {} <new covec db>`",
                path.display()
            ),
        });
    }
    Ok(())
}

/// A generation rewritten compactly: its live sections back to back from `HEADER_LEN` (each 64-aligned,
/// in catalog order), then its catalog. Compaction writes one to a new file; a loader copies one into a
/// segment, so neither holds the dead sections a file accumulates between compactions.
struct CompactLayout {
    /// The catalog with every section at its new offset.
    catalog: Catalog,
    encoded_catalog: Vec<u8>,
    /// (offset in the source, offset in the compact image, length) of each section.
    moves: Vec<(u64, u64, u64)>,
    catalog_offset: u64,
}

impl CompactLayout {
    fn plan(catalog: &Catalog) -> Result<CompactLayout> {
        CompactLayout::plan_from(catalog, HEADER_LEN, &HashMap::new())
    }

    /// The layout of `catalog` in an image whose sections at (source offset, length) in `placed` are
    /// already copied (to the offset it maps them to), the others placed back to back from `start`;
    /// `moves` lists those others only.
    fn plan_from(
        catalog: &Catalog,
        start: u64,
        placed: &HashMap<(u64, u64), u64>,
    ) -> Result<CompactLayout> {
        let mut moved = catalog.clone();
        let mut moves = Vec::new();
        let mut end = start;
        let mut overflow = false;
        format::for_each_section_mut(&mut moved, |s| {
            if let Some(&to) = placed.get(&(s.offset, s.len)) {
                s.offset = to;
                return;
            }
            match format::align_up(end) {
                Some(at) => {
                    moves.push((s.offset, at, s.len));
                    s.offset = at;
                    end = at.saturating_add(s.len);
                }
                None => overflow = true,
            }
        });
        let catalog_offset = format::align_up(end).filter(|_| !overflow);
        let catalog_offset =
            catalog_offset.ok_or_else(|| Error::Internal("file offset overflow".into()))?;
        Ok(CompactLayout {
            encoded_catalog: format::encode_catalog(&moved)?,
            catalog: moved,
            moves,
            catalog_offset,
        })
    }

    fn len(&self) -> u64 {
        self.catalog_offset + self.encoded_catalog.len() as u64
    }

    fn meta(&self, generation: u64, commit_id: u64) -> MetaSlot {
        let cat = &self.encoded_catalog;
        MetaSlot {
            generation,
            commit_id,
            catalog_offset: self.catalog_offset,
            catalog_len: cat.len() as u64,
            catalog_xxh3: xxh3_64(cat),
            committed_len: self.len(),
            live_bytes: self.catalog.live_bytes(cat.len() as u64),
        }
    }

    /// Passes the image to `out` in order, in pieces of at most `COPY_CHUNK` bytes: the preamble and
    /// both slots at `meta`, each section through `read(source offset, buffer)`, zeros in the alignment
    /// gaps, and the catalog. The pieces add up to exactly `len()` bytes.
    fn emit(
        &self,
        preamble: &Preamble,
        meta: &MetaSlot,
        mut read: impl FnMut(u64, &mut [u8]) -> Result<()>,
        out: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        out(&encode_head(preamble, meta)?)?;
        let zeros = [0u8; format::ALIGN as usize];
        let mut buf = vec![0u8; COPY_CHUNK];
        let mut at = HEADER_LEN;
        // `plan` places each section at the next aligned offset, so every gap is shorter than ALIGN.
        for &(from, to, len) in &self.moves {
            out(&zeros[..(to - at) as usize])?;
            let mut done = 0;
            while done < len {
                let n = (len - done).min(COPY_CHUNK as u64) as usize;
                read(from + done, &mut buf[..n])?;
                out(&buf[..n])?;
                done += n as u64;
            }
            at = to + len;
        }
        out(&zeros[..(self.catalog_offset - at) as usize])?;
        out(&self.encoded_catalog)
    }
}

/// The header page of a file whose both slots are at `meta`.
fn encode_head(preamble: &Preamble, meta: &MetaSlot) -> Result<Vec<u8>> {
    let mut head = vec![0u8; HEADER_LEN as usize];
    head[..format::PREAMBLE_LEN].copy_from_slice(&format::encode_preamble(preamble));
    format::write_both_slots(&mut head, meta)?;
    Ok(head)
}

/// Writes `catalog`'s generation, compacted, as a complete new file at `tmp` (its sections read from
/// `source`), both slots at `generation`, and fsyncs it. Returns the meta slot written.
fn write_fresh_file(
    tmp: &Path,
    preamble: &Preamble,
    generation: u64,
    catalog: &Catalog,
    source: &[u8],
) -> Result<MetaSlot> {
    let layout = CompactLayout::plan(catalog)?;
    let meta = layout.meta(generation, random_u64());
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| Error::io(tmp, e))?;
    let mut w = std::io::BufWriter::with_capacity(COPY_CHUNK, &file);
    let read = |from: u64, dst: &mut [u8]| {
        let src = usize::try_from(from)
            .ok()
            .and_then(|f| source.get(f..f.checked_add(dst.len())?));
        let src =
            src.ok_or_else(|| Error::corrupt(tmp, format!("section at {from} outside the image")))?;
        dst.copy_from_slice(src);
        Ok(())
    };
    layout.emit(preamble, &meta, read, &mut |piece| {
        w.write_all(piece).map_err(|e| Error::io(tmp, e))
    })?;
    w.flush()
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(tmp, e))?;
    Ok(meta)
}

/// Creates an empty db at `path` unless a file is there already (then it is left alone). The file
/// appears under its name only when complete: it is written under a temporary name and hard-linked.
pub fn create_if_missing(path: &Path) -> Result<()> {
    reject_directory(path)?;
    if path.exists() {
        return Ok(());
    }
    let tmp = temp_name(path, "create");
    let preamble = Preamble {
        format_version: format::FORMAT_VERSION,
        flags: 0,
        db_uuid: {
            let mut u = [0u8; 16];
            u[..8].copy_from_slice(&random_u64().to_le_bytes());
            u[8..].copy_from_slice(&random_u64().to_le_bytes());
            u
        },
        created_unix_nanos: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    };
    let _ = std::fs::remove_file(&tmp);
    let written = write_fresh_file(&tmp, &preamble, 0, &Catalog::default(), &[]);
    let linked = written.and_then(|_| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        // Another process created it first: theirs is as good as ours.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    });
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(path)
}

fn temp_name(path: &Path, what: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{what}-{}", std::process::id()));
    PathBuf::from(name)
}

/// Compaction runs only under the build lock, so while we hold it any `<name>.compact-<pid>` file is
/// left over from a compaction that died.
fn remove_stale_compactions(path: &Path) {
    let Some(name) = path.file_name() else {
        return;
    };
    let prefix = format!("{}.compact-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir_of(path)) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn read_header(file: &File, path: &Path) -> Result<(Preamble, MetaSlot, u64)> {
    let len_before = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = vec![0u8; HEADER_LEN.min(len_before) as usize];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| Error::io(path, e))?;
    // Measured after reading the slots: a writer appends before it writes a slot, and never cuts below
    // the newest slot's committed_len, so every complete slot we read lies within this length.
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let (p, m) = format::decode_header(&head, file_len, path)?;
    // A complete (checksummed) newer slot that points past the end means the file lost committed
    // bytes: falling back to the older slot would silently drop a commit, and the next writer would
    // truncate the rest of it away.
    for at in format::SLOT_OFFSETS {
        if let Some(newer) = head.get(at..).and_then(format::decode_meta) {
            if newer.generation > m.generation && newer.committed_len > file_len {
                return Err(Error::corrupt(
                    path,
                    format!(
                        "file is {file_len} bytes but generation {} was committed with {} bytes \
                         (truncated or copied incompletely); restore it from a backup",
                        newer.generation, newer.committed_len
                    ),
                ));
            }
        }
    }
    Ok((p, m, file_len))
}

fn open_read(path: &Path) -> Result<File> {
    reject_directory(path)?;
    File::open(path).map_err(|e| Error::io(path, e))
}

/// Which db and which committed state: what a segment name and a loader need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIdentity {
    pub db_uuid: [u8; 16],
    pub canonical_path: PathBuf,
}

impl ImageIdentity {
    /// 16 hex chars of xxh3(uuid || canonical path): names this db's segments.
    pub fn db_id(&self) -> String {
        let mut key = self.db_uuid.to_vec();
        key.extend_from_slice(self.canonical_path.as_os_str().as_encoded_bytes());
        format!("{:016x}", xxh3_64(&key))
    }
}

/// The newest committed generation of a db file, with the file kept open so that a copy reads that
/// generation's bytes even if the path is replaced by compaction meanwhile.
pub struct CommittedImage {
    file: File,
    identity: ImageIdentity,
    preamble: Preamble,
    /// `identity.db_id()`, computed once: segment names use it on every attach.
    db_id: String,
    meta: MetaSlot,
    /// The generation's catalog, decoded when a loader first asks for it (attaching to a loaded
    /// generation never does).
    catalog: OnceCell<Catalog>,
}

impl CommittedImage {
    pub fn open(path: &Path) -> Result<CommittedImage> {
        let file = open_read(path)?;
        let canonical_path = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        let (preamble, meta, _) = read_header(&file, path)?;
        let identity = ImageIdentity {
            db_uuid: preamble.db_uuid,
            canonical_path,
        };
        Ok(CommittedImage {
            file,
            db_id: identity.db_id(),
            identity,
            preamble,
            meta,
            catalog: OnceCell::new(),
        })
    }

    pub fn identity(&self) -> &ImageIdentity {
        &self.identity
    }
    pub fn db_id(&self) -> &str {
        &self.db_id
    }
    pub fn generation(&self) -> u64 {
        self.meta.generation
    }
    pub fn commit_id(&self) -> u64 {
        self.meta.commit_id
    }
    pub fn meta(&self) -> &MetaSlot {
        &self.meta
    }

    /// The generation's catalog, read from this handle's file and checked.
    pub fn catalog(&self) -> Result<&Catalog> {
        if let Some(catalog) = self.catalog.get() {
            return Ok(catalog);
        }
        let path = &self.identity.canonical_path;
        let m = &self.meta;
        let mut cat = vec![0u8; m.catalog_len as usize];
        self.file
            .read_exact_at(&mut cat, m.catalog_offset)
            .map_err(|e| Error::io(path, e))?;
        let catalog = format::decode_catalog(&cat, m.catalog_xxh3, m.committed_len, path)?;
        Ok(self.catalog.get_or_init(|| catalog))
    }

    /// Reads bytes of this generation's image from this handle's file (the generation the header
    /// named, even if a commit or a compaction landed since: bytes below its committed length never
    /// change in this inode).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        let path = &self.identity.canonical_path;
        if end.is_none_or(|e| e > self.meta.committed_len) {
            return Err(Error::corrupt(
                path,
                format!("read at {offset} past the committed length"),
            ));
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::io(path, e))
    }

    /// A read-only map of the image.
    pub fn map(&self) -> Result<memmap2::Mmap> {
        let path = &self.identity.canonical_path;
        let len = usize::try_from(self.meta.committed_len)
            .map_err(|_| Error::corrupt(path, "image larger than the address space"))?;
        // SAFETY: bytes below committed_len are never modified in place (the meta slots excepted,
        // which readers do not consult through the map, and a build's reserved gap, which no catalog
        // of this generation names) and the file is never truncated below committed_len; compaction
        // replaces the file by rename, leaving this inode intact.
        unsafe { memmap2::MmapOptions::new().len(len).map(&self.file) }
            .map_err(|e| Error::io(path, e))
    }
}

/// The loader copies a generation's sections into a segment through this.
impl crate::segment::ImageSource for CommittedImage {
    fn db_id(&self) -> &str {
        &self.db_id
    }
    fn meta(&self) -> &MetaSlot {
        &self.meta
    }
    fn catalog(&self) -> Result<&Catalog> {
        CommittedImage::catalog(self)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        CommittedImage::read_at(self, offset, buf)
    }
}

/// Builds the bytes a commit appends. Sections get absolute offsets starting at `base`; a prepared
/// builder (`CommitBuilder::prepared`) encodes a commit's sections before the writer lock is taken, at
/// offsets relative to its start, and `append` places them in the commit once the lock is held.
pub struct CommitBuilder {
    base: u64,
    /// The bytes, in order from `base`: a prepared builder's are appended whole, never copied.
    chunks: Vec<Vec<u8>>,
    len: u64,
}

impl CommitBuilder {
    pub fn new(base: u64) -> CommitBuilder {
        CommitBuilder {
            base,
            chunks: vec![Vec::new()],
            len: 0,
        }
    }

    /// A builder for sections placed later by `append`: its offsets count from 0.
    pub fn prepared() -> CommitBuilder {
        CommitBuilder::new(0)
    }

    /// Pads to the next aligned offset and returns it.
    fn align(&mut self) -> u64 {
        let pad = (format::ALIGN - self.len % format::ALIGN) % format::ALIGN;
        let last = self
            .chunks
            .last_mut()
            .expect("a builder always has a chunk");
        last.resize(last.len() + pad as usize, 0);
        self.len += pad;
        self.base + self.len
    }

    /// Appends `bytes` at the next aligned offset and returns where they landed.
    pub fn push(&mut self, bytes: &[u8]) -> Section {
        let offset = self.align();
        self.chunks
            .last_mut()
            .expect("a builder always has a chunk")
            .extend_from_slice(bytes);
        self.len += bytes.len() as u64;
        Section {
            offset,
            len: bytes.len() as u64,
            xxh3: xxh3_64(bytes),
        }
    }

    /// The bytes a prepared builder holds, which its sections' offsets index; None once it has appended
    /// another builder (its bytes are then no longer one run).
    pub fn prepared_bytes(&self) -> Option<&[u8]> {
        match self.chunks.as_slice() {
            [bytes] if self.base == 0 => Some(bytes),
            _ => None,
        }
    }

    /// Runs `f` over a prepared builder's bytes (`prepared_bytes`) and a builder whose sections follow
    /// them, in the same numbering; what `f` pushes becomes part of this builder.
    pub fn extend_reading<T>(
        &mut self,
        f: impl FnOnce(&[u8], &mut CommitBuilder) -> Result<T>,
    ) -> Result<T> {
        let at = self.align();
        let mut more = CommitBuilder::new(at);
        let bytes = self
            .prepared_bytes()
            .ok_or_else(|| Error::Internal("only a prepared builder can be read".into()))?;
        let out = f(bytes, &mut more)?;
        self.len += more.len;
        self.chunks.extend(more.chunks);
        Ok(out)
    }

    /// Appends a prepared builder's bytes at the next aligned offset and returns how far its sections
    /// moved: add it to each of them (`Part::rebase`). They stay aligned, as the offset is.
    pub fn append(&mut self, prepared: CommitBuilder) -> u64 {
        let at = self.align();
        self.len += prepared.len;
        self.chunks.extend(prepared.chunks);
        self.chunks.push(Vec::new());
        at - prepared.base
    }
}

/// The writer: holds the exclusive lock on the db file and its newest committed state.
pub struct Writer {
    file: Flock<File>,
    path: PathBuf,
    preamble: Preamble,
    meta: MetaSlot,
    map: memmap2::Mmap,
}

/// Space reserved in a db file (`Writer::reserve`): a dead gap below `committed_len` that only the holder
/// of the build lock writes, and only before a catalog names it.
pub struct Reservation {
    /// A handle on the inode the gap was reserved in.
    file: File,
    path: PathBuf,
    inode: (u64, u64),
    offset: u64,
    len: u64,
}

impl Reservation {
    /// Writes `bytes` (at most the reserved length) at the gap's start and makes them durable. Needs no
    /// lock but the build lock: no reader, loader, compaction or writer reads or writes a gap before a
    /// commit names it.
    pub fn fill(&self, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 > self.len {
            return Err(Error::Internal("a reservation filled past its end".into()));
        }
        let mut at = self.offset;
        bytes
            .chunks(WRITEBACK_CHUNK)
            .try_for_each(|chunk| {
                self.file.write_all_at(chunk, at)?;
                write_back(&self.file, at, chunk.len())?;
                at += chunk.len() as u64;
                Ok(())
            })
            .and_then(|_| self.file.sync_data())
            .map_err(|e: std::io::Error| Error::io(&self.path, e))
    }
}

/// How many bytes a big write (a build's part, a compaction's copy) leaves dirty before it sends them to
/// disk and waits for them. A one-row commit's `fdatasync` writes back every dirty page of the db file,
/// and on ext4 (ordered data) its journal commit waits for other files' newly written pages too: a 1.7 GB
/// part written whole and synced at the end made a one-row commit meanwhile wait 6.8 s (bench/commits.py
/// at 1M). Written back a piece at a time, such a commit waits for about one piece: with 8 MiB pieces
/// one-row commits during a 1M build's fill took 46-95 ms (the disk writes ~300 MB/s here), with 1 MiB
/// pieces mostly 10-21 ms (docs/ann.md, "Not done / known weak").
const WRITEBACK_CHUNK: usize = 1 << 20;

/// Starts writing `file`'s bytes `[offset, offset + len)` to disk and waits until they are written
/// (`sync_file_range`: data only, no disk cache flush; the write's final `fdatasync` makes it durable).
fn write_back(file: &File, offset: u64, len: usize) -> std::io::Result<()> {
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let (offset, len) = (offset as libc::off64_t, len as libc::off64_t);
    // SAFETY: a plain syscall on a descriptor `file` keeps open; it touches no memory of ours.
    match unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

fn inode_of(file: &File, path: &Path) -> Result<(u64, u64)> {
    let m = file.metadata().map_err(|e| Error::io(path, e))?;
    Ok((m.dev(), m.ino()))
}

fn same_inode(file: &File, path: &Path) -> Result<bool> {
    let a = inode_of(file, path)?;
    match std::fs::metadata(path) {
        Ok(b) => Ok(a == (b.dev(), b.ino())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

impl Writer {
    /// Takes the writer lock (blocking while another writer commits), creating the db if missing.
    pub fn lock(path: &Path) -> Result<Writer> {
        loop {
            create_if_missing(path)?;
            reject_directory(path)?;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            let mut file = file;
            let locked = loop {
                match Flock::lock(file, FlockArg::LockExclusive) {
                    Ok(l) => break l,
                    Err((f, Errno::EINTR)) => file = f,
                    Err((_, e)) => return Err(Error::io(path, e.into())),
                }
            };
            // Compaction renames a new file over the path while we wait: lock the file the path names.
            if !same_inode(&locked, path)? {
                continue;
            }
            let (preamble, meta, file_len) = read_header(&locked, path)?;
            if file_len > meta.committed_len {
                // A torn commit's tail: nothing references it.
                locked
                    .set_len(meta.committed_len)
                    .map_err(|e| Error::io(path, e))?;
            }
            let len = usize::try_from(meta.committed_len)
                .map_err(|_| Error::corrupt(path, "image larger than the address space"))?;
            // SAFETY: we hold the writer lock, so only we append; bytes below committed_len never change.
            let map = unsafe { memmap2::MmapOptions::new().len(len).map(&*locked) }
                .map_err(|e| Error::io(path, e))?;
            return Ok(Writer {
                file: locked,
                path: path.to_path_buf(),
                preamble,
                meta,
                map,
            });
        }
    }

    pub fn meta(&self) -> &MetaSlot {
        &self.meta
    }

    /// The committed image the next commit builds on.
    pub fn image(&self) -> &[u8] {
        &self.map
    }

    /// Where the next commit's first section goes.
    pub fn builder(&self) -> CommitBuilder {
        // committed_len is at most the mapped length, so it cannot overflow after alignment.
        CommitBuilder::new(format::align_up(self.meta.committed_len).unwrap_or(u64::MAX))
    }

    /// Makes `catalog` (whose new sections are in `builder`) the next generation, durably. Never
    /// compacts: a commit after which `compaction_due` holds starts the builder, which compacts.
    pub fn commit(self, builder: CommitBuilder, catalog: &Catalog) -> Result<MetaSlot> {
        let cat = format::encode_catalog(catalog)?;
        if cat.len() > format::CATALOG_LIMIT {
            return Err(Error::invalid(
                "the catalog would exceed 256 MiB; too many collections or parts",
            ));
        }
        let base = builder.base;
        let catalog_offset = format::align_up(base + builder.len)
            .ok_or_else(|| Error::Internal("file offset overflow".into()))?;
        let meta = MetaSlot {
            generation: self.meta.generation + 1,
            commit_id: random_u64(),
            catalog_offset,
            catalog_len: cat.len() as u64,
            catalog_xxh3: xxh3_64(&cat),
            committed_len: catalog_offset + cat.len() as u64,
            live_bytes: catalog.live_bytes(cat.len() as u64),
        };
        self.write_generation(base, &builder.chunks, &cat, &meta)?;
        Ok(meta)
    }

    /// Makes `meta` the newest generation, durably: `chunks` from `base` and the catalog `cat` at
    /// `meta.catalog_offset`, fdatasync, then the slot `meta` uses, fdatasync.
    fn write_generation(
        &self,
        base: u64,
        chunks: &[Vec<u8>],
        cat: &[u8],
        meta: &MetaSlot,
    ) -> Result<()> {
        let path = &self.path;
        // Alignment gaps (and a reservation's gap) are never written here: the file reads them back
        // as zeros until their owner fills them.
        let mut at = base;
        let mut sections = Ok(());
        for chunk in chunks {
            sections = sections.and_then(|_| self.file.write_all_at(chunk, at));
            at += chunk.len() as u64;
        }
        sections
            .and_then(|_| self.file.write_all_at(cat, meta.catalog_offset))
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(path, e))?;
        let slot = format::SLOT_OFFSETS[meta.slot_index()];
        self.file
            .write_all_at(&format::encode_meta(meta), slot as u64)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(path, e))
    }

    /// Reserves `len` bytes of the file for the holder of the build lock (`<db>.build`), who fills them
    /// without the writer lock (`Reservation::fill`) and names them in a later commit. The reservation is
    /// a generation with the newest catalog unchanged, written past a dead gap of `len` bytes at the
    /// aligned old `committed_len` (docs/format.md, "Invariants and the commit protocol"). Never
    /// compacts: that would replace the file the gap was reserved in.
    pub fn reserve(self, len: u64) -> Result<Reservation> {
        let path = &self.path;
        let m = self.meta;
        let cat = self.map[m.catalog_offset as usize..m.committed_len as usize].to_vec();
        let offset = format::align_up(m.committed_len);
        let catalog_offset = offset
            .and_then(|at| at.checked_add(len))
            .and_then(format::align_up)
            .ok_or_else(|| Error::Internal("file offset overflow".into()))?;
        let offset = offset.unwrap_or(u64::MAX);
        let meta = MetaSlot {
            generation: m.generation + 1,
            commit_id: random_u64(),
            catalog_offset,
            committed_len: catalog_offset + cat.len() as u64,
            ..m
        };
        // A handle of its own on the inode we hold locked (the path names it while we hold the lock):
        // the builder fills the gap through it after the lock is released, even if a compaction has
        // renamed another file over the path by then.
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let inode = inode_of(&file, path)?;
        if inode != inode_of(&self.file, path)? {
            return Err(Error::Internal("db changed under the writer lock".into()));
        }
        self.write_generation(offset, &[], &cat, &meta)?;
        Ok(Reservation {
            file,
            path: path.clone(),
            inode,
            offset,
            len,
        })
    }

    /// Where `r`'s bytes lie in the file this writer holds, or None when that is not the file they
    /// were reserved in (a compaction replaced it since: the reservation went with the old file).
    pub fn reserved_at(&self, r: &Reservation) -> Result<Option<u64>> {
        let here = inode_of(&self.file, &self.path)? == r.inode
            && r.offset
                .checked_add(r.len)
                .is_some_and(|end| end <= self.meta.committed_len);
        Ok(here.then_some(r.offset))
    }
}

/// Whether the file a commit left is larger than twice its live bytes plus `COMPACT_SLACK`: the builder
/// then compacts it (`compact`).
pub fn compaction_due(meta: &MetaSlot) -> bool {
    meta.committed_len > meta.live_bytes.saturating_mul(2) + COMPACT_SLACK
}

/// Rewrites the db file at `path` with only the sections its newest generation references, renamed
/// over the path as generation + 1 (same uuid); readers of the old inode keep their maps. With
/// `only_if_due`, only when `compaction_due`; else whenever it holds a byte no section references.
/// Returns the compacted generation's slot, or None when it did not compact.
///
/// The caller holds the build lock (`<path>.build`): no other compaction runs, and no build's
/// reservation is thrown away. The live sections of the newest generation are copied into
/// `<path>.compact-<pid>` and synced without the writer lock (they never change in that inode); under
/// it, only the sections commits added since (a section at the same offset with the same length is the
/// same one) are copied, then the catalog and both slots are written, fsync, rename, fsync of the
/// directory. A compaction that fails leaves the file as it was. `between` runs after the copy, before
/// the writer lock is taken (a test hook's place).
pub fn compact(
    path: &Path,
    only_if_due: bool,
    between: impl FnOnce() -> Result<()>,
) -> Result<Option<MetaSlot>> {
    remove_stale_compactions(path);
    let image = CommittedImage::open(path)?;
    let meta = *image.meta();
    let layout = CompactLayout::plan(image.catalog()?)?;
    let worth = match only_if_due {
        true => compaction_due(&meta),
        false => meta.committed_len > layout.len(),
    };
    if !worth {
        return Ok(None);
    }
    let tmp = temp_name(path, "compact");
    let _ = std::fs::remove_file(&tmp);
    let done = compact_into(path, &tmp, &image, &layout, between);
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

fn compact_into(
    path: &Path,
    tmp: &Path,
    image: &CommittedImage,
    layout: &CompactLayout,
    between: impl FnOnce() -> Result<()>,
) -> Result<Option<MetaSlot>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| Error::io(tmp, e))?;
    // Its slots are rewritten under the writer lock, at the generation the file then gets.
    let mut w = std::io::BufWriter::with_capacity(COPY_CHUNK, &file);
    // [written back, written): what this copy has left dirty (`WRITEBACK_CHUNK`).
    let (mut clean, mut written) = (0u64, 0u64);
    layout.emit(
        &image.preamble,
        image.meta(),
        |from, dst| image.read_at(from, dst),
        &mut |piece| {
            w.write_all(piece).map_err(|e| Error::io(tmp, e))?;
            written += piece.len() as u64;
            if written - clean >= WRITEBACK_CHUNK as u64 {
                w.flush()
                    .and_then(|_| write_back(&file, clean, (written - clean) as usize))
                    .map_err(|e| Error::io(tmp, e))?;
                clean = written;
            }
            Ok(())
        },
    )?;
    w.flush()
        .and_then(|_| file.sync_data())
        .map_err(|e| Error::io(tmp, e))?;
    drop(w);
    between()?;
    compact_newest(path, tmp, &file, image, layout)
}

/// Under the writer lock: completes the compacted copy `file` of `image`'s generation into the newest
/// generation and renames it over `path`.
fn compact_newest(
    path: &Path,
    tmp: &Path,
    file: &File,
    image: &CommittedImage,
    layout: &CompactLayout,
) -> Result<Option<MetaSlot>> {
    let writer = Writer::lock(path)?;
    if inode_of(&writer.file, path)? != inode_of(&image.file, path)? {
        // Replaced meanwhile (by a covec that compacts under the writer lock alone): nothing to do.
        let _ = std::fs::remove_file(tmp);
        return Ok(None);
    }
    let m = writer.meta;
    let newest = format::decode_catalog(
        &writer.map[m.catalog_offset as usize..m.committed_len as usize],
        m.catalog_xxh3,
        m.committed_len,
        path,
    )?;
    // A section at the same offset with the same length in this inode is the same one.
    let copied: HashMap<(u64, u64), u64> = layout
        .moves
        .iter()
        .map(|&(from, to, len)| ((from, len), to))
        .collect();
    let added = CompactLayout::plan_from(&newest, layout.catalog_offset, &copied)?;
    let meta = added.meta(m.generation + 1, random_u64());
    let mut written = Ok(());
    for &(from, to, len) in &added.moves {
        let src = usize::try_from(from)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(f, l)| writer.map.get(f..f.checked_add(l)?));
        let src = src.ok_or_else(|| Error::corrupt(path, "section outside the image"))?;
        written = written.and_then(|_| file.write_all_at(src, to));
    }
    written
        .and_then(|_| file.write_all_at(&added.encoded_catalog, meta.catalog_offset))
        .and_then(|_| file.set_len(meta.committed_len))
        .map_err(|e| Error::io(tmp, e))?;
    file.write_all_at(&encode_head(&writer.preamble, &meta)?, 0)
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(tmp, e))?;
    std::fs::rename(tmp, path).map_err(|e| Error::io(path, e))?;
    sync_dir(path)?;
    Ok(Some(meta))
}

/// Full check of a db file: header, catalog, and every section's checksum (`covec verify`).
pub fn verify(path: &Path) -> Result<MetaSlot> {
    let image = CommittedImage::open(path)?;
    let map = image.map()?;
    let m = *image.meta();
    let cat = format::decode_catalog(
        &map[m.catalog_offset as usize..m.committed_len as usize],
        m.catalog_xxh3,
        m.committed_len,
        path,
    )?;
    format::verify_sections(&cat, &map, path)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::CommitBuilder;
    use crate::format::{Section, ALIGN};

    /// The bytes a builder holds from its base, as a commit writes them.
    fn image(b: &CommitBuilder) -> Vec<u8> {
        b.chunks.concat()
    }

    fn read(image: &[u8], base: u64, s: &Section) -> Vec<u8> {
        let at = (s.offset - base) as usize;
        image[at..at + s.len as usize].to_vec()
    }

    /// Sections encoded before the commit's offset is known land, moved by the shift `append` returns,
    /// on their own bytes, aligned, after what the commit pushed before and before what it pushes after.
    #[test]
    fn a_prepared_builder_lands_whole_at_an_aligned_offset() {
        let base = 4096 + 3 * ALIGN;
        let mut commit = CommitBuilder::new(base);
        let before = commit.push(b"written under the lock");
        let mut prepared = CommitBuilder::prepared();
        let first = prepared.push(&[7u8; 100]);
        let second = prepared.push(b"second section");
        let shift = commit.append(prepared);
        let after = commit.push(b"a deletion bitmap");
        let bytes = image(&commit);
        assert_eq!(read(&bytes, base, &before), b"written under the lock");
        for (s, want) in [
            (first, vec![7u8; 100]),
            (second, b"second section".to_vec()),
        ] {
            let moved = Section {
                offset: s.offset + shift,
                ..s
            };
            assert_eq!(moved.offset % ALIGN, 0);
            assert!(moved.offset >= before.offset + before.len);
            assert!(moved.offset + moved.len <= after.offset);
            assert_eq!(read(&bytes, base, &moved), want);
        }
        assert_eq!(read(&bytes, base, &after), b"a deletion bitmap");
        assert_eq!(commit.len, bytes.len() as u64);
    }
}
