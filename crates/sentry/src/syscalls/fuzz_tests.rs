//! Hostile arguments: every implemented handler is called with many
//! random argument sets mixing valid, unmapped, misaligned, kernel-half and
//! boundary values. The handlers must return a result (value or errno),
//! never panic, and leave the memory manager consistent.

use std::sync::Arc;

use vmm::Prot;

use super::{Args, table};
use crate::kernel::fd_table::{FdEntry, FdTable, FileDescription, FileKind};
use crate::kernel::{Kernel, KernelConfig, Task, Thread};
use crate::mm::mmap::Placement;
use crate::mm::{MemoryManager, TASK_SIZE};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

struct NoExec;

impl crate::kernel::ExecOpener for NoExec {
    fn open(&self, _: &str) -> Result<std::fs::File, crate::errno::Errno> {
        Err(crate::errno::Errno::ENOENT)
    }
}

/// Runs `f` on pid 1 of a fresh `test_kernel`, with the address of a
/// scratch buffer in its memory.
pub(super) fn with_task(f: impl FnOnce(&mut Task<'_>, u64)) {
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    let machine = platform.create_machine(64 << 20).expect("machine");
    let (kernel, buf) = test_kernel(&machine);
    let mut task = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).expect("pid 1");
    f(&mut task, buf);
}

/// Syscall arguments from a short list (the rest 0).
pub(crate) fn args(a: &[u64]) -> Args {
    Args(std::array::from_fn(|i| a.get(i).copied().unwrap_or(0)))
}

/// A negative argument as the register holds it.
pub(super) const NEG: fn(i64) -> u64 = |v| v as u64;

/// A kernel with one process (pid 1) whose only thread has no host
/// thread: handlers run on the test's own thread. The thread is marked
/// killed, so that every call that would sleep returns at once.
pub(crate) fn test_kernel(machine: &Arc<vmm::Machine>) -> (Arc<Kernel>, u64) {
    let mut mm = MemoryManager::new(machine.new_address_space().unwrap(), 8 << 20);
    mm.init_brk(0x60_0000);
    let buf = mm
        .mmap_anon(Placement::Hint(0), 0x10000, Prot::RW, false, false)
        .unwrap();
    let mut fds = FdTable::default();
    for fd in 0..3 {
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        let file = Arc::new(FileDescription::new(FileKind::Stdio(null.into()), 0));
        fds.install_at(
            fd,
            FdEntry {
                file,
                cloexec: false,
            },
            1024,
        )
        .unwrap();
    }
    let kernel = Kernel::new(
        Arc::clone(machine),
        KernelConfig {
            hostname: "h".into(),
            strace: false,
            exitless: false,
            cpus: 2,
            boot_time: std::time::Instant::now(),
        },
        Arc::new(NoExec),
    );
    {
        let mut k = kernel.state.lock();
        let mm_id = k.add_mm(mm);
        let pid = k.alloc_pid().unwrap();
        let mut th = Thread::new(pid, pid, b"x".to_vec());
        th.killed = true;
        k.threads.insert(pid, th);
        k.procs
            .insert(pid, crate::kernel::test_process(pid, mm_id, fds));
    }
    (kernel, buf)
}

fn pick(rng: &mut Rng, buf: u64) -> u64 {
    match rng.next() % 14 {
        0 => 0,
        1 => rng.next() % 8,
        2 => u64::MAX,
        3 => u64::MAX - rng.next() % 4096,
        4 => buf,
        5 => buf + rng.next() % 0x10000,
        6 => buf + 0x10000 - 8,
        7 => TASK_SIZE - 0x1000 + rng.next() % 0x2000,
        8 => 0xffff_8000_0000_0000 + rng.next() % 0x1000,
        9 => rng.next() % 0x1_0000_0000,
        10 => (rng.next() as i32) as i64 as u64,
        11 => 0x1000 << (rng.next() % 40),
        12 => 1 << (rng.next() % 64),
        _ => rng.next(),
    }
}

#[test]
fn handlers_survive_hostile_arguments() {
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    let machine = platform.create_machine(128 << 20).expect("machine");
    let (kernel, buf) = test_kernel(&machine);
    let mut task = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).expect("pid 1");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (nr, info) in table::TABLE.iter().enumerate() {
        let Some(handler) = info.handler else {
            continue;
        };
        // Sleeps with random (possibly huge) durations would block.
        if matches!(
            info.name,
            "nanosleep" | "clock_nanosleep" | "poll" | "ppoll"
                // These start host threads running guest code.
                | "clone" | "fork" | "vfork"
        ) {
            continue;
        }
        for _ in 0..1000 {
            let args = Args(std::array::from_fn(|_| pick(&mut rng, buf)));
            // Random content behind valid pointers too.
            let junk: Vec<u8> = (0..64).map(|_| rng.next() as u8).collect();
            let _ = task.mm().copy_out(buf + (rng.next() % 0xffc0), &junk);
            // strace decodes the same arguments before the call.
            let line = crate::strace::format_call(&task, nr as u64, Some(info), &args);
            assert!(line.starts_with(info.name), "{line}");
            let r = handler(&mut task, &args);
            let _ = crate::strace::format_result(r);
            if let Err(e) = r {
                assert!(e.0 > 0 && e.0 < 4096, "{nr} {}: bad errno {e:?}", info.name);
            }
            // exit and exit_group end the thread or process: undo.
            task.process_mut().group_exit = None;
            task.thread_mut().killed = true;
            // Descriptors a call created (pipes, dups) go, so that a later
            // read cannot block on an empty pipe.
            for fd in 3..1024 {
                let _ = task.fds_mut().remove(fd);
            }
            if task.mm().vmas().find(buf).is_none_or(|v| !v.prot.write) {
                // The handler legitimately unmapped or protected our
                // scratch buffer: make a new one.
                task.mm_mut().remove_range(buf, buf + 0x10000);
                task.mm_mut()
                    .mmap_anon(Placement::Fixed(buf), 0x10000, Prot::RW, false, false)
                    .unwrap();
            }
        }
    }
    // Unknown and unassigned numbers through the whole dispatch path.
    for nr in [335, 400, 463, 1000, u64::MAX, 1 << 40] {
        task.regs.rax = nr;
        super::dispatch(&mut task);
        assert_eq!(task.regs.rax as i64, -38, "{nr}");
    }
    // The VMA set is still well formed.
    let mut prev_end = 0;
    for v in task.mm().vmas().iter() {
        assert!(
            v.start >= prev_end && v.start < v.end && v.end <= TASK_SIZE,
            "{v:?}"
        );
        prev_end = v.end;
    }
}
