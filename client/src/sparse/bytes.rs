//! Little-endian arrays in a section, read in place and written by offset: the one place the sparse
//! sections turn bytes into numbers. Readers reinterpret aligned bytes as native values (every bit
//! pattern is a valid `u32`, `u64` or `f32`), so big-endian hosts are refused; nothing here trusts a
//! length it did not check against the section.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The sections have no file of their own; errors name the section so the caller can add the db path.
pub(crate) fn corrupt(section: &str, reason: impl Into<String>) -> Error {
    Error::corrupt(PathBuf::from(format!("<{section}>")), reason)
}

/// A value that may be read in place from section bytes.
pub(crate) trait Plain: Copy {
    const SIZE: usize;
    fn put(self, out: &mut [u8]);
}

impl Plain for u32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Plain for u64 {
    const SIZE: usize = 8;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Plain for f32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

/// The start of every section must be 8-byte aligned in memory (the db format places sections
/// 64-byte aligned), so that arrays at 8-aligned offsets can be borrowed as `u64`s in place.
fn check_host(bytes: &[u8], section: &str) -> Result<()> {
    if cfg!(target_endian = "big") {
        return Err(Error::invalid(format!(
            "the {section} is read in place as little-endian numbers; big-endian hosts are not supported"
        )));
    }
    if !(bytes.as_ptr() as usize).is_multiple_of(8) {
        return Err(Error::Internal(format!(
            "{section} is not 8-byte aligned in memory; the db format places sections 64-byte aligned"
        )));
    }
    Ok(())
}

/// What every sparse section's header holds, checked: at least `header` bytes starting with
/// `magic`, a version from 1 to `supported` (above: `NewerVersion`), zeros in the flag and reserved
/// words at `zeros`, and (with `rows`) the caller's row count at byte 16. Also `check_host`.
pub(crate) fn check_header(
    bytes: &[u8],
    section: &str,
    (magic, header, supported): (&[u8; 8], u64, u32),
    zeros: &[usize],
    rows: Option<usize>,
) -> Result<()> {
    check_host(bytes, section)?;
    if bytes.len() < header as usize || bytes[..8] != *magic {
        return Err(corrupt(
            section,
            "the section does not start with its magic",
        ));
    }
    let version = u32_at(bytes, 8);
    if version > supported {
        return Err(Error::NewerVersion {
            path: PathBuf::from(format!("<{section}>")),
            found: version,
            supported,
        });
    }
    if version == 0 || zeros.iter().any(|&at| u32_at(bytes, at) != 0) {
        return Err(corrupt(
            section,
            "unknown version 0, flags or reserved bits",
        ));
    }
    match rows {
        Some(n) if u32_at(bytes, 16) as usize != n => Err(corrupt(
            section,
            format!(
                "the section covers {} rows but the part has {n}",
                u32_at(bytes, 16)
            ),
        )),
        _ => Ok(()),
    }
}

/// `count` values of `T` at byte `offset`, borrowed in place. The caller has checked that
/// `offset + count * T::SIZE` lies in `bytes` (the section's length equals its layout's); a range
/// outside, or an offset not aligned for `T`, is reported as corruption rather than trusted.
pub(crate) fn array<'a, T: Plain>(
    bytes: &'a [u8],
    offset: u64,
    count: u64,
    section: &str,
) -> Result<&'a [T]> {
    let end = count
        .checked_mul(T::SIZE as u64)
        .and_then(|len| len.checked_add(offset))
        .filter(|&end| end <= bytes.len() as u64)
        .ok_or_else(|| corrupt(section, "an array runs past the end of the section"))?;
    let raw = &bytes[offset as usize..end as usize];
    // SAFETY: `T` is u32, u64 or f32 (the only `Plain` types), for which every bit pattern is valid;
    // `align_to` yields only correctly aligned values, and a misaligned head is refused below.
    let (head, values, tail) = unsafe { raw.align_to::<T>() };
    if !head.is_empty() || !tail.is_empty() {
        return Err(corrupt(section, "an array is not aligned for its type"));
    }
    Ok(values)
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

pub(crate) fn f32_at(bytes: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Writes `values` as consecutive little-endian `T`s from byte `offset` of `out`.
pub(crate) fn put_all<T: Plain>(out: &mut [u8], offset: u64, values: impl IntoIterator<Item = T>) {
    let mut at = offset as usize;
    for v in values {
        v.put(&mut out[at..at + T::SIZE]);
        at += T::SIZE;
    }
}

/// Writes one `T` at index `i` of the array that starts at byte `offset`.
pub(crate) fn put_at<T: Plain>(out: &mut [u8], offset: u64, i: usize, value: T) {
    let at = offset as usize + i * T::SIZE;
    value.put(&mut out[at..at + T::SIZE]);
}

/// `x` rounded up to a multiple of 8.
pub(crate) fn align8(x: u64) -> u64 {
    x.div_ceil(8) * 8
}
