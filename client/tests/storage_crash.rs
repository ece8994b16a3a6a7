//! What a crash or damage leaves behind: torn commits read back as the previous generation, newer
//! formats and foreign files are refused with the right error, damaged sections are found by verify.

mod storage_util;

use covec::internals::engine::Snapshot;
use covec::internals::format::Section;
use covec::internals::store::CommittedImage;
use covec::{Db, Error, Pk};
use storage_util::*;

const SLOTS: [usize; 2] = [1024, 2048];

/// A db with one collection and rows 0..10 (generation g), then rows 10..20 (generation g + 1).
/// Returns the file bytes after each of the two commits.
fn two_commits(t: &TempDb) -> (Vec<u8>, Vec<u8>) {
    let db = t.open();
    db.create_collection("c", simple_schema(4), vec![]).unwrap();
    db.insert(
        "c",
        (0..10)
            .map(|i| simple_row(i, [i as f32; 4], "old"))
            .collect(),
    )
    .unwrap();
    let before = std::fs::read(t.path()).unwrap();
    db.insert(
        "c",
        (10..20)
            .map(|i| simple_row(i, [i as f32; 4], "new"))
            .collect(),
    )
    .unwrap();
    (before, std::fs::read(t.path()).unwrap())
}

fn assert_reads_first_commit(bytes: &[u8], what: &str) {
    let t = TempDb::new("torn-copy");
    std::fs::write(t.path(), bytes).unwrap();
    let db = t.open();
    assert_eq!(db.count("c", "").unwrap(), 10, "{what}");
    let rows = db.query("c", "", &all(), None, 0).unwrap();
    assert_eq!(
        rows[9][1].1,
        covec::Value::FloatVector(vec![9.0; 4]),
        "{what}"
    );
    // The next writer drops the torn tail and commits on top of the surviving generation.
    db.insert("c", vec![simple_row(99, [1.0; 4], "after")])
        .unwrap();
    assert_eq!(db.count("c", "").unwrap(), 11, "{what}");
    assert!(Db::verify(t.path()).is_ok(), "{what}");
}

#[test]
fn killed_before_the_meta_slot_write_reads_the_previous_generation() {
    let t = TempDb::new("torn");
    let (before, after) = two_commits(&t);
    // The data of the second commit reached the file up to `cut`; its meta slot never did.
    let mut seed = 0x9e37_79b9_u64;
    let mut cuts = vec![before.len(), before.len() + 1, after.len() - 1, after.len()];
    for _ in 0..8 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        cuts.push(before.len() + (seed >> 33) as usize % (after.len() - before.len()));
    }
    for cut in cuts {
        let mut bytes = before[..4096].to_vec();
        bytes.extend_from_slice(&after[4096..cut]);
        assert_reads_first_commit(&bytes, &format!("cut at {cut}"));
    }
}

#[test]
fn torn_or_corrupt_newer_meta_slot_falls_back() {
    let t = TempDb::new("slot");
    let (before, after) = two_commits(&t);
    let newer = SLOTS
        .into_iter()
        .find(|&at| before[at..at + 64] != after[at..at + 64])
        .unwrap();
    // Half of the slot written.
    let mut torn = after.clone();
    torn[newer + 32..newer + 64].copy_from_slice(&before[newer + 32..newer + 64]);
    assert_reads_first_commit(&torn, "torn slot");
    let mut flipped = after.clone();
    flipped[newer + 5] ^= 0x40;
    assert_reads_first_commit(&flipped, "flipped slot");
}

/// What a loader copies of `image` (every section its catalog names and the catalog, read through the
/// handle), placed at the file's offsets in a zeroed buffer as a segment holds them; and how many
/// bytes that was.
fn loader_copy(image: &CommittedImage) -> (Vec<u8>, u64) {
    let m = *image.meta();
    let mut buf = vec![0u8; m.committed_len as usize];
    let catalog = image.catalog().unwrap().clone();
    let catalog_range = Section {
        offset: m.catalog_offset,
        len: m.catalog_len,
        xxh3: m.catalog_xxh3,
    };
    let mut copied = 0;
    for s in catalog.sections().chain(std::iter::once(&catalog_range)) {
        let (at, len) = (s.offset as usize, s.len as usize);
        image.read_at(s.offset, &mut buf[at..at + len]).unwrap();
        copied += s.len;
    }
    (buf, copied)
}

#[test]
fn a_copy_reads_back_its_own_generation_after_later_commits_and_a_compaction() {
    let t = TempDb::new("copy");
    let db = t.open();
    db.create_collection("c", simple_schema(256), vec![])
        .unwrap();
    db.insert("c", vec![simple_row(1, [1.0; 256], "a")])
        .unwrap();
    let image = CommittedImage::open(t.path()).unwrap();
    assert_eq!(image.db_id().len(), 16);
    // Enough dead bytes (each insert rewrites the newest parts) to make a builder compact the file
    // after a commit, which writes one more generation than the commit did.
    let mut compactions = 0;
    let mut generation = image.generation();
    for i in 2..300 {
        db.insert("c", vec![simple_row(i, [1.0; 256], "b")])
            .unwrap();
        drop(covec::internals::builder::BuildLock::wait(t.path()).unwrap());
        let now = CommittedImage::open(t.path()).unwrap().generation();
        compactions += usize::from(now == generation + 2);
        generation = now;
    }
    assert!(compactions > 0, "the file was never compacted");
    let (buf, _) = loader_copy(&image);
    let snap = Snapshot::open_root(&buf, *image.meta(), t.path()).unwrap();
    assert_eq!(snap.meta().generation, image.generation());
    assert_eq!(snap.collection("default", "c").unwrap().row_count(), 1);
    snap.verify(t.path()).unwrap();
    assert_eq!(
        CommittedImage::open(t.path()).unwrap().db_id(),
        image.db_id()
    );
    let past_end = image.meta().committed_len;
    assert!(image.read_at(past_end - 1, &mut [0u8; 2]).is_err());
}

