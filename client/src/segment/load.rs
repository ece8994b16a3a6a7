//! Loading a generation, under the reference file's exclusive lock: its bytes go into a segment of the
//! db at the db file's own offsets, then a publication in the reference file says where it lies.
//!
//! A segment grows by appending: when the db's newest segment already holds what this generation shares
//! with the ones published there (its parts, graphs, deletion bitmaps), only the rest is written, so a
//! commit that appends a small part costs a small copy. A generation that cannot go there (another
//! history of the db over held bytes: the db file was compacted or replaced) gets a new segment,
//! copied whole.

use std::collections::BTreeMap;

use super::header::HEADER_LEN;
use super::pages::{dead_pages, generation_ranges, plan_append};
use super::segfile::{free_bytes, SegmentFile};
use super::slots::{Published, RefFile};
use super::{ImageSource, ShmConfig};
use crate::error::{Error, Result};
use crate::format::Section;

/// Bytes are copied through a buffer of this size: small enough to stay in L2 between the read and the
/// write (as `cp`'s own buffer does), large enough that syscalls are cheap.
const COPY_CHUNK: usize = 128 << 10;

/// Loads and publishes generation `src`, unless `may_write` refuses the bytes the load would write
/// (None: nothing written, nothing published). Our slot on it is written first, so a loader killed at
/// any point leaves a dead slot of an unpublished generation, which tells the next lock holder to remove
/// what it wrote (`finish_locked` with `scan`); on an error or a refusal, we remove it ourselves.
pub(super) fn load(
    cfg: &ShmConfig,
    src: &dyn ImageSource,
    rf: &mut RefFile,
    pid: u32,
    start: u64,
    may_write: &dyn Fn(u64) -> bool,
) -> Result<Option<Published>> {
    let meta = *src.meta();
    let catalog_range = Section {
        offset: meta.catalog_offset,
        len: meta.catalog_len,
        xxh3: meta.catalog_xxh3,
    };
    let ranges = generation_ranges(src.catalog()?, catalog_range);
    rf.add(pid, start, meta.generation, meta.commit_id)?;
    let loaded = place(cfg, src, rf, pid, &ranges, may_write).and_then(|placed| {
        let Some(segment) = placed else {
            return Ok(None);
        };
        let p = Published {
            loaded_by: pid,
            generation: meta.generation,
            commit_id: meta.commit_id,
            segment,
            catalog_offset: meta.catalog_offset,
            committed_len: meta.committed_len,
            catalog_xxh3: meta.catalog_xxh3,
        };
        rf.publish(&p)?;
        Ok(Some(p))
    });
    if !matches!(loaded, Ok(Some(_))) {
        rf.release(pid, start, meta.generation, meta.commit_id)?;
    }
    loaded
}

/// Where the bytes go: an existing segment that can take them (`plan_append`), the one holding the
/// newest published generation tried first, else a new one. Returns the segment's id once every range
/// is written, or None when `may_write` refused that many bytes.
fn place(
    cfg: &ShmConfig,
    src: &dyn ImageSource,
    rf: &RefFile,
    pid: u32,
    ranges: &[Section],
    may_write: &dyn Fn(u64) -> bool,
) -> Result<Option<u64>> {
    let db_id = src.db_id();
    let mut by_segment: BTreeMap<u64, Vec<Published>> = BTreeMap::new();
    for p in rf.published() {
        by_segment.entry(p.segment).or_default().push(*p);
    }
    let mut candidates: Vec<(u64, Vec<Published>)> = by_segment.into_iter().collect();
    candidates.sort_by_key(|(_, ps)| std::cmp::Reverse(ps.iter().map(|p| p.generation).max()));
    for (id, published) in candidates {
        // A segment we cannot write or read (gone, untrusted, a group member's we may not write) is
        // passed over: the generation then goes elsewhere.
        let Ok(Some(seg)) = SegmentFile::open(cfg, db_id, id, true) else {
            continue;
        };
        let Ok(held) = published
            .iter()
            .map(|p| seg.ranges_of(p))
            .collect::<Result<Vec<_>>>()
        else {
            continue;
        };
        let held: Vec<Section> = held.into_iter().flatten().collect();
        if let Some(write) = plan_append(&held, ranges) {
            let needed: u64 = write.iter().map(|s| s.len).sum();
            if !may_write(needed) {
                return Ok(None);
            }
            check_space(cfg, needed)?;
            if let Err(e) = copy(cfg, src, &seg, &write, needed) {
                // Give back what we wrote; the held ranges' pages are never touched.
                let written: Vec<(u64, u64)> = write
                    .iter()
                    .map(|s| (s.offset, s.offset.saturating_add(s.len)))
                    .collect();
                seg.punch(&dead_pages(&held, &written));
                return Err(e);
            }
            return Ok(Some(id));
        }
    }
    let needed = ranges
        .iter()
        .map(|s| s.len)
        .sum::<u64>()
        .saturating_add(HEADER_LEN as u64);
    if !may_write(needed) {
        return Ok(None);
    }
    check_space(cfg, needed)?;
    let seg = SegmentFile::create(cfg, db_id, pid)?;
    if let Err(e) = copy(cfg, src, &seg, ranges, needed) {
        let _ = std::fs::remove_file(&seg.path);
        return Err(e);
    }
    Ok(Some(seg.id))
}

fn check_space(cfg: &ShmConfig, needed: u64) -> Result<()> {
    let available = free_bytes(&cfg.dir)?;
    if needed > available {
        return Err(Error::ShmFull {
            dir: cfg.dir.clone(),
            needed,
            available,
        });
    }
    Ok(())
}

/// Copies each range of `src` to the same offset in `seg` (`needed` bytes in all).
fn copy(
    cfg: &ShmConfig,
    src: &dyn ImageSource,
    seg: &SegmentFile,
    ranges: &[Section],
    needed: u64,
) -> Result<()> {
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut copied = 0;
    let mut paused = false;
    for r in ranges {
        let mut done = 0;
        while done < r.len {
            if !paused && copied * 2 >= needed {
                paused = true;
                test_slow_load();
            }
            let n = (r.len - done).min(COPY_CHUNK as u64) as usize;
            src.read_at(r.offset + done, &mut buf[..n])?;
            seg.write_at(cfg, r.offset + done, &buf[..n], needed)?;
            done += n as u64;
            copied += n as u64;
        }
    }
    Ok(())
}

/// Test hook (tests/test_crash_matrix.py, tests/test_hostile.py): `COVEC_TEST_SLOW_LOAD_MS=N` sleeps
/// N ms (at most 10 s) halfway through copying a generation's bytes, with the segment open for
/// writing, so a SIGKILL (or a full tmpfs) can land while a load is half done. Unset (always, outside
/// tests), it costs one env lookup per load.
fn test_slow_load() {
    if let Some(ms) = std::env::var("COVEC_TEST_SLOW_LOAD_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
    }
}
