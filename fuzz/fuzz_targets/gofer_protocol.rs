//! Fuzzes the gofer protocol's decoders (`Request::decode` and
//! `Reply::decode`) with arbitrary datagrams.
//!
//! Properties: neither decoder panics (libFuzzer reports any panic as a
//! crash); whatever decodes re-encodes to exactly the input bytes (the
//! encoding is canonical, so nothing is accepted that the encoder would
//! not write); every name in a decoded request is one valid component, a
//! symlink target a valid path, a mode within its bits (permission bits
//! only, but for `Mknod`'s type), an attribute change within its bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;

// The sandbox crate is a binary: compile its self-contained protocol
// module (std, libc and thiserror only) straight into this target.
#[allow(dead_code)]
#[path = "../../src/gofer/protocol.rs"]
mod protocol;

use protocol::{MAX_MESSAGE, MAX_PATH, Reply, Request, SetTime, check_name};

/// Checks what the decoder promises about a request it accepted.
fn check_fields(req: &Request) {
    let names: Vec<&[u8]> = match req {
        Request::OpenPath { path, .. } | Request::StatPath { path } => {
            let b = path.as_os_str().as_encoded_bytes();
            assert!(!b.is_empty() && b.len() < MAX_PATH && !b.contains(&0));
            vec![]
        }
        Request::Walk { name, .. }
        | Request::Link { name, .. }
        | Request::Unlink { name, .. } => vec![name],
        Request::Create { name, mode, .. } | Request::Mkdir { name, mode, .. } => {
            assert_eq!(mode & !0o7777, 0, "mode {mode:#o}");
            vec![name]
        }
        Request::Mknod { name, mode, .. } => {
            assert_eq!(mode & !0o177777, 0, "mode {mode:#o}");
            vec![name]
        }
        Request::Symlink { name, target, .. } => {
            assert!(!target.is_empty() && target.len() < MAX_PATH && !target.contains(&0));
            vec![name]
        }
        Request::Rename {
            old_name, new_name, ..
        } => vec![old_name, new_name],
        Request::Setattr { set, .. } => {
            assert!(set.mode.is_none_or(|m| m & !0o7777 == 0));
            assert!(set.size.is_none_or(|s| s <= i64::MAX as u64));
            for t in [set.atime, set.mtime] {
                if let Some(SetTime::At(_, nsec)) = t {
                    assert!((0..1_000_000_000).contains(&nsec));
                }
            }
            vec![]
        }
        Request::Stat { .. }
        | Request::Readlink { .. }
        | Request::Open { .. }
        | Request::Release { .. }
        | Request::Root { .. }
        | Request::Statfs { .. } => vec![],
    };
    for name in names {
        assert!(check_name(name).is_ok(), "accepted name {name:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    match Request::decode(data) {
        Ok(env) => {
            check_fields(&env.body);
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
