//! The serialized index: little-endian `u32` words, byte-for-byte what docs/ann.md describes.
//! Changing this layout breaks databases: bump `VERSION` and keep reading the old one.

use std::path::PathBuf;

use super::graph::Graph;
use super::order::not_once;
use super::{HnswIndex, HnswView, MAX_LEVEL, MAX_M};
use crate::error::{Error, Result};
use crate::schema::Metric;

pub(crate) const MAGIC: [u8; 8] = *b"CVECHNSW";
/// 2 added the insertion order (`FLAG_INSERTION`); version-1 sections are read as ever.
pub(crate) const VERSION: u32 = 2;
/// Header words: magic (2), version, metric, m, m0, max_level, entry, n, dim, upper_len, flags.
pub(crate) const HEADER_WORDS: usize = 12;

// Word indexes in the header.
const W_VERSION: usize = 2;
const W_METRIC: usize = 3;
const W_M: usize = 4;
const W_M0: usize = 5;
const W_MAX_LEVEL: usize = 6;
const W_ENTRY: usize = 7;
const W_N: usize = 8;
const W_DIM: usize = 9;
const W_UPPER_LEN: usize = 10;
const W_FLAGS: usize = 11;

/// Flag: `n` words after the upper layers list the nodes in the order they were inserted.
const FLAG_INSERTION: u32 = 1;

// Stored metric codes, the discriminants of `schema::Metric`. Graphs index float vectors, whose metrics
// are the first three; a graph section naming another is refused.
fn metric_code(metric: Metric) -> u32 {
    match metric {
        Metric::L2 => 0,
        Metric::Ip => 1,
        Metric::Cosine => 2,
        Metric::Hamming => 3,
        Metric::Jaccard => 4,
        Metric::Bm25 => 5,
    }
}

fn metric_from_code(code: u32) -> Option<Metric> {
    match code {
        0 => Some(Metric::L2),
        1 => Some(Metric::Ip),
        2 => Some(Metric::Cosine),
        _ => None,
    }
}

/// The section has no file of its own; errors name it so the caller can add the db path.
fn section() -> PathBuf {
    PathBuf::from("<hnsw index section>")
}

pub(super) fn corrupt(reason: impl Into<String>) -> Error {
    Error::corrupt(section(), reason)
}