#[test]
fn a_copy_leaves_out_the_sections_a_merge_left_behind() {
    let t = TempDb::new("dead");
    let db = t.open();
    db.create_collection("c", simple_schema(64), vec![])
        .unwrap();
    // Every second commit merges the newest parts into one (they double in size like a binary counter's
    // digits): the merged sections stay in the file (too small to reach the compaction threshold) but no
    // catalog references them any more.
    for i in 0..9 {
        db.insert(
            "c",
            (i * 100..(i + 1) * 100)
                .map(|k| simple_row(k, [k as f32; 64], "row"))
                .collect(),
        )
        .unwrap();
    }
    let image = CommittedImage::open(t.path()).unwrap();
    let file = std::fs::read(t.path()).unwrap();
    let (buf, copied) = loader_copy(&image);
    assert_eq!(copied + 4096, image.meta().live_bytes);
    assert!(
        copied * 3 < file.len() as u64 * 2,
        "the merged parts are dead weight in the file"
    );
    let (from_file, copy) = (
        Snapshot::open(&file).unwrap(),
        Snapshot::open_root(&buf, *image.meta(), t.path()).unwrap(),
    );
    copy.verify(t.path()).unwrap();
    assert_eq!(copy.collection("default", "c").unwrap().row_count(), 900);
    assert_eq!(from_file.catalog(), copy.catalog());
}

#[test]
fn newer_versions_foreign_files_and_directories_are_refused() {
    let t = TempDb::new("version");
    let (_, good) = two_commits(&t);
    let open = |bytes: &[u8]| {
        let u = TempDb::new("refuse");
        std::fs::write(u.path(), bytes).unwrap();
        Db::open(u.path(), &options()).err()
    };
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&2u32.to_le_bytes());
    assert!(matches!(
        open(&newer),
        Some(Error::NewerVersion {
            found: 2,
            supported: 1,
            ..
        })
    ));
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert!(matches!(open(&garbage), Some(Error::NotCovec { .. })));
    assert!(matches!(open(&good[..100]), Some(Error::NotCovec { .. })));
    let mut bad_catalog = good.clone();
    let last = bad_catalog.len() - 2;
    bad_catalog[last] ^= 1;
    assert!(matches!(open(&bad_catalog), Some(Error::Corrupt { .. })));

    let dir = TempDb::new("milvus-lite-dir");
    std::fs::create_dir(dir.path()).unwrap();
    let err = Db::open(dir.path(), &options()).err().unwrap();
    std::fs::remove_dir(dir.path()).unwrap();
    assert!(matches!(err, Error::NotCovec { .. }));
    assert!(err.to_string().contains("covec import"), "{err}");
}

#[test]
fn verify_finds_a_damaged_section_that_open_does_not_read() {
    let t = TempDb::new("verify");
    let (_, good) = two_commits(&t);
    let snap = Snapshot::open(&good).unwrap();
    let vectors = snap.catalog().collection("default", "c").unwrap().parts[0].columns[1].data;
    let mut damaged = good.clone();
    damaged[vectors.offset as usize + 3] ^= 0xff;
    let u = TempDb::new("damaged");
    std::fs::write(u.path(), &damaged).unwrap();
    assert!(Db::open(u.path(), &options()).is_ok());
    assert!(matches!(Db::verify(u.path()), Err(Error::Corrupt { .. })));
    assert!(Db::verify(t.path()).is_ok());
    let db = t.open();
    assert_eq!(db.get("c", &[Pk::Int(19)], &all()).unwrap().len(), 1);
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(200))]

    /// Any byte damage yields an error or readable rows, never a panic or an absurd allocation.
    #[test]
    fn damaged_images_never_panic(flips in proptest::collection::vec((0usize..1 << 16, 1u8..=255), 1..4)) {
        let image = sample_image();
        let mut bytes = image.clone();
        for (at, x) in flips {
            let at = at % bytes.len();
            bytes[at] ^= x;
        }
        if let Ok(snap) = Snapshot::open(&bytes) {
            if let Ok(view) = snap.collection("default", "c") {
                let _ = view.query(None, &all(), None, 0);
                let _ = view.get(&[Pk::Int(3)], &all());
            }
            let _ = snap.verify(std::path::Path::new("x"));
        }
    }
}

fn sample_image() -> Vec<u8> {
    static IMAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let t = TempDb::new("fuzz");
            two_commits(&t).1
        })
        .clone()
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
}
