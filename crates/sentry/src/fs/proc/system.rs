//! The system-wide files at the root of procfs (meminfo, cpuinfo, stat,
//! uptime, loadavg, version, filesystems) and /proc/sys.
//!
//! Memory is the memory file's (its size is the spec's limit; what no
//! frame holds is free); CPUs are the kernel's count, each its own core
//! of one package, as sysfs shows them; CPUID is what the guest's vCPUs
//! are given. CPU time is the sum of every thread's, live and exited
//! (reaped children's through their parents').

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::caller;
use crate::errno::Errno;
use crate::fs::synth::{Fs, GenFile, Inos, StaticDir};
use crate::kernel::current::Current;
use crate::kernel::{PID_MAX, UTS_RELEASE, UTS_VERSION, cputime};
use crate::vfs::inode::Inode;

/// USER_HZ.
const HZ: u64 = 100;

type Entries = Vec<(Vec<u8>, Arc<dyn Inode>)>;

/// The root's fixed files and sys/.
pub(super) fn files(inos: &Inos) -> Entries {
    let dynamic = |inos: &Inos, f: fn(&Current<'_>) -> Result<Vec<u8>, Errno>| {
        GenFile::new(Fs::Proc, inos.next(), 0o444, move || caller(f)).build()
    };
    let fixed = |inos: &Inos, text: String| {
        GenFile::new(Fs::Proc, inos.next(), 0o444, move || {
            Ok(text.clone().into_bytes())
        })
        .build()
    };
    let mut out: Entries = vec![
        (b"meminfo".to_vec(), dynamic(inos, meminfo)),
        (b"cpuinfo".to_vec(), dynamic(inos, cpuinfo)),
        (b"stat".to_vec(), dynamic(inos, stat)),
        (b"uptime".to_vec(), dynamic(inos, uptime)),
        (b"loadavg".to_vec(), dynamic(inos, loadavg)),
        (
            b"version".to_vec(),
            fixed(
                inos,
                format!("Linux version {UTS_RELEASE} (sentry@sandbox) (rustc) {UTS_VERSION}\n"),
            ),
        ),
        (
            b"filesystems".to_vec(),
            fixed(
                inos,
                ["9p", "tmpfs", "overlay", "proc", "sysfs", "mqueue"]
                    .iter()
                    .map(|f| format!("nodev\t{f}\n"))
                    .collect(),
            ),
        ),
    ];
    let kernel: Entries = vec![
        (b"hostname".to_vec(), dynamic(inos, hostname)),
        (b"domainname".to_vec(), fixed(inos, "(none)\n".into())),
        (b"ostype".to_vec(), fixed(inos, "Linux\n".into())),
        (
            b"osrelease".to_vec(),
            fixed(inos, format!("{UTS_RELEASE}\n")),
        ),
        (b"version".to_vec(), fixed(inos, format!("{UTS_VERSION}\n"))),
        (b"pid_max".to_vec(), fixed(inos, format!("{PID_MAX}\n"))),
        // NGROUPS_MAX and CAP_LAST_CAP of the Linux the sentry is.
        (b"ngroups_max".to_vec(), fixed(inos, "65536\n".into())),
        (b"cap_last_cap".to_vec(), fixed(inos, "40\n".into())),
        (
            b"random".to_vec(),
            StaticDir::build(
                Fs::Proc,
                inos.next(),
                vec![
                    (
                        b"boot_id".to_vec(),
                        GenFile::new(Fs::Proc, inos.next(), 0o444, || {
                            static ID: OnceLock<Result<Vec<u8>, Errno>> = OnceLock::new();
                            ID.get_or_init(uuid).clone()
                        })
                        .build(),
                    ),
                    (
                        b"uuid".to_vec(),
                        GenFile::new(Fs::Proc, inos.next(), 0o444, uuid).build(),
                    ),
                ],
            ),
        ),
    ];
    // The sentry never refuses memory it has not got at mmap time: pages
    // come when touched (Linux's "always overcommit").
    let vm: Entries = vec![(b"overcommit_memory".to_vec(), fixed(inos, "1\n".into()))];
    let fs: Entries = vec![(
        b"pipe-max-size".to_vec(),
        fixed(inos, format!("{}\n", crate::fs::pipe::MAX_CAPACITY)),
    )];
    let sys = StaticDir::build(
        Fs::Proc,
        inos.next(),
        vec![
            (b"fs".to_vec(), StaticDir::build(Fs::Proc, inos.next(), fs)),
            (
                b"kernel".to_vec(),
                StaticDir::build(Fs::Proc, inos.next(), kernel),
            ),
            (b"vm".to_vec(), StaticDir::build(Fs::Proc, inos.next(), vm)),
        ],
    );
    out.push((b"sys".to_vec(), sys));
    out
}

