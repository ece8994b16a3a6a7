//! The segment header decoder on arbitrary bytes: refuse or decode, never panic; a decoded header
//! re-encodes to the same bytes.
#![no_main]

use covec::internals::segment::header::Header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::decode(data) {
        assert_eq!(Header::decode(&h.encode()), Ok(h));
    }
});
