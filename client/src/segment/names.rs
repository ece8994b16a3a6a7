//! The covec file names in the shm dir, built and parsed in one place: `covec.<db_id>.ref`,
//! `covec.<db_id>.<generation>` and `covec.<db_id>.<generation>.tmp-<pid>`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(super) fn ref_path(dir: &Path, db_id: &str) -> PathBuf {
    dir.join(format!("covec.{db_id}.ref"))
}

pub(super) fn segment_name(db_id: &str, generation: u64) -> String {
    format!("covec.{db_id}.{generation}")
}

pub(super) fn temp_name(db_id: &str, generation: u64, pid: u32) -> String {
    format!("covec.{db_id}.{generation}.tmp-{pid}")
}

pub(super) fn check_db_id(db_id: &str) -> Result<()> {
    db_id_bytes(db_id).map(drop)
}

pub(super) fn db_id_bytes(db_id: &str) -> Result<[u8; 16]> {
    let ok = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    match <[u8; 16]>::try_from(db_id.as_bytes()) {
        Ok(b) if b.iter().all(|&c| ok(c)) => Ok(b),
        _ => Err(Error::invalid(format!(
            "db id {db_id:?} is not 16 lowercase hex characters"
        ))),
    }
}

pub(super) enum Name {
    Ref,
    Segment(u64),
    Temp,
}

pub(super) struct Entry {
    pub(super) file: String,
    pub(super) db_id: String,
    pub(super) kind: Name,
}

/// The covec files in `dir`: `covec.<id>.ref`, `covec.<id>.<gen>`, `covec.<id>.<gen>.tmp-<pid>`.
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
    if tail == "ref" {
        return Some((db_id, Name::Ref));
    }
    if let Some((generation, pid)) = tail.split_once(".tmp-") {
        return (digits(generation) && digits(pid)).then_some((db_id, Name::Temp));
    }
    if digits(tail) {
        return Some((db_id, Name::Segment(tail.parse().ok()?)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        let id = "0123456789abcdef";
        assert!(matches!(
            parse_name(&segment_name(id, 12)),
            Some((i, Name::Segment(12))) if i == id
        ));
        assert!(matches!(
            parse_name("covec.0123456789abcdef.ref"),
            Some((_, Name::Ref))
        ));
        assert!(matches!(
            parse_name(&temp_name(id, 3, 99)),
            Some((_, Name::Temp))
        ));
        for other in [
            "covec.0123456789ABCDEF.1",
            "covec.0123.1",
            "covec.0123456789abcdef.x",
            "covec.0123456789abcdef.1.tmp-",
            "other.0123456789abcdef.1",
        ] {
            assert!(parse_name(other).is_none(), "{other}");
        }
    }
}
