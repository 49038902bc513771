//! The writer half of the parameter page's seqlock (and a host-side reader
//! with the guest's protocol, for tests and for a sentry that wants to
//! read the page back).
//!
//! Protocol, for a page whose counter reads `s` (even):
//! 1. writer: store `s + 1` (odd: "writing"), then a release fence, so that
//!    no data store becomes visible before the odd count;
//! 2. writer: store the data, field by field (volatile);
//! 3. writer: store `s + 2` with release ordering, so that every data
//!    store is visible before the even count;
//! 4. reader (the guest): load the count (acquire); if odd, retry; load the
//!    fields it needs; acquire fence; load the count again; if it changed,
//!    retry.
//!
//! On x86-64 every one of these orderings is the hardware's own (TSO), so
//! the atomics and fences only stop the compilers from reordering; the
//! writer costs a few plain stores.
//!
//! There must be one writer at a time: the sentry's timekeeper owns the
//! page. The guest maps it read-only, so it cannot disturb the count.

use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use crate::params::{VdsoData, VdsoParams};

/// Publishes `data` in the parameter page at `page`, so that a guest
/// reading concurrently sees either the old data or the new, never a mix.
///
/// # Safety
///
/// `page` must be valid for reads and writes of a `VdsoParams` and 8-byte
/// aligned for the whole call (the sentry's host mapping of the page's
/// frame is), and no other host thread may write it, or read it other than
/// with [`read_published`], during the call.
pub unsafe fn publish(page: *mut VdsoParams, data: &VdsoData) {
    // SAFETY: the caller guarantees `page` is valid and aligned, and that
    // nothing else on the host accesses the counter non-atomically.
    let seq = unsafe { AtomicU32::from_ptr(&raw mut (*page).seq) };
    // `| 1` also recovers a count left odd by a writer that died midway.
    let writing = seq.load(Ordering::Relaxed) | 1;
    seq.store(writing, Ordering::Relaxed);
    fence(Ordering::Release);
    // SAFETY: as above; the guest only reads the data, and detects this
    // write through the counter.
    unsafe { ptr::write_volatile(&raw mut (*page).data, *data) };
    seq.store(writing.wrapping_add(1), Ordering::Release);
}

/// Reads a consistent copy of the data in the page at `page`, with the
/// guest's protocol. `None` if a writer kept it busy for `tries` attempts.
///
/// # Safety
///
/// `page` must be valid for reads of a `VdsoParams` and 8-byte aligned for
/// the whole call, and written on the host only by [`publish`].
pub unsafe fn read_published(page: *const VdsoParams, tries: u32) -> Option<VdsoData> {
    // SAFETY: the caller guarantees `page` is valid and aligned; the counter
    // is only loaded.
    let seq = unsafe { AtomicU32::from_ptr((&raw const (*page).seq).cast_mut()) };
    for _ in 0..tries {
        let start = seq.load(Ordering::Acquire);
        if start & 1 == 0 {
            // SAFETY: as above; a torn copy is detected below and dropped.
            let data = unsafe { ptr::read_volatile(&raw const (*page).data) };
            fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == start {
                return Some(data);
            }
        }
        std::hint::spin_loop();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::thread;

    use super::*;
    use crate::params::Timespec;

    #[test]
    fn publication_bumps_the_count_by_two() {
        let mut page = Box::new(VdsoParams::default());
        let data = VdsoData {
            tsc_base: 42,
            monotonic: Timespec::new(7, 8),
            ..VdsoData::default()
        };
        // SAFETY: `page` is a live, aligned, exclusively owned VdsoParams.
        unsafe { publish(&mut *page, &data) };
        assert_eq!(page.seq, 2);
        assert_eq!(page.data, data);
        // SAFETY: as above.
        unsafe { publish(&mut *page, &data) };
        assert_eq!(page.seq, 4);
        // A count left odd by a dead writer comes back to even.
        page.seq = 9;
        // SAFETY: as above.
        unsafe { publish(&mut *page, &data) };
        assert_eq!(page.seq, 10);
        // SAFETY: as above.
        assert_eq!(unsafe { read_published(&*page, 1) }, Some(data));
        page.seq = 11;
        // SAFETY: as above.
        assert_eq!(unsafe { read_published(&*page, 3) }, None);
    }

    /// The address of a page shared between a writer and a reader thread.
    struct SharedPage(*mut VdsoParams);
    // SAFETY: the threads touch the page only through `publish` and
    // `read_published`, which is the protocol the page is designed for.
    unsafe impl Send for SharedPage {}
    // SAFETY: as above.
    unsafe impl Sync for SharedPage {}

    /// Data whose every field derives from `k`, so that a mix of two
    /// publications is visible.
    fn stamped(k: u64) -> VdsoData {
        VdsoData {
            clock_mask: k as u32,
            tsc_base: k,
            mult: k as u32 ^ 0x5555_5555,
            realtime: Timespec::new(k as i64, k % 1_000_000_000),
            monotonic: Timespec::new(!k as i64, 0),
            tai: Timespec::new(0, k % 7),
            cpu: (k >> 3) as u32,
            ..VdsoData::default()
        }
    }

    #[test]
    fn concurrent_reader_never_sees_a_mix() {
        let page = Arc::new(SharedPage(Box::into_raw(Box::default())));
        // SAFETY: no other thread has the page yet.
        unsafe { publish(page.0, &stamped(0)) };
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (page, stop) = (Arc::clone(&page), Arc::clone(&stop));
            thread::spawn(move || {
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    k += 1;
                    // SAFETY: this is the page's only writer.
                    unsafe { publish(page.0, &stamped(k)) };
                }
            })
        };
        let mut seen = 0;
        for _ in 0..200_000 {
            // SAFETY: the page lives until both threads are done with it.
            if let Some(data) = unsafe { read_published(page.0, 1_000_000) } {
                assert_eq!(data, stamped(data.tsc_base));
                seen += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(seen > 0);
        // SAFETY: both threads are done; the box came from `Box::into_raw`.
        drop(unsafe { Box::from_raw(page.0) });
    }
}
