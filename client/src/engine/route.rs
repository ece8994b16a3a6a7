//! Partition-key routing: the bucket a row's key value sends it to, by the Milvus server's hash, so a
//! collection routes its rows as the server would (docs/compatibility.md, "Partitions"). The server
//! (typeutil.HashKey2Partitions, Milvus 2.3 to 2.5) hashes an INT64 key with 32-bit MurmurHash3
//! (seed 0) of its 8 little-endian bytes, keeping the low 31 bits, and a VARCHAR key with CRC-32 (IEEE)
//! of its first 100 bytes; the bucket is the hash modulo the number of partitions, and bucket i is the
//! partition named "_default_{i}".

use crate::value::Value;

/// Bytes of a VARCHAR key the server hashes.
const HASHED_PREFIX: usize = 100;

/// The bucket of `key` among `buckets` (at least 1); None for a value that is not a key (null, or not
/// INT64 or VARCHAR).
pub(super) fn bucket(key: &Value, buckets: u32) -> Option<u32> {
    let hash = match key {
        Value::Int(i) => murmur3_32(&i.to_le_bytes()) & 0x7fff_ffff,
        Value::Str(s) => crc32fast::hash(&s.as_bytes()[..s.len().min(HASHED_PREFIX)]),
        _ => return None,
    };
    Some(hash % buckets.max(1))
}

/// 32-bit MurmurHash3 (x86 variant) of `data` with seed 0.
fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let scramble = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut h: u32 = 0;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        h ^= scramble(k);
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .rev()
            .fold(0u32, |k, &byte| (k << 8) | u32::from(byte));
        h ^= scramble(k);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published MurmurHash3_x86_32 values (seed 0), covering every tail length.
    #[test]
    fn murmur3_matches_the_reference_values() {
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"a"), 0x3c25_69b2);
        assert_eq!(murmur3_32(b"ab"), 0x9bbf_d75f);
        assert_eq!(murmur3_32(b"abc"), 0xb3dd_93fa);
        assert_eq!(murmur3_32(b"abcd"), 0x43ed_676a);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    #[test]
    fn keys_route_by_the_servers_hashes() {
        // CRC-32 of "123456789" is the standard check value, 0xcbf43926.
        assert_eq!(
            bucket(&Value::Str("123456789".into()), 1000),
            Some(0xcbf4_3926 % 1000)
        );
        // Only the first 100 bytes of a VARCHAR key count.
        let long = "x".repeat(100);
        assert_eq!(
            bucket(&Value::Str(long.clone()), 16),
            bucket(&Value::Str(long + "tail"), 16)
        );
        let one = murmur3_32(&1i64.to_le_bytes()) & 0x7fff_ffff;
        assert_eq!(bucket(&Value::Int(1), 16), Some(one % 16));
        assert!((0..1000).all(|i| bucket(&Value::Int(i), 16).is_some_and(|b| b < 16)));
        assert_eq!(bucket(&Value::Null, 16), None);
    }
}
