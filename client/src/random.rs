//! Random 64-bit numbers: commit ids, db uuids and segment names (which must not be guessable by
//! another user of the shm dir, docs/protocol.md "Trust").

use std::fs::File;
use std::time::{SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::xxh3_64;

/// From /dev/urandom, which never blocks after boot. Without it (a chroot with no /dev), a hash of the
/// time and pid: distinct between calls, which is all a commit id needs; a segment name made from it
/// is guessable, but its creation still refuses any file already there (`O_EXCL`).
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok()
    {
        return u64::from_le_bytes(b);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    xxh3_64(
        &[
            nanos.to_le_bytes(),
            u64::from(std::process::id()).to_le_bytes(),
        ]
        .concat(),
    )
}
