//! The segment header decoder on arbitrary bytes: refuse or decode, never panic; a decoded header
//! re-encodes to the same bytes.
#![no_main]

use covec::internals::segment::header::{Header, HEADER_LEN, READY, READY_AT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::decode(data) {
        let mut page = [0u8; HEADER_LEN];
        h.encode_unready(&mut page);
        page[READY_AT..READY_AT + 8].copy_from_slice(&READY);
        assert_eq!(Header::decode(&page), Ok(h));
    }
});
