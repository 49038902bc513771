//! Fuzzes the gofer protocol's decoders (`Request::decode` and
//! `Reply::decode`) with arbitrary datagrams.
//!
//! Properties: neither decoder panics (libFuzzer reports any panic as a
//! crash); whatever decodes re-encodes to exactly the input bytes (the
//! encoding is canonical, so nothing is accepted that the encoder would
//! not write); a decoded walk's name is a valid single component.

#![no_main]

use libfuzzer_sys::fuzz_target;

// The sandbox crate is a binary: compile its self-contained protocol
// module (std, libc and thiserror only) straight into this target.
#[allow(dead_code)]
#[path = "../../src/gofer/protocol.rs"]
mod protocol;

use protocol::{MAX_MESSAGE, Reply, Request, check_name};

fuzz_target!(|data: &[u8]| {
    match Request::decode(data) {
        Ok(env) => {
            if let Request::Walk { name, .. } = &env.body {
                assert!(check_name(name).is_ok(), "accepted name {name:?}");
            }
            let again = env.body.encode(env.tag).expect("a decoded request encodes");
            assert_eq!(again, data, "{env:?} is not canonical");
        }
        Err((_tag, e)) => {
            // Every refusal maps to an errno for the error reply.
            assert!(e.errno() > 0);
        }
    }
    if let Ok(env) = Reply::decode(data) {
        assert_eq!(env.body.encode(env.tag), data, "{env:?} is not canonical");
        assert!(data.len() <= MAX_MESSAGE);
    }
});