/// A random (version 4) UUID, as /proc/sys/kernel/random/uuid makes one.
fn uuid() -> Result<Vec<u8>, Errno> {
    let mut b = [0u8; 16];
    crate::host::fill_random(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}\n",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
    .into_bytes())
}

fn hostname(c: &Current<'_>) -> Result<Vec<u8>, Errno> {
    Ok(format!("{}\n", c.kernel.config.hostname).into_bytes())
}

/// /proc/meminfo: the memory file's size and what no frame holds. The
/// sentry keeps no reclaimable cache and has no swap.
fn meminfo(c: &Current<'_>) -> Result<Vec<u8>, Errno> {
    let mem = c.kernel.machine.memory();
    let total = mem.size() / 1024;
    let used = mem.allocated_frames().saturating_mul(crate::mm::PAGE_SIZE) / 1024;
    let free = total.saturating_sub(used);
    let mut s = String::new();
    for (name, kb) in [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", free),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
    ] {
        let _ = writeln!(s, "{:<16}{kb:>8} kB", format!("{name}:"));
    }
    Ok(s.into_bytes())
}

/// One CPUID register's feature flags: (leaf, sub-leaf, register: 0 eax
/// .. 3 edx, and each flag's bit and name).
type FlagWord = (u32, u32, usize, &'static [(u32, &'static str)]);

/// The CPU feature flags /proc/cpuinfo names, in Linux's order of
/// capability words.
const FLAGS: &[FlagWord] = &[
    (
        1,
        0,
        3,
        &[
            (0, "fpu"),
            (1, "vme"),
            (2, "de"),
            (3, "pse"),
            (4, "tsc"),
            (5, "msr"),
            (6, "pae"),
            (7, "mce"),
            (8, "cx8"),
            (9, "apic"),
            (11, "sep"),
            (12, "mtrr"),
            (13, "pge"),
            (14, "mca"),
            (15, "cmov"),
            (16, "pat"),
            (17, "pse36"),
            (18, "pn"),
            (19, "clflush"),
            (21, "dts"),
            (22, "acpi"),
            (23, "mmx"),
            (24, "fxsr"),
            (25, "sse"),
            (26, "sse2"),
            (27, "ss"),
            (28, "ht"),
            (29, "tm"),
            (30, "ia64"),
            (31, "pbe"),
        ],
    ),
    (
        0x8000_0001,
        0,
        3,
        &[
            (11, "syscall"),
            (19, "mp"),
            (20, "nx"),
            (22, "mmxext"),
            (25, "fxsr_opt"),
            (26, "pdpe1gb"),
            (27, "rdtscp"),
            (29, "lm"),
            (30, "3dnowext"),
            (31, "3dnow"),
        ],
    ),
    (
        1,
        0,
        2,
        &[
            (0, "pni"),
            (1, "pclmulqdq"),
            (2, "dtes64"),
            (3, "monitor"),
            (4, "ds_cpl"),
            (5, "vmx"),
            (6, "smx"),
            (7, "est"),
            (8, "tm2"),
            (9, "ssse3"),
            (10, "cid"),
            (11, "sdbg"),
            (12, "fma"),
            (13, "cx16"),
            (14, "xtpr"),
            (15, "pdcm"),
            (17, "pcid"),
            (18, "dca"),
            (19, "sse4_1"),
            (20, "sse4_2"),
            (21, "x2apic"),
            (22, "movbe"),
            (23, "popcnt"),
            (24, "tsc_deadline_timer"),
            (25, "aes"),
            (26, "xsave"),
            (28, "avx"),
            (29, "f16c"),
            (30, "rdrand"),
            (31, "hypervisor"),
        ],
    ),
    (
        0x8000_0001,
        0,
        2,
        &[
            (0, "lahf_lm"),
            (1, "cmp_legacy"),
            (2, "svm"),
            (3, "extapic"),
            (4, "cr8_legacy"),
            (5, "abm"),
            (6, "sse4a"),
            (7, "misalignsse"),
            (8, "3dnowprefetch"),
            (9, "osvw"),
            (10, "ibs"),
            (11, "xop"),
            (12, "skinit"),
            (13, "wdt"),
            (15, "lwp"),
            (16, "fma4"),
            (17, "tce"),
            (19, "nodeid_msr"),
            (21, "tbm"),
            (22, "topoext"),
            (23, "perfctr_core"),
            (24, "perfctr_nb"),
            (26, "bpext"),
            (27, "ptsc"),
            (28, "perfctr_llc"),
            (29, "mwaitx"),
        ],
    ),
    (
        7,
        0,
        1,
        &[
            (0, "fsgsbase"),
            (1, "tsc_adjust"),
            (2, "sgx"),
            (3, "bmi1"),
            (4, "hle"),
            (5, "avx2"),
            (7, "smep"),
            (8, "bmi2"),
            (9, "erms"),
            (10, "invpcid"),
            (11, "rtm"),
            (12, "cqm"),
            (14, "mpx"),
            (15, "rdt_a"),
            (16, "avx512f"),
            (17, "avx512dq"),
            (18, "rdseed"),
            (19, "adx"),
            (20, "smap"),
            (21, "avx512ifma"),
            (23, "clflushopt"),
            (24, "clwb"),
            (25, "intel_pt"),
            (26, "avx512pf"),
            (27, "avx512er"),
            (28, "avx512cd"),
            (29, "sha_ni"),
            (30, "avx512bw"),
            (31, "avx512vl"),
        ],
    ),
    (
        0xd,
        1,
        0,
        &[
            (0, "xsaveopt"),
            (1, "xsavec"),
            (2, "xgetbv1"),
            (3, "xsaves"),
        ],
    ),
    (7, 1, 0, &[(4, "avx_vnni"), (5, "avx512_bf16")]),
    (6, 0, 0, &[(2, "arat")]),
    (
        7,
        0,
        2,
        &[
            (1, "avx512vbmi"),
            (2, "umip"),
            (3, "pku"),
            (4, "ospke"),
            (5, "waitpkg"),
            (6, "avx512_vbmi2"),
            (8, "gfni"),
            (9, "vaes"),
            (10, "vpclmulqdq"),
            (11, "avx512_vnni"),
            (12, "avx512_bitalg"),
            (13, "tme"),
            (14, "avx512_vpopcntdq"),
            (16, "la57"),
            (22, "rdpid"),
            (24, "bus_lock_detect"),
            (25, "cldemote"),
            (27, "movdiri"),
            (28, "movdir64b"),
            (29, "enqcmd"),
            (30, "sgx_lc"),
        ],
    ),
    (
        7,
        0,
        3,
        &[
            (2, "avx512_4vnniw"),
            (3, "avx512_4fmaps"),
            (4, "fsrm"),
            (8, "avx512_vp2intersect"),
            (10, "md_clear"),
            (14, "serialize"),
            (16, "tsxldtrk"),
            (18, "pconfig"),
            (19, "arch_lbr"),
            (20, "ibt"),
            (22, "amx_bf16"),
            (23, "avx512_fp16"),
            (24, "amx_tile"),
            (25, "amx_int8"),
            (28, "flush_l1d"),
            (29, "arch_capabilities"),
        ],
    ),
];

