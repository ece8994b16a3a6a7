//! The segment header (segment version 2): the first 4 KiB page of a segment file. Pure encode/decode,
//! no I/O. Little-endian throughout.
//!
//! ```text
//! offset size field
//!      0    8 magic b"COVECSEG"
//!      8    4 version (2)
//!     12    4 header length (4096)
//!     16   16 db id, 16 ASCII hex chars
//!     32    8 segment id (the random number in the file's name)
//!     40    4 creator pid
//!     44    4 reserved, zero
//!     48    8 xxh3-64 of bytes [0, 48)
//! ```
//! The rest of the page is zero. The segment holds generations at the db file's own offsets, and a db
//! file's first 4 KiB are its own header, never a section, so this page is free for ours. Changing any
//! offset or constant here breaks every segment a running process has mapped: bump VERSION.

pub const MAGIC: [u8; 8] = *b"COVECSEG";
pub const VERSION: u32 = 2;
/// Where the db file's sections may start; a page, so 64-byte alignments hold in the mapping.
pub const HEADER_LEN: usize = 4096;
const HASHED: usize = 48;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub db_id: [u8; 16],
    pub segment: u64,
    pub creator_pid: u32,
}

/// Why a header was refused; the caller adds the path.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    NotSegment(String),
    Newer(u32),
    Corrupt(String),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Header {
    /// The header page: every field, the checksum, zeros elsewhere.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut dst = [0u8; HEADER_LEN];
        dst[0..8].copy_from_slice(&MAGIC);
        dst[8..12].copy_from_slice(&VERSION.to_le_bytes());
        dst[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        dst[16..32].copy_from_slice(&self.db_id);
        dst[32..40].copy_from_slice(&self.segment.to_le_bytes());
        dst[40..44].copy_from_slice(&self.creator_pid.to_le_bytes());
        let sum = xxhash_rust::xxh3::xxh3_64(&dst[..HASHED]);
        dst[HASHED..HASHED + 8].copy_from_slice(&sum.to_le_bytes());
        dst
    }

    /// Decodes a header. `bytes` may be shorter than a page; that is an error, not a panic.
    pub fn decode(bytes: &[u8]) -> Result<Header, HeaderError> {
        if bytes.len() < HEADER_LEN {
            return Err(HeaderError::NotSegment(format!(
                "{} bytes, shorter than the {HEADER_LEN}-byte segment header",
                bytes.len()
            )));
        }
        if bytes[0..8] != MAGIC {
            return Err(HeaderError::NotSegment("no COVECSEG magic".into()));
        }
        let version = u32_at(bytes, 8);
        if version > VERSION {
            return Err(HeaderError::Newer(version));
        }
        if version != VERSION {
            return Err(HeaderError::Corrupt(format!(
                "segment version {version} is an earlier covec's, never used under this name"
            )));
        }
        if u32_at(bytes, 12) as usize != HEADER_LEN {
            return Err(HeaderError::Corrupt(
                "segment header length is not 4096".into(),
            ));
        }
        if u64_at(bytes, HASHED) != xxhash_rust::xxh3::xxh3_64(&bytes[..HASHED]) {
            return Err(HeaderError::Corrupt(
                "segment header checksum mismatch".into(),
            ));
        }
        let mut db_id = [0u8; 16];
        db_id.copy_from_slice(&bytes[16..32]);
        Ok(Header {
            db_id,
            segment: u64_at(bytes, 32),
            creator_pid: u32_at(bytes, 40),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            db_id: *b"0123456789abcdef",
            segment: 0x0123_4567_89ab_cdef,
            creator_pid: 42,
        }
    }

    #[test]
    fn header_round_trips() {
        let h = sample();
        assert_eq!(Header::decode(&h.encode()), Ok(h));
    }

    #[test]
    fn flipped_header_byte_is_refused() {
        let mut page = sample().encode();
        page[33] ^= 1;
        assert!(matches!(
            Header::decode(&page),
            Err(HeaderError::Corrupt(_))
        ));
    }

    #[test]
    fn short_or_foreign_bytes_are_not_segments() {
        assert!(matches!(
            Header::decode(&[0u8; 10]),
            Err(HeaderError::NotSegment(_))
        ));
        assert!(matches!(
            Header::decode(&[0u8; HEADER_LEN]),
            Err(HeaderError::NotSegment(_))
        ));
    }

    #[test]
    fn newer_and_earlier_versions_are_refused() {
        let mut page = sample().encode();
        page[8..12].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(Header::decode(&page), Err(HeaderError::Newer(3)));
        page[8..12].copy_from_slice(&1u32.to_le_bytes());
        assert!(matches!(
            Header::decode(&page),
            Err(HeaderError::Corrupt(m)) if m.contains("earlier covec")
        ));
    }
}
