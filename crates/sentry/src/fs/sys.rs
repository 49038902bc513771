//! sysfs, the little of it that runtimes read: the CPUs
//! (/sys/devices/system/cpu: online, possible, present and each CPU's
//! topology) and an empty /sys/fs/cgroup.
//!
//! The CPUs are the kernel's count (`KernelConfig::cpus`), fixed at
//! boot, so the tree is built once: one package whose CPUs are each a
//! core of their own, as /proc/cpuinfo shows them. glibc's
//! sysconf(_SC_NPROCESSORS_ONLN) reads `online`; Go, Java and Python read
//! the same or the affinity mask, which agrees.

use std::sync::Arc;

use crate::fs::synth::{Fs, GenFile, Inos, StaticDir};
use crate::vfs::inode::Inode;

/// A CPU list as sysfs writes it ("0", "0-3").
pub fn cpu_list(cpus: usize) -> String {
    match cpus {
        0 | 1 => "0".into(),
        n => format!("0-{}", n - 1),
    }
}

/// A new sysfs for `cpus` CPUs: its root directory.
pub fn sysfs(cpus: usize) -> Arc<dyn Inode> {
    let cpus = cpus.max(1);
    let inos = Inos::from(1);
    let root_ino = inos.next();
    let text = |inos: &Inos, s: String| {
        let bytes = s.into_bytes();
        GenFile::new(Fs::Sys, inos.next(), 0o444, move || Ok(bytes.clone())).build()
    };
    let all = format!("{}\n", cpu_list(cpus));
    let mut cpu_dir: Vec<(Vec<u8>, Arc<dyn Inode>)> = vec![
        (b"online".to_vec(), text(&inos, all.clone())),
        (b"possible".to_vec(), text(&inos, all.clone())),
        (b"present".to_vec(), text(&inos, all.clone())),
    ];
    for n in 0..cpus {
        let topology = vec![
            (b"core_id".to_vec(), text(&inos, format!("{n}\n"))),
            (b"physical_package_id".to_vec(), text(&inos, "0\n".into())),
            (
                b"thread_siblings_list".to_vec(),
                text(&inos, format!("{n}\n")),
            ),
            (b"core_siblings_list".to_vec(), text(&inos, all.clone())),
            (b"package_cpus_list".to_vec(), text(&inos, all.clone())),
            (b"core_cpus_list".to_vec(), text(&inos, format!("{n}\n"))),
        ];
        let cpu = StaticDir::build(
            Fs::Sys,
            inos.next(),
            vec![(
                b"topology".to_vec(),
                StaticDir::build(Fs::Sys, inos.next(), topology),
            )],
        );
        cpu_dir.push((format!("cpu{n}").into_bytes(), cpu));
    }
    let dir = |inos: &Inos, entries| StaticDir::build(Fs::Sys, inos.next(), entries);
    let system = dir(&inos, vec![(b"cpu".to_vec(), dir(&inos, cpu_dir))]);
    let devices = dir(&inos, vec![(b"system".to_vec(), system)]);
    let fs = dir(&inos, vec![(b"cgroup".to_vec(), dir(&inos, Vec::new()))]);
    StaticDir::build(
        Fs::Sys,
        root_ino,
        vec![(b"devices".to_vec(), devices), (b"fs".to_vec(), fs)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fd_table::FileKind;

    fn read(root: &Arc<dyn Inode>, path: &[&[u8]]) -> String {
        let mut i = Arc::clone(root);
        for c in path {
            i = i.lookup(c).unwrap();
        }
        let Ok(FileKind::Ops(o)) = i.open(libc::O_RDONLY) else {
            panic!("a sysfs file opens as an ops file");
        };
        let mut b = [0u8; 64];
        let n = o.ops.read(0, &mut b).unwrap();
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn cpus_and_topology() {
        let root = sysfs(4);
        let cpu: [&[u8]; 3] = [b"devices", b"system", b"cpu"];
        assert_eq!(read(&root, &[cpu[0], cpu[1], cpu[2], b"online"]), "0-3\n");
        assert_eq!(read(&root, &[cpu[0], cpu[1], cpu[2], b"possible"]), "0-3\n");
        assert_eq!(
            read(
                &root,
                &[cpu[0], cpu[1], cpu[2], b"cpu2", b"topology", b"core_id"]
            ),
            "2\n"
        );
        assert_eq!(
            read(
                &root,
                &[
                    cpu[0],
                    cpu[1],
                    cpu[2],
                    b"cpu3",
                    b"topology",
                    b"core_siblings_list"
                ]
            ),
            "0-3\n"
        );
        let d = root.lookup(b"devices").unwrap().lookup(b"system").unwrap();
        let cpus = d.lookup(b"cpu").unwrap().readdir().unwrap();
        let n = cpus.iter().filter(|e| e.name.starts_with(b"cpu")).count();
        assert_eq!(n, 4);
        assert!(d.lookup(b"cpu").unwrap().lookup(b"cpu4").is_err());
        let one = sysfs(1);
        assert_eq!(read(&one, &[cpu[0], cpu[1], cpu[2], b"online"]), "0\n");
        let cg = root.lookup(b"fs").unwrap().lookup(b"cgroup").unwrap();
        assert!(cg.attr().is_dir() && cg.readdir().unwrap().is_empty());
    }
}