/// /proc/cpuinfo (arch/x86/kernel/cpu/proc.c's show_cpuinfo), from the
/// guest's CPUID, one block per CPU. The figures the sentry cannot read
/// (clock rate, cache size, microcode, bogomips, bugs) are left out.
fn cpuinfo(c: &Current<'_>) -> Result<Vec<u8>, Errno> {
    let m = &c.kernel.machine;
    let leaf = |f: u32, i: u32| m.cpuid(f, i).unwrap_or([0; 4]);
    let [max_leaf, b, cx, d] = leaf(0, 0);
    let vendor: Vec<u8> = [b, d, cx].iter().flat_map(|r| r.to_le_bytes()).collect();
    let vendor = String::from_utf8_lossy(&vendor)
        .trim_end_matches('\0')
        .to_string();
    let [sig, misc, _, _] = leaf(1, 0);
    let base_family = (sig >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((sig >> 20) & 0xff)
    } else {
        base_family
    };
    let model = if base_family == 0x6 || base_family == 0xf {
        ((sig >> 4) & 0xf) | (((sig >> 16) & 0xf) << 4)
    } else {
        (sig >> 4) & 0xf
    };
    let stepping = sig & 0xf;
    let max_ext = leaf(0x8000_0000, 0)[0];
    let name = if max_ext >= 0x8000_0004 {
        let raw: Vec<u8> = (0x8000_0002..=0x8000_0004)
            .flat_map(|l| leaf(l, 0))
            .flat_map(u32::to_le_bytes)
            .collect();
        String::from_utf8_lossy(&raw)
            .trim_end_matches('\0')
            .trim()
            .to_string()
    } else {
        "unknown".into()
    };
    let mut flags = String::new();
    for (f, i, reg, bits) in FLAGS {
        if *f >= 0x8000_0000 && *f > max_ext || *f < 0x8000_0000 && *f > max_leaf {
            continue;
        }
        let r = leaf(*f, *i)[*reg];
        for (bit, n) in *bits {
            if r & (1 << bit) != 0 {
                flags.push(' ');
                flags.push_str(n);
            }
        }
    }
    let clflush = ((misc >> 8) & 0xff) * 8;
    let sizes = if max_ext >= 0x8000_0008 {
        let a = leaf(0x8000_0008, 0)[0];
        Some((a & 0xff, (a >> 8) & 0xff))
    } else {
        None
    };
    let cpus = c.kernel.config.cpus.max(1);
    let mut s = String::new();
    for cpu in 0..cpus {
        let _ = write!(
            s,
            "processor\t: {cpu}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n\
             model name\t: {name}\nstepping\t: {stepping}\nphysical id\t: 0\nsiblings\t: {cpus}\n\
             core id\t\t: {cpu}\ncpu cores\t: {cpus}\napicid\t\t: {cpu}\ninitial apicid\t: {cpu}\n\
             fpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: {max_leaf}\nwp\t\t: yes\n\
             flags\t\t:{flags}\nclflush size\t: {clflush}\ncache_alignment\t: {clflush}\n"
        );
        if let Some((phys, virt)) = sizes {
            let _ = writeln!(
                s,
                "address sizes\t: {phys} bits physical, {virt} bits virtual"
            );
        }
        s.push_str("power management:\n\n");
    }
    Ok(s.into_bytes())
}