pub(crate) fn to_bytes(ix: &HnswIndex) -> Vec<u8> {
    let (dim, metric) = (ix.dim, ix.metric);
    let insertion = ix.insertion.as_deref().unwrap_or(&[]);
    let flags = if ix.insertion.is_some() {
        FLAG_INSERTION
    } else {
        0
    };
    let ix = &ix.links;
    let words =
        HEADER_WORDS + ix.layer0.len() + ix.upper_off.len() + ix.upper.len() + insertion.len();
    let mut out = Vec::with_capacity(words * 4);
    out.extend_from_slice(&MAGIC);
    let header = [
        VERSION,
        metric_code(metric),
        ix.m as u32,
        ix.m0 as u32,
        ix.max_level as u32,
        ix.entry,
        ix.n as u32,
        dim as u32,
        ix.upper.len() as u32,
        flags,
    ];
    for w in header
        .iter()
        .chain(&ix.layer0)
        .chain(&ix.upper_off)
        .chain(&ix.upper)
        .chain(insertion)
    {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// Reinterprets 4-byte-aligned bytes as native words. On a little-endian host these are the stored
/// little-endian values, so the index is searched in place with no copy.
fn as_words(bytes: &[u8]) -> Result<&[u32]> {
    if cfg!(target_endian = "big") {
        return Err(Error::invalid(
            "the HNSW index is searched in place as little-endian words; big-endian hosts are not supported",
        ));
    }
    // SAFETY: every bit pattern is a valid u32, and `align_to` only yields correctly aligned words.
    let (head, words, tail) = unsafe { bytes.align_to::<u32>() };
    if !head.is_empty() {
        return Err(Error::Internal(
            "HNSW section is not 4-byte aligned in memory; the db format places it 64-byte aligned"
                .into(),
        ));
    }
    if !tail.is_empty() {
        return Err(corrupt(format!(
            "HNSW section length {} is not a multiple of 4",
            bytes.len()
        )));
    }
    Ok(words)
}

/// Checks every structural invariant `Graph` relies on, so that searching the view can never index
/// out of bounds. Reads each word at most once; allocates only the insertion order's check bitmap.
/// With `deep` false only the header and the array lengths are checked (O(1)): for bytes that
/// already passed the deep check.
pub(crate) fn view(bytes: &[u8], n: usize, deep: bool) -> Result<HnswView<'_>> {
    if bytes.len() < HEADER_WORDS * 4 {
        return Err(corrupt(format!(
            "HNSW section is {} bytes, shorter than its {}-byte header",
            bytes.len(),
            HEADER_WORDS * 4
        )));
    }
    if bytes[..8] != MAGIC {
        return Err(corrupt("HNSW section does not start with its magic"));
    }
    let words = as_words(bytes)?;
    let version = words[W_VERSION];
    if version > VERSION {
        return Err(Error::NewerVersion {
            path: section(),
            found: version,
            supported: VERSION,
        });
    }
    if version == 0 {
        return Err(corrupt("HNSW version 0 does not exist"));
    }
    let metric = metric_from_code(words[W_METRIC])
        .ok_or_else(|| corrupt(format!("unknown HNSW metric code {}", words[W_METRIC])))?;
    let m = words[W_M] as usize;
    let m0 = words[W_M0] as usize;
    if !(2..=MAX_M).contains(&m) || m0 < m || m0 > 2 * MAX_M {
        return Err(corrupt(format!(
            "HNSW degree limits M={m}, M0={m0} are out of range"
        )));
    }
    let max_level = words[W_MAX_LEVEL] as usize;
    if max_level > MAX_LEVEL {
        return Err(corrupt(format!(
            "HNSW max level {max_level} exceeds {MAX_LEVEL}"
        )));
    }
    if words[W_N] as usize != n {
        return Err(corrupt(format!(
            "HNSW index covers {} rows but the collection has {n} indexed rows",
            words[W_N]
        )));
    }
    let dim = words[W_DIM] as usize;
    if dim == 0 {
        return Err(corrupt("HNSW dimension is 0"));
    }
    let known_flags = if version >= 2 { FLAG_INSERTION } else { 0 };
    let flags = words[W_FLAGS];
    if flags & !known_flags != 0 {
        return Err(corrupt(format!("unknown HNSW flags {flags:#x}")));
    }
    let insertion_len = if flags & FLAG_INSERTION != 0 { n } else { 0 };
    let upper_len = words[W_UPPER_LEN] as usize;
    // All in u64: a corrupt header cannot overflow its way past the length check.
    let expected = HEADER_WORDS as u64
        + n as u64 * (m0 as u64 + 1)
        + (n as u64 + 1)
        + upper_len as u64
        + insertion_len as u64;
    if expected != words.len() as u64 {
        return Err(corrupt(format!(
            "HNSW section has {} words; its header implies {expected}",
            words.len()
        )));
    }
    let body = &words[HEADER_WORDS..];
    let (layer0, rest) = body.split_at(n * (m0 + 1));
    let (upper_off, rest) = rest.split_at(n + 1);
    let (upper, insertion) = rest.split_at(upper_len);

    let graph = Graph {
        m,
        m0,
        max_level,
        entry: words[W_ENTRY],
        n,
        layer0,
        upper_off,
        upper,
    };
    let insertion = (insertion_len > 0).then_some(insertion);
    if deep {
        check_links(&graph)?;
        if let Some(order) = insertion {
            check_permutation(order)?;
        }
    } else if n > 0 && graph.entry as usize >= n {
        return Err(corrupt(format!(
            "HNSW entry point {} is past the {n} rows",
            graph.entry
        )));
    }
    Ok(HnswView {
        metric,
        dim,
        graph,
        insertion,
    })
}

/// The insertion order lists every node once.
fn check_permutation(order: &[u32]) -> Result<()> {
    match not_once(order) {
        None => Ok(()),
        Some(node) => Err(corrupt(format!(
            "HNSW insertion order lists node {node} twice or past the {} rows",
            order.len()
        ))),
    }
}

/// The per-node half of `view`: offsets and levels, every node's lists through `Graph::neighbours`
/// (the check a walk makes node by node), then what only the whole graph shows: a neighbour on level
/// `l` is itself on level `>= l`, and the entry point is a node on the top level.
fn check_links(g: &Graph) -> Result<()> {
    let (n, max_level, stride) = (g.n, g.max_level, g.m + 1);
    if g.upper_off[0] != 0 || g.upper_off[n] as usize != g.upper.len() {
        return Err(corrupt(
            "HNSW upper-layer offsets do not span the upper-layer array",
        ));
    }
    let mut node_max = 0;
    for (node, pair) in g.upper_off.windows(2).enumerate() {
        let (start, end) = (pair[0] as usize, pair[1] as usize);
        if end < start || (end - start) % stride != 0 {
            return Err(corrupt(format!(
                "node {node} has a malformed upper-layer offset"
            )));
        }
        let level = (end - start) / stride;
        if level > max_level {
            return Err(corrupt(format!(
                "node {node} is on level {level}, above the max level {max_level}"
            )));
        }
        node_max = node_max.max(level);
    }
    // The offsets are sound from here on, so `g.level` is every node's level.
    for node in 0..n as u32 {
        g.neighbours(node, 0)?;
        for level in 1..=g.level(node) {
            if let Some(&id) = g
                .neighbours(node, level)?
                .iter()
                .find(|&&id| g.level(id) < level)
            {
                return Err(corrupt(format!(
                    "node {node} links on level {level} to row {id}, which is not on that level"
                )));
            }
        }
    }

    if n == 0 {
        if g.entry != 0 || max_level != 0 {
            return Err(corrupt("empty HNSW index with an entry point"));
        }
    } else if g.entry as usize >= n || g.level(g.entry) != max_level || node_max != max_level {
        return Err(corrupt(format!(
            "HNSW entry point {} is not a node on the top level {max_level}",
            g.entry
        )));
    }
    Ok(())
}
