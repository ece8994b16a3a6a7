//! Which bytes of a segment a generation uses, and what a load or a release does with them. Pure: no
//! I/O. A segment holds generations at the db file's own offsets, so a byte range is named by its
//! offset, length and xxh3 (a `Section`), and two generations of one db history name a section they
//! share by the same triple.

use crate::format::{Catalog, Section};

/// The unit tmpfs allocates and frees.
pub(super) const PAGE: u64 = 4096;

/// Every byte range a generation uses: each section its catalog names, then the catalog itself.
pub(super) fn generation_ranges(catalog: &Catalog, catalog_range: Section) -> Vec<Section> {
    catalog
        .sections()
        .copied()
        .chain(std::iter::once(catalog_range))
        .collect()
}

/// [start, end) of a range; empty ranges touch nothing.
fn span(s: &Section) -> (u64, u64) {
    (s.offset, s.offset.saturating_add(s.len))
}

/// What loading a generation of ranges `new` into a segment whose published generations use ranges
/// `held` must write: the new ranges no held range already holds (same offset, length and xxh3). None
/// when a new range overlaps a held range that is not the same one (another history of the db, e.g.
/// after the file was compacted or restored): its bytes cannot go there without changing what readers
/// of that generation see, so the generation needs a segment of its own.
pub(super) fn plan_append(held: &[Section], new: &[Section]) -> Option<Vec<Section>> {
    let mut spans: Vec<(u64, u64)> = held.iter().map(span).filter(|(a, b)| a < b).collect();
    spans.sort_unstable();
    // reach[i]: the furthest end among spans[..=i], so one binary search answers "does any held range
    // overlap [a, b)" even when held ranges overlap each other (a hostile catalog's).
    let reach: Vec<u64> = spans
        .iter()
        .scan(0, |m, &(_, b)| {
            *m = (*m).max(b);
            Some(*m)
        })
        .collect();
    let mut present: Vec<Section> = held.to_vec();
    present.sort_unstable_by_key(|s| (s.offset, s.len, s.xxh3));
    let mut write = Vec::new();
    for s in new {
        let (a, b) = span(s);
        if a == b
            || present
                .binary_search_by_key(&(s.offset, s.len, s.xxh3), |h| (h.offset, h.len, h.xxh3))
                .is_ok()
        {
            continue;
        }
        let before = spans.partition_point(|&(start, _)| start < b);
        if before > 0 && reach[before - 1] > a {
            return None;
        }
        write.push(*s);
    }
    write.sort_unstable_by_key(|s| (s.offset, s.len));
    write.dedup_by_key(|s| (s.offset, s.len, s.xxh3));
    Some(write)
}

/// Sorted, merged [start, end) page spans covering every page `ranges` touch.
fn pages_touched(ranges: impl Iterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut pages: Vec<(u64, u64)> = ranges
        .filter(|(a, b)| a < b)
        .map(|(a, b)| (a / PAGE * PAGE, b.div_ceil(PAGE).saturating_mul(PAGE)))
        .collect();
    pages.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(pages.len());
    for (a, b) in pages {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// The whole pages that `dead` ranges touch and no `live` range (nor the header page) touches: what can
/// be given back to tmpfs without changing a byte any live generation reads. Sorted and disjoint.
pub(super) fn dead_pages(live: &[Section], dead: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let live = pages_touched(live.iter().map(span).chain(std::iter::once((0, PAGE))));
    let mut out = Vec::new();
    let mut j = 0;
    for (mut a, b) in pages_touched(dead.iter().copied()) {
        while j < live.len() && live[j].1 <= a {
            j += 1;
        }
        let mut k = j;
        while a < b {
            match live.get(k) {
                Some(&(la, lb)) if la < b => {
                    if la > a {
                        out.push((a, la));
                    }
                    a = a.max(lb);
                    k += 1;
                }
                _ => {
                    out.push((a, b));
                    a = b;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset: u64, len: u64, xxh3: u64) -> Section {
        Section { offset, len, xxh3 }
    }

    #[test]
    fn an_append_writes_only_what_the_segment_lacks() {
        let held = [s(4096, 100, 1), s(4224, 5000, 2), s(9280, 64, 3)];
        let new = [
            s(4096, 100, 1),
            s(9280, 64, 3),
            s(9344, 300, 4),
            s(4224, 5000, 2),
        ];
        assert_eq!(plan_append(&held, &new), Some(vec![s(9344, 300, 4)]));
        // A range in a hole (a released generation's) is written again.
        assert_eq!(
            plan_append(&held, &[s(20_000, 10, 9)]),
            Some(vec![s(20_000, 10, 9)])
        );
        assert_eq!(plan_append(&[], &new).unwrap().len(), 4);
    }

    #[test]
    fn another_history_over_held_bytes_needs_its_own_segment() {
        let held = [s(4096, 100, 1), s(4224, 5000, 2)];
        // Same place, other bytes; or overlapping a held range.
        assert_eq!(plan_append(&held, &[s(4096, 100, 7)]), None);
        assert_eq!(plan_append(&held, &[s(4200, 64, 7)]), None);
        assert_eq!(plan_append(&held, &[s(0, 4097, 7)]), None);
        // Held ranges that overlap each other are still all seen.
        let odd = [s(4096, 100_000, 1), s(5000, 10, 2)];
        assert_eq!(plan_append(&odd, &[s(50_000, 8, 3)]), None);
    }

    #[test]
    fn dead_pages_spare_every_page_a_live_range_touches() {
        // Live: the header page, [8192, 8292) and [20000, 20100). Dead: [4200, 20000).
        let live = [s(8192, 100, 0), s(20_000, 100, 0)];
        assert_eq!(
            dead_pages(&live, &[(4200, 20_000)]),
            vec![(4096, 8192), (12_288, 16_384)]
        );
        // Nothing live: every touched page but the header's.
        assert_eq!(dead_pages(&[], &[(100, 9000)]), vec![(4096, 12_288)]);
        assert_eq!(dead_pages(&live, &[(8200, 8250)]), vec![]);
        assert_eq!(dead_pages(&live, &[]), vec![]);
        // Two dead ranges sharing a page free it once, whole.
        assert_eq!(
            dead_pages(&[], &[(40_000, 41_000), (41_000, 50_000)]),
            vec![(36_864, 53_248)]
        );
    }
}
