//! procfs, devfs and sysfs through the syscalls, on a real kernel (see
//! `syscalls::fuzz_tests::test_kernel`): a tmpfs root with the default
//! mounts, and pid 1 (uid 1000) calling open, read, readlink and
//! getdents64.

use std::sync::Arc;

use crate::errno::Errno;
use crate::fs::memfs::MemFs;
use crate::kernel::{FsContext, Task};
use crate::syscalls::dispatch_args;
use crate::syscalls::fuzz_tests::{args, test_kernel};
use crate::vfs::backend::Owner;
use crate::vfs::{MountOpts, Vfs};

/// Runs `f` on pid 1 of a test kernel with /dev, /proc and /sys mounted,
/// with the address of a 64 KiB scratch buffer in its memory.
fn with_proc(f: impl FnOnce(&mut Task<'_>, u64)) {
    let platform = vmm::Platform::probe().expect("open /dev/kvm");
    let machine = platform.create_machine(64 << 20).expect("machine");
    let (kernel, buf) = test_kernel(&machine);
    let mem = machine.memory();
    let root = MemFs::tmpfs(Arc::clone(mem), 0o755, Owner::default(), None);
    let opts = MountOpts {
        fstype: "tmpfs".into(),
        source: "tmpfs".into(),
        ..MountOpts::default()
    };
    let vfs = Vfs::new(root, opts).unwrap();
    let devpts = Arc::clone(&kernel.state.lock().devpts);
    crate::fs::mounts::defaults(
        &vfs,
        mem,
        2,
        &devpts,
        &crate::kernel::pidns::PidNs::root(),
        &[],
    )
    .unwrap();
    let root = Arc::clone(vfs.root());
    kernel.vfs.set(vfs).unwrap();
    let mut task = Task::lock(&kernel, 1, vmm::UserRegs::default(), None).expect("pid 1");
    task.process_mut().fs = Some(FsContext {
        root: Arc::clone(&root),
        cwd: root,
    });
    f(&mut task, buf);
}

fn sys(t: &mut Task<'_>, nr: i64, a: &[u64]) -> Result<u64, Errno> {
    let r = dispatch_args(t, nr as u64, &args(a)) as i64;
    if (-4095..0).contains(&r) {
        Err(Errno(-r as i32))
    } else {
        Ok(r as u64)
    }
}

/// `path` NUL-terminated at `buf`.
fn put(t: &Task<'_>, buf: u64, path: &str) -> u64 {
    let mut b = path.as_bytes().to_vec();
    b.push(0);
    t.mm().copy_out(buf, &b).unwrap();
    buf
}

fn open(t: &mut Task<'_>, buf: u64, path: &str, flags: i32) -> Result<i32, Errno> {
    let p = put(t, buf, path);
    sys(
        t,
        libc::SYS_openat,
        &[libc::AT_FDCWD as u64, p, flags as u64],
    )
    .map(|fd| fd as i32)
}

/// Reads all of an open file (at most 60 KiB) through read(2).
fn read_fd(t: &mut Task<'_>, buf: u64, fd: i32) -> Vec<u8> {
    let data = buf + 0x1000;
    let mut out = Vec::new();
    loop {
        let n = sys(t, libc::SYS_read, &[fd as u64, data, 0xf000]).unwrap() as usize;
        if n == 0 || out.len() > 0xf000 {
            break;
        }
        let mut chunk = vec![0u8; n];
        t.mm().copy_in(data, &mut chunk).unwrap();
        out.extend(chunk);
    }
    out
}

fn read(t: &mut Task<'_>, buf: u64, path: &str) -> Result<String, Errno> {
    let fd = open(t, buf, path, libc::O_RDONLY)?;
    let b = read_fd(t, buf, fd);
    sys(t, libc::SYS_close, &[fd as u64]).unwrap();
    Ok(String::from_utf8_lossy(&b).into_owned())
}

fn readlink(t: &mut Task<'_>, buf: u64, path: &str) -> Result<String, Errno> {
    let p = put(t, buf, path);
    let n = sys(t, libc::SYS_readlink, &[p, buf + 0x1000, 4096])? as usize;
    let mut b = vec![0u8; n];
    t.mm().copy_in(buf + 0x1000, &mut b).unwrap();
    Ok(String::from_utf8(b).unwrap())
}

/// The names in a directory, through getdents64.
fn list(t: &mut Task<'_>, buf: u64, path: &str) -> Result<Vec<String>, Errno> {
    let fd = open(t, buf, path, libc::O_RDONLY | libc::O_DIRECTORY)?;
    let data = buf + 0x1000;
    let mut names = Vec::new();
    loop {
        let n = sys(t, libc::SYS_getdents64, &[fd as u64, data, 0xf000]).unwrap() as usize;
        if n == 0 {
            break;
        }
        let mut b = vec![0u8; n];
        t.mm().copy_in(data, &mut b).unwrap();
        let mut off = 0;
        while off < n {
            let reclen = u16::from_ne_bytes([b[off + 16], b[off + 17]]) as usize;
            let name = &b[off + 19..off + reclen];
            let end = name.iter().position(|c| *c == 0).unwrap_or(name.len());
            names.push(String::from_utf8_lossy(&name[..end]).into_owned());
            off += reclen;
        }
    }
    sys(t, libc::SYS_close, &[fd as u64]).unwrap();
    Ok(names)
}

/// The value after `key` on its line of a status-like text.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

#[test]
fn self_stat_and_status_show_the_caller() {
    with_proc(|t, buf| {
        assert_eq!(readlink(t, buf, "/proc/self").unwrap(), "1");
        assert_eq!(readlink(t, buf, "/proc/thread-self").unwrap(), "1/task/1");
        let stat = read(t, buf, "/proc/self/stat").unwrap();
        let fields: Vec<&str> = stat.split_whitespace().collect();
        assert_eq!(fields.len(), 52, "{stat}");
        assert_eq!(
            &fields[..4],
            ["1", "(x)", "R", "0"],
            "pid, comm, state, ppid"
        );
        assert_eq!(fields[19], "1", "one thread");
        assert!(stat.ends_with('\n'));
        let status = read(t, buf, "/proc/1/status").unwrap();
        assert_eq!(field(&status, "Name:"), Some("x"));
        assert_eq!(field(&status, "Pid:"), Some("1"));
        assert_eq!(field(&status, "PPid:"), Some("0"));
        assert_eq!(field(&status, "Uid:"), Some("1000\t1000\t1000\t1000"));
        // Real, effective, saved and filesystem IDs, and the groups.
        let mut c = crate::kernel::Credentials::new(0, 0);
        c.set_groups(&[9, 8]).unwrap();
        c.set_resgid(5, 6, 7).unwrap();
        c.set_resuid(1, 2, 3).unwrap();
        c.set_fsuid(3);
        let saved = std::mem::replace(&mut t.process_mut().creds, c);
        let status = read(t, buf, "/proc/1/status").unwrap();
        t.process_mut().creds = saved;
        assert_eq!(field(&status, "Uid:"), Some("1\t2\t3\t3"));
        assert_eq!(field(&status, "Gid:"), Some("5\t6\t7\t6"));
        assert!(status.contains("\nGroups:\t8 9 \n"), "{status}");
        assert!(status.contains("\nCapEff:\t0000000000000000\n"), "{status}");
        assert_eq!(field(&status, "State:"), Some("R (running)"));
        // A process's thread is there too.
        assert_eq!(list(t, buf, "/proc/self/task").unwrap(), [".", "..", "1"]);
        let tstat = read(t, buf, "/proc/1/task/1/stat").unwrap();
        assert!(tstat.starts_with("1 (x) R "), "{tstat}");
    });
}

#[test]
fn processes_come_and_go() {
    with_proc(|t, buf| {
        let mut zombie = crate::kernel::test_process(5, 0, Default::default());
        zombie.ppid = 1;
        zombie.threads.clear();
        zombie.zombie = Some(0x0300);
        t.k.procs.insert(5, zombie);
        let names = list(t, buf, "/proc").unwrap();
        for want in ["self", "meminfo", "1", "5"] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        let stat = read(t, buf, "/proc/5/stat").unwrap();
        assert!(stat.starts_with("5 (x) Z 1 "), "{stat}");
        assert!(stat.ends_with(" 768\n"), "the wait status: {stat}");
        // Another user's process: its stat is public, its memory, links
        // and environment are not.
        let mut other = crate::kernel::test_process(6, 0, Default::default());
        other.creds = crate::kernel::Credentials::new(2000, 2000);
        other.threads.clear();
        t.k.procs.insert(6, other);
        assert!(read(t, buf, "/proc/6/stat").is_ok());
        assert_eq!(read(t, buf, "/proc/6/maps"), Err(Errno::EACCES));
        assert_eq!(readlink(t, buf, "/proc/6/root"), Err(Errno::EACCES));
        assert_eq!(read(t, buf, "/proc/6/environ"), Err(Errno::EACCES));
        t.k.procs.remove(&6);
        t.k.procs.remove(&5);
        // The directory is looked up anew: the process is gone.
        assert_eq!(read(t, buf, "/proc/5/stat"), Err(Errno::ENOENT));
        assert_eq!(read(t, buf, "/proc/77/stat"), Err(Errno::ENOENT));
        assert_eq!(read(t, buf, "/proc/01/stat"), Err(Errno::ENOENT));
        // Not writable, not creatable.
        assert_eq!(
            open(t, buf, "/proc/self/stat", libc::O_WRONLY),
            Err(Errno::EACCES)
        );
        let p = put(t, buf, "/proc/newdir");
        assert_eq!(sys(t, libc::SYS_mkdir, &[p, 0o755]), Err(Errno::EACCES));
        t.process_mut().creds.uid = 0;
        assert_eq!(sys(t, libc::SYS_mkdir, &[p, 0o755]), Err(Errno::ENOENT));
    });
}

#[test]
fn fd_links_name_and_reopen_files() {
    with_proc(|t, buf| {
        // A pipe: its link names it, and opening the link makes a new end
        // of the same pipe.
        sys(t, libc::SYS_pipe2, &[buf + 0x800, 0]).unwrap();
        let mut fds = [0u8; 8];
        t.mm().copy_in(buf + 0x800, &mut fds).unwrap();
        let (r, w) = (
            i32::from_ne_bytes(fds[..4].try_into().unwrap()),
            i32::from_ne_bytes(fds[4..].try_into().unwrap()),
        );
        let text = readlink(t, buf, &format!("/proc/self/fd/{r}")).unwrap();
        assert!(text.starts_with("pipe:[") && text.ends_with(']'), "{text}");
        let w2 = open(t, buf, &format!("/dev/fd/{r}"), libc::O_WRONLY).unwrap();
        t.mm().copy_out(buf + 0x1000, b"hey").unwrap();
        assert_eq!(
            sys(t, libc::SYS_write, &[w2 as u64, buf + 0x1000, 3]),
            Ok(3)
        );
        assert_eq!(sys(t, libc::SYS_read, &[r as u64, buf + 0x2000, 16]), Ok(3));
        let mut got = [0u8; 3];
        t.mm().copy_in(buf + 0x2000, &mut got).unwrap();
        assert_eq!(&got, b"hey");
        assert_eq!(
            open(t, buf, &format!("/proc/self/fd/{w}"), libc::O_RDWR),
            Err(Errno::ENXIO)
        );
        // A file in the tree: the link is its path and opens it anew.
        let null = open(t, buf, "/dev/null", libc::O_WRONLY).unwrap();
        assert_eq!(
            readlink(t, buf, &format!("/proc/1/fd/{null}")).unwrap(),
            "/dev/null"
        );
        let again = open(t, buf, &format!("/proc/self/fd/{null}"), libc::O_RDONLY).unwrap();
        assert_eq!(read_fd(t, buf, again), b"");
        // An eventfd cannot be opened anew: its inode is root's, mode 0600
        // (EACCES for others), and has no open (ENXIO), as on Linux.
        let e = sys(t, libc::SYS_eventfd2, &[0, 0]).unwrap();
        assert_eq!(
            readlink(t, buf, &format!("/proc/self/fd/{e}")).unwrap(),
            "anon_inode:[eventfd]"
        );
        assert_eq!(
            open(t, buf, &format!("/proc/self/fd/{e}"), libc::O_RDONLY),
            Err(Errno::EACCES)
        );
        t.process_mut().creds.uid = 0;
        assert_eq!(
            open(t, buf, &format!("/proc/self/fd/{e}"), libc::O_RDONLY),
            Err(Errno::ENXIO)
        );
        t.process_mut().creds.uid = 1000;
        // The listing has every descriptor, and fdinfo their positions.
        let names = list(t, buf, "/proc/self/fd").unwrap();
        for fd in [0, 1, 2, r, w, w2, null, again, e as i32] {
            assert!(names.contains(&fd.to_string()), "{fd} in {names:?}");
        }
        let info = read(t, buf, &format!("/proc/self/fdinfo/{null}")).unwrap();
        assert_eq!(field(&info, "pos:"), Some("0"));
        assert!(
            field(&info, "flags:").is_some_and(|f| f.ends_with('1')),
            "{info}"
        );
        assert_eq!(readlink(t, buf, "/proc/self/fd/999"), Err(Errno::ENOENT));
        // openat2's RESOLVE_NO_MAGICLINKS refuses them.
        let how = buf + 0x3000;
        let mut h = [0u8; 24];
        h[16..24].copy_from_slice(&0x02u64.to_ne_bytes());
        t.mm().copy_out(how, &h).unwrap();
        let p = put(t, buf, &format!("/proc/self/fd/{null}"));
        assert_eq!(
            sys(t, libc::SYS_openat2, &[libc::AT_FDCWD as u64, p, how, 24]),
            Err(Errno::ELOOP)
        );
        // RESOLVE_NO_XDEV: /dev is another mount.
        h[16..24].copy_from_slice(&0x01u64.to_ne_bytes());
        t.mm().copy_out(how, &h).unwrap();
        let p = put(t, buf, "/dev/null");
        assert_eq!(
            sys(t, libc::SYS_openat2, &[libc::AT_FDCWD as u64, p, how, 24]),
            Err(Errno::EXDEV)
        );
    });
}

#[test]
fn cwd_root_and_maps() {
    with_proc(|t, buf| {
        let p = put(t, buf, "/proc");
        sys(t, libc::SYS_chdir, &[p]).unwrap();
        assert_eq!(readlink(t, buf, "/proc/self/cwd").unwrap(), "/proc");
        assert_eq!(readlink(t, buf, "/proc/self/root").unwrap(), "/");
        // A walk through the magic link lands in the directory itself.
        let names = list(t, buf, "/proc/self/cwd/self/..").unwrap();
        assert!(names.iter().any(|n| n == "meminfo"), "{names:?}");
        // The test kernel's scratch buffer is an anonymous read-write
        // mapping.
        let maps = read(t, buf, "/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|l| l.starts_with(&format!("{buf:08x}-")))
            .unwrap_or_else(|| panic!("{buf:#x} in\n{maps}"));
        assert!(line.contains(" rw-p 00000000 00:00 0"), "{line}");
        let statm = read(t, buf, "/proc/self/statm").unwrap();
        let size: u64 = statm.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(size * 4096, t.mm().vmas().total());
    });
}

#[test]
fn limits_oom_score_adj_and_system_files() {
    with_proc(|t, buf| {
        let limits = read(t, buf, "/proc/self/limits").unwrap();
        assert!(
            limits.contains(
                "Max open files            1024                 4096                 files     \n"
            ),
            "{limits}"
        );
        let fd = open(t, buf, "/proc/self/oom_score_adj", libc::O_WRONLY).unwrap();
        t.mm().copy_out(buf + 0x1000, b"250\n").unwrap();
        assert_eq!(
            sys(t, libc::SYS_write, &[fd as u64, buf + 0x1000, 4]),
            Ok(4)
        );
        t.mm().copy_out(buf + 0x1000, b"-5\n").unwrap();
        assert_eq!(
            sys(t, libc::SYS_write, &[fd as u64, buf + 0x1000, 3]),
            Err(Errno::EACCES),
            "only a privileged process lowers it"
        );
        assert_eq!(read(t, buf, "/proc/1/oom_score_adj").unwrap(), "250\n");
        let mem = read(t, buf, "/proc/meminfo").unwrap();
        let total = 64 << 10;
        assert!(
            mem.starts_with(&format!("MemTotal:       {total:>8} kB\n")),
            "{mem}"
        );
        let cpuinfo = read(t, buf, "/proc/cpuinfo").unwrap();
        let n = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor\t: "))
            .count();
        assert_eq!(n, t.kernel.config.cpus);
        assert_eq!(
            read(t, buf, "/sys/devices/system/cpu/online").unwrap(),
            format!("0-{}\n", t.kernel.config.cpus - 1)
        );
        assert_eq!(read(t, buf, "/proc/sys/kernel/hostname").unwrap(), "h\n");
        assert_eq!(
            read(t, buf, "/proc/sys/kernel/pid_max").unwrap(),
            "4194304\n"
        );
        let stat = read(t, buf, "/proc/stat").unwrap();
        assert!(stat.starts_with("cpu  "), "{stat}");
        assert_eq!(field(&stat, "processes"), Some("1"));
        let mounts = read(t, buf, "/proc/mounts").unwrap();
        assert!(
            mounts.contains("proc /proc proc rw,nosuid,nodev,noexec 0 0\n"),
            "{mounts}"
        );
        assert!(mounts.contains("sysfs /sys sysfs ro,"), "{mounts}");
        let info = read(t, buf, "/proc/self/mountinfo").unwrap();
        assert!(
            info.lines()
                .any(|l| l.contains(" /dev/shm rw,nosuid,nodev - tmpfs ")),
            "{info}"
        );
    });
}

#[test]
fn devices() {
    with_proc(|t, buf| {
        let zero = open(t, buf, "/dev/zero", libc::O_RDONLY).unwrap();
        t.mm().copy_out(buf + 0x1000, &[7u8; 8]).unwrap();
        assert_eq!(
            sys(t, libc::SYS_read, &[zero as u64, buf + 0x1000, 8]),
            Ok(8)
        );
        let mut b = [1u8; 8];
        t.mm().copy_in(buf + 0x1000, &mut b).unwrap();
        assert_eq!(b, [0; 8]);
        let full = open(t, buf, "/dev/full", libc::O_RDWR).unwrap();
        assert_eq!(
            sys(t, libc::SYS_write, &[full as u64, buf + 0x1000, 8]),
            Err(Errno::ENOSPC)
        );
        assert_eq!(open(t, buf, "/dev/tty", libc::O_RDWR), Err(Errno::ENXIO));
        // stat: a character device with Linux's numbers, on /dev's mount.
        let p = put(t, buf, "/dev/urandom");
        sys(t, libc::SYS_stat, &[p, buf + 0x2000]).unwrap();
        let mut st = [0u8; 144];
        t.mm().copy_in(buf + 0x2000, &mut st).unwrap();
        let word = |i: usize| u64::from_le_bytes(st[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!(word(3) as u32 & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(word(5), crate::fs::dev::URANDOM);
        let u = open(t, buf, "/dev/urandom", libc::O_RDONLY).unwrap();
        sys(t, libc::SYS_fstat, &[u as u64, buf + 0x3000]).unwrap();
        let mut fst = [0u8; 144];
        t.mm().copy_in(buf + 0x3000, &mut fst).unwrap();
        assert_eq!(fst[..48], st[..48], "fstat agrees with stat");
        // A device node made elsewhere opens by its number too.
        let p = put(t, buf, "/mynull");
        let mode = u64::from(libc::S_IFCHR | 0o666);
        t.process_mut().creds.uid = 0;
        sys(t, libc::SYS_mknod, &[p, mode, crate::fs::dev::NULL]).unwrap();
        let n = open(t, buf, "/mynull", libc::O_RDWR).unwrap();
        assert_eq!(sys(t, libc::SYS_write, &[n as u64, buf + 0x1000, 8]), Ok(8));
        // The links into /proc/self/fd.
        assert_eq!(readlink(t, buf, "/dev/stdin").unwrap(), "/proc/self/fd/0");
    });
}

#[test]
fn cmdline_and_environ_read_the_process_memory() {
    with_proc(|t, buf| {
        let strings = buf + 0x8000;
        t.mm().copy_out(strings, b"ab\0cd\0E=f\0").unwrap();
        let l = &mut t.mm_mut().layout;
        (l.arg_start, l.arg_end) = (strings, strings + 6);
        (l.env_start, l.env_end) = (strings + 6, strings + 10);
        assert_eq!(read(t, buf, "/proc/self/cmdline").unwrap(), "ab\0cd\0");
        assert_eq!(read(t, buf, "/proc/self/environ").unwrap(), "E=f\0");
        // A process that wrote over its arguments' last NUL
        // (setproctitle): the text runs on to the next NUL.
        t.mm().copy_out(strings, b"abXcdY").unwrap();
        assert_eq!(read(t, buf, "/proc/self/cmdline").unwrap(), "abXcdYE=f");
        // Arguments the process unmapped read as nothing.
        let l = &mut t.mm_mut().layout;
        (l.arg_start, l.arg_end, l.env_end) = (0x1000, 0x1006, 0x100a);
        assert_eq!(read(t, buf, "/proc/self/cmdline").unwrap(), "");
    });
}

#[test]
fn a_procfs_shows_its_pid_namespace() {
    use crate::kernel::pidns::PidNs;
    with_proc(|t, buf| {
        // Two processes in a child namespace: its init (a child of ours)
        // and the init's child, in the init's group and session.
        let ns = PidNs::new_child(&PidNs::root()).unwrap();
        let add = |t: &mut Task<'_>, ppid, leader: Option<i32>| {
            let g = t.k.alloc_pid_in(&ns).unwrap();
            let mut p = crate::kernel::test_process(g, 0, Default::default());
            p.pidns = Arc::clone(&ns);
            p.ppid = ppid;
            if let Some(l) = leader {
                (p.pgid, p.sid) = (l, l);
            }
            p.threads.clear();
            t.k.procs.insert(g, p);
            g
        };
        let init = add(t, 1, None);
        let child = add(t, init, Some(init));
        assert!(init > 1 && child > init);
        // The container's procfs: global numbers, one per level in NSpid.
        let status = read(t, buf, &format!("/proc/{child}/status")).unwrap();
        assert_eq!(
            field(&status, "NSpid:"),
            Some(format!("{child}\t2").as_str())
        );
        assert_eq!(
            field(&status, "NSsid:"),
            Some(format!("{init}\t1").as_str())
        );
        assert_eq!(field(&status, "PPid:"), Some(init.to_string().as_str()));
        let mine = readlink(t, buf, "/proc/self/ns/pid").unwrap();
        let theirs = readlink(t, buf, &format!("/proc/{init}/ns/pid")).unwrap();
        assert_eq!(mine, format!("pid:[{}]", PidNs::root().ino()));
        assert_eq!(theirs, format!("pid:[{}]", ns.ino()));
        // A procfs of the child namespace, at /nsproc.
        let creds = t.process().creds;
        t.process_mut().creds = crate::kernel::Credentials::new(0, 0);
        let p = put(t, buf, "/nsproc");
        sys(t, libc::SYS_mkdir, &[p, 0o755]).unwrap();
        t.process_mut().creds = creds;
        let vfs = t.kernel.vfs.get().unwrap();
        let at = crate::vfs::resolve(
            vfs.root(),
            vfs.root(),
            b"/nsproc",
            crate::vfs::Follow::Yes,
            creds,
        )
        .unwrap();
        let opts = MountOpts {
            fstype: "proc".into(),
            source: "proc".into(),
            ..MountOpts::default()
        };
        vfs.mount(&at, crate::fs::proc::procfs(Arc::clone(&ns)), opts)
            .unwrap();
        let names = list(t, buf, "/nsproc").unwrap();
        let pids: Vec<&String> = names
            .iter()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        assert_eq!(pids, ["1", "2"]);
        // We are outside: no self there, and our number names nothing.
        assert_eq!(readlink(t, buf, "/nsproc/self"), Err(Errno::ENOENT));
        assert_eq!(
            read(t, buf, &format!("/nsproc/{child}/stat")),
            Err(Errno::ENOENT)
        );
        let stat = read(t, buf, "/nsproc/2/stat").unwrap();
        let f: Vec<&str> = stat.split_whitespace().collect();
        assert_eq!(&f[..2], ["2", "(x)"]);
        assert_eq!(&f[3..6], ["1", "1", "1"], "ppid, pgrp, session: {stat}");
        let stat = read(t, buf, "/nsproc/1/stat").unwrap();
        let f: Vec<&str> = stat.split_whitespace().collect();
        // The init's parent is outside: 0 (it leads its own group and
        // session, as test processes do).
        assert_eq!(&f[3..6], ["0", "1", "1"], "{stat}");
        let status = read(t, buf, "/nsproc/2/status").unwrap();
        assert_eq!(field(&status, "NSpid:"), Some("2"));
        assert_eq!(field(&status, "Pid:"), Some("2"));
        assert_eq!(field(&status, "PPid:"), Some("1"));
        t.k.procs.remove(&child);
        t.k.procs.remove(&init);
    });
}