/// User and system CPU time of everything that ran since boot, in ns.
fn busy(c: &Current<'_>) -> cputime::CpuTimes {
    c.k.procs
        .keys()
        .filter_map(|pid| {
            let p = c.k.procs.get(pid)?;
            Some(cputime::process(c.k, *pid)? + p.children_cpu)
        })
        .fold(cputime::CpuTimes::default(), |a, b| a + b)
}

fn uptime_of(c: &Current<'_>) -> Duration {
    c.kernel.config.boot_time.elapsed()
}

/// CPU time no thread used since boot, in ns, over all CPUs.
fn idle_ns(c: &Current<'_>, busy: cputime::CpuTimes) -> u64 {
    let cpus = c.kernel.config.cpus.max(1) as u64;
    (uptime_of(c).as_nanos() as u64)
        .saturating_mul(cpus)
        .saturating_sub(busy.total_ns)
}

/// Threads running guest code or the sentry's handlers now (the caller
/// among them).
fn running(c: &Current<'_>) -> usize {
    c.k.threads
        .values()
        .filter(|t| t.tid == c.tid || t.guest_entry.is_some())
        .count()
}

/// /proc/stat (fs/proc/stat.c). The per-CPU lines share the total out
/// evenly: the sentry does not know which host CPU ran a thread.
fn stat(c: &Current<'_>) -> Result<Vec<u8>, Errno> {
    let ticks = |ns: u64| ns / (1_000_000_000 / HZ);
    let cpus = c.kernel.config.cpus.max(1) as u64;
    let b = busy(c);
    let (user, system, idle) = (ticks(b.user_ns), ticks(b.sys_ns()), ticks(idle_ns(c, b)));
    let line = |name: &str, u: u64, s: u64, i: u64| format!("{name} {u} 0 {s} {i} 0 0 0 0 0 0\n");
    let mut out = line("cpu ", user, system, idle);
    for n in 0..cpus {
        out.push_str(&line(
            &format!("cpu{n}"),
            user / cpus,
            system / cpus,
            idle / cpus,
        ));
    }
    let up = uptime_of(c);
    let now = crate::vfs::now().0;
    let btime = now - up.as_secs() as i64;
    let _ = write!(
        out,
        "intr 0\nctxt 0\nbtime {btime}\nprocesses {}\nprocs_running {}\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
        c.k.total_forks,
        running(c),
    );
    Ok(out.into_bytes())
}

/// /proc/uptime: seconds since boot and idle seconds over all CPUs.
fn uptime(c: &Current<'_>) -> Result<Vec<u8>, Errno> {
    let up = uptime_of(c);
    let idle = idle_ns(c, busy(c));
    let cs = |ns: u128| format!("{}.{:02}", ns / 1_000_000_000, (ns / 10_000_000) % 100);
    Ok(format!("{} {}\n", cs(up.as_nanos()), cs(u128::from(idle))).into_bytes())
}

/// /proc/loadavg: no load average is kept (0.00, as sysinfo says), the
/// running and all threads, and the last PID handed out in the reader's
/// PID namespace (Linux's cursor of task_active_pid_ns).
fn loadavg(c: &Current<'_>) -> Result<Vec<u8>, Errno> {
    let last = match c.process() {
        Some(p) => c.k.last_pid_in(&p.pidns),
        None => c.k.last_pid(),
    };
    Ok(format!(
        "0.00 0.00 0.00 {}/{} {}\n",
        running(c),
        c.k.nr_threads(),
        last
    )
    .into_bytes())
}
