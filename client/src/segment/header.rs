//! The 4 KiB segment header: pure encode/decode, no I/O. Little-endian throughout.
//!
//! ```text
//! offset size field
//!      0    8 magic b"COVECSEG"
//!      8    4 version (1)
//!     12    4 header length (4096)
//!     16   16 db id, 16 ASCII hex chars
//!     32    8 generation
//!     40    8 commit id
//!     48    8 image length in bytes (the image starts at offset 4096)
//!     56    8 xxh3-64 of the image
//!     64    4 creator pid
//!     68    4 reserved, zero
//!     72    8 xxh3-64 of bytes [0, 72)
//!     80    8 ready mark b"READY\0\0\0", written after everything else
//! ```
//! Changing any offset or constant here breaks every segment a running process has mapped: bump VERSION.

pub const MAGIC: [u8; 8] = *b"COVECSEG";
pub const VERSION: u32 = 1;
/// Image offset inside a segment; a page, so 64-byte alignment inside the image holds in the mapping.
pub const HEADER_LEN: usize = 4096;
pub const READY: [u8; 8] = *b"READY\0\0\0";
/// Offset of the ready mark; it is stored last so a reader never trusts a header that is still being written.
pub const READY_AT: usize = 80;
const HASHED: usize = 72;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub db_id: [u8; 16],
    pub generation: u64,
    pub commit_id: u64,
    pub image_len: u64,
    pub image_hash: u64,
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
    /// Writes every field but the ready mark into `dst[..HEADER_LEN]`, zeroing the rest of the page.
    pub fn encode_unready(&self, dst: &mut [u8; HEADER_LEN]) {
        dst.fill(0);
        dst[0..8].copy_from_slice(&MAGIC);
        dst[8..12].copy_from_slice(&VERSION.to_le_bytes());
        dst[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        dst[16..32].copy_from_slice(&self.db_id);
        dst[32..40].copy_from_slice(&self.generation.to_le_bytes());
        dst[40..48].copy_from_slice(&self.commit_id.to_le_bytes());
        dst[48..56].copy_from_slice(&self.image_len.to_le_bytes());
        dst[56..64].copy_from_slice(&self.image_hash.to_le_bytes());
        dst[64..68].copy_from_slice(&self.creator_pid.to_le_bytes());
        let sum = xxhash_rust::xxh3::xxh3_64(&dst[..HASHED]);
        dst[HASHED..HASHED + 8].copy_from_slice(&sum.to_le_bytes());
    }

    /// Decodes a complete (ready) header. `bytes` may be shorter than a page; that is an error, not a panic.
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
        if version != VERSION || u32_at(bytes, 12) as usize != HEADER_LEN {
            return Err(HeaderError::Corrupt(format!(
                "unknown segment version {version}"
            )));
        }
        if u64_at(bytes, HASHED) != xxhash_rust::xxh3::xxh3_64(&bytes[..HASHED]) {
            return Err(HeaderError::Corrupt(
                "segment header checksum mismatch".into(),
            ));
        }
        if bytes[READY_AT..READY_AT + 8] != READY {
            return Err(HeaderError::Corrupt(
                "segment header has no ready mark (its loader never finished)".into(),
            ));
        }
        let mut db_id = [0u8; 16];
        db_id.copy_from_slice(&bytes[16..32]);
        Ok(Header {
            db_id,
            generation: u64_at(bytes, 32),
            commit_id: u64_at(bytes, 40),
            image_len: u64_at(bytes, 48),
            image_hash: u64_at(bytes, 56),
            creator_pid: u32_at(bytes, 64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            db_id: *b"0123456789abcdef",
            generation: 7,
            commit_id: 99,
            image_len: 12345,
            image_hash: 0xdead_beef,
            creator_pid: 42,
        }
    }

    fn ready_page(h: &Header) -> [u8; HEADER_LEN] {
        let mut page = [0u8; HEADER_LEN];
        h.encode_unready(&mut page);
        page[READY_AT..READY_AT + 8].copy_from_slice(&READY);
        page
    }

    #[test]
    fn header_round_trips_once_ready() {
        let h = sample();
        assert_eq!(Header::decode(&ready_page(&h)), Ok(h));
    }

    #[test]
    fn header_without_ready_mark_is_refused() {
        let mut page = [0u8; HEADER_LEN];
        sample().encode_unready(&mut page);
        assert!(matches!(
            Header::decode(&page),
            Err(HeaderError::Corrupt(_))
        ));
    }

    #[test]
    fn flipped_header_byte_is_refused() {
        let mut page = ready_page(&sample());
        page[40] ^= 1;
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
    fn newer_version_is_reported() {
        let mut page = ready_page(&sample());
        page[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(Header::decode(&page), Err(HeaderError::Newer(2)));
    }
}
