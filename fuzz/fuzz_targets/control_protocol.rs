//! Fuzzes the control protocol's decoders (`Request::decode_for`,
//! `Response::decode`, `decode_header`) with arbitrary frames.
//!
//! Properties: nothing panics (libFuzzer reports a panic as a crash);
//! every request that decodes passes the checks the server relies on
//! (argv not empty, no NUL bytes, an absolute cwd, signals 1..=64,
//! positive PIDs, known rlimits with soft <= hard), and re-encodes to a
//! frame that decodes to the same request.

#![no_main]

use libfuzzer_sys::fuzz_target;

// The sandbox crate is a binary: compile its self-contained protocol
// module (std, serde, serde_json and thiserror only) straight into this
// target.
#[allow(dead_code)]
#[path = "../../src/control/protocol.rs"]
mod protocol;

use protocol::{Request, Response, Target};

fuzz_target!(|data: &[u8]| {
    let _ = protocol::decode_header(data);
    let _ = Response::decode(data);
    // Also as a request frame around arbitrary JSON-ish bodies, so that
    // the body decoder is reached without guessing the header.
    for frame in [
        data.to_vec(),
        protocol::encode_frame(protocol::KIND_REQUEST, data),
    ] {
        let Ok((container, req)) = Request::decode_for(&frame) else {
            continue;
        };
        if let Some(c) = &container {
            assert!(!c.is_empty() && c.len() <= 1024 && c != "." && c != "..");
            assert!(c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b)));
        }
        match &req {
            Request::CreateContainer(c) => {
                assert!(!c.process.args.is_empty() && c.process.cwd.starts_with('/'));
                for m in &c.mounts {
                    assert!(m.destination.starts_with('/'));
                }
            }
            Request::Exec(e) => {
                assert!(!e.args.is_empty() && !e.args[0].is_empty());
                assert!(e.cwd.starts_with('/'));
                for s in e.args.iter().chain(&e.env).chain(std::iter::once(&e.cwd)) {
                    assert!(!s.contains('\0'));
                }
                assert!(e.env.iter().all(|kv| kv.contains('=')));
                assert!(e.groups.len() <= 64);
                for r in &e.rlimits {
                    assert!(r.resource <= 15 && r.soft <= r.hard);
                }
            }
            Request::Signal { target, signo } => {
                assert!((1..=64).contains(signo));
                if let Target::Pid(p) = target {
                    assert!(*p > 0);
                }
            }
            Request::WaitPid { pid } => assert!(*pid > 0),
            _ => {}
        }
        let again = Request::decode_for(&req.encode_for(container.as_deref()));
        assert_eq!(again.as_ref(), Ok(&(container.clone(), req.clone())));
    }
});
