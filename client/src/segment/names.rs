//! The covec file names in the shm dir, built and parsed in one place.
//!
//! Protocol 2 (this covec): `covec.<db_id>.refs`, the reference file, and `covec.<db_id>.seg.<id>`, a
//! segment, where `<id>` is 16 lowercase hex digits of a random number: nobody can tell the next one
//! in advance, and readers learn it from the reference file. Protocol 1 (earlier covecs; swept, never
//! used): `covec.<db_id>.ref`, `covec.<db_id>.<generation>`, `covec.<db_id>.<generation>.tmp-<pid>`.
//! The two sets never overlap, and protocol 1's parser matches none of protocol 2's names, so an
//! earlier covec running beside this one neither uses nor removes this one's files.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(super) fn ref_path(dir: &Path, db_id: &str) -> PathBuf {
    dir.join(format!("covec.{db_id}.refs"))
}

pub(super) fn segment_name(db_id: &str, segment: u64) -> String {
    format!("covec.{db_id}.seg.{segment:016x}")
}

pub(super) fn legacy_ref_path(dir: &Path, db_id: &str) -> PathBuf {
    dir.join(format!("covec.{db_id}.ref"))
}

pub(super) fn check_db_id(db_id: &str) -> Result<()> {
    db_id_bytes(db_id).map(drop)
}

pub(super) fn db_id_bytes(db_id: &str) -> Result<[u8; 16]> {
    match <[u8; 16]>::try_from(db_id.as_bytes()) {
        Ok(b) if b.iter().all(|&c| is_hex(c)) => Ok(b),
        _ => Err(Error::invalid(format!(
            "db id {db_id:?} is not 16 lowercase hex characters"
        ))),
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

pub(super) enum Name {
    Ref,
    Segment(u64),
    LegacyRef,
    LegacySegment(u64),
    LegacyTemp,
}

pub(super) struct Entry {
    pub(super) file: String,
    pub(super) db_id: String,
    pub(super) kind: Name,
}

/// The covec files in `dir`, of either protocol.
pub(super) fn list(dir: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        if let Some((db_id, kind)) = parse_name(&file) {
            out.push(Entry {
                db_id: db_id.to_string(),
                file,
                kind,
            });
        }
    }
    Ok(out)
}

pub(super) fn parse_name(file: &str) -> Option<(&str, Name)> {
    let rest = file.strip_prefix("covec.")?;
    let (db_id, tail) = rest.split_once('.')?;
    check_db_id(db_id).ok()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let kind = match tail {
        "refs" => Name::Ref,
        "ref" => Name::LegacyRef,
        _ => match tail.strip_prefix("seg.") {
            Some(id) if id.len() == 16 && id.bytes().all(is_hex) => {
                Name::Segment(u64::from_str_radix(id, 16).ok()?)
            }
            Some(_) => return None,
            None => match tail.split_once(".tmp-") {
                Some((g, pid)) if digits(g) && digits(pid) => Name::LegacyTemp,
                Some(_) => return None,
                None if digits(tail) => Name::LegacySegment(tail.parse().ok()?),
                None => return None,
            },
        },
    };
    Some((db_id, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        let id = "0123456789abcdef";
        assert!(matches!(
            parse_name(&segment_name(id, 0x12)),
            Some((i, Name::Segment(0x12))) if i == id
        ));
        let refs = ref_path(Path::new("/x"), id);
        assert!(matches!(
            parse_name(refs.file_name().unwrap().to_str().unwrap()),
            Some((_, Name::Ref))
        ));
        assert!(matches!(
            parse_name("covec.0123456789abcdef.ref"),
            Some((_, Name::LegacyRef))
        ));
        assert!(matches!(
            parse_name("covec.0123456789abcdef.12"),
            Some((_, Name::LegacySegment(12)))
        ));
        assert!(matches!(
            parse_name("covec.0123456789abcdef.3.tmp-99"),
            Some((_, Name::LegacyTemp))
        ));
        for other in [
            "covec.0123456789ABCDEF.1",
            "covec.0123.1",
            "covec.0123456789abcdef.x",
            "covec.0123456789abcdef.1.tmp-",
            "covec.0123456789abcdef.seg.12",
            "covec.0123456789abcdef.seg.0123456789ABCDEF",
            "other.0123456789abcdef.1",
        ] {
            assert!(parse_name(other).is_none(), "{other}");
        }
    }

    /// What protocol 1 accepted as a segment (`covec.<id>.<digits>`) never matches a protocol-2 name,
    /// whatever digits the random id has, so an earlier covec never unlinks one as its own.
    #[test]
    fn protocol_2_names_are_not_protocol_1_names() {
        let tail = segment_name("0123456789abcdef", 1234567890123456)
            .split_once("0123456789abcdef.")
            .unwrap()
            .1
            .to_string();
        assert!(!tail.bytes().all(|c| c.is_ascii_digit()));
        assert_ne!(tail, "ref");
        assert!(!tail.contains(".tmp-"));
    }
}
