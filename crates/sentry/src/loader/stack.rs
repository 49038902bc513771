//! The initial process stack, laid out exactly as Linux's
//! `create_elf_tables` (fs/binfmt_elf.c) and `copy_strings` (fs/exec.c):
//!
//! ```text
//! top      8 zero bytes
//!          AT_EXECFN string
//!          envp strings, argv strings (in order, argv[0] lowest)
//!          -- aligned down to 16 --
//!          AT_PLATFORM string ("x86_64")
//!          16 AT_RANDOM bytes
//!          -- sp = (p - 8 * words) & !15 --
//! sp       argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL
//! ```
//!
//! This module is pure: it returns the bytes and the stack pointer, and
//! the loader copies them into the address space.

use crate::Error;

pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_EXECFN: u64 = 31;
pub const AT_SYSINFO_EHDR: u64 = 33;
pub const AT_MINSIGSTKSZ: u64 = 51;

/// AT_MINSIGSTKSZ: the largest signal frame the sentry builds, computed
/// as Linux's `init_sigframe_size` does on x86-64 (the rt_sigframe, the
/// XSAVE area with its trailing magic, and their alignment padding).
pub fn minsigstksz() -> u64 {
    const RT_SIGFRAME: u64 = 440;
    const FRAME_PADDING: u64 = 15;
    const XSAVE_PADDING: u64 = 63;
    const MAGIC2: u64 = 4;
    let xs = crate::kernel::deliver::xsave_size() as u64;
    (RT_SIGFRAME + FRAME_PADDING + xs + MAGIC2 + XSAVE_PADDING).next_multiple_of(16)
}

/// The platform string of AT_PLATFORM.
pub const PLATFORM: &str = "x86_64";

/// What the auxiliary vector reports besides the addresses this module
/// computes (AT_RANDOM, AT_EXECFN, AT_PLATFORM).
#[derive(Clone, Debug)]
pub struct AuxInfo {
    pub hwcap: u64,
    pub phdr: u64,
    pub phnum: u64,
    pub entry: u64,
    /// The interpreter's load bias (AT_BASE); 0 without one.
    pub base: u64,
    /// The real and effective user and group IDs: AT_UID, AT_EUID,
    /// AT_GID and AT_EGID. AT_SECURE is set when the effective ones differ
    /// from the real ones, as Linux's commoncap does.
    pub ids: [u32; 4],
    pub random: [u8; 16],
    /// The vDSO's base (AT_SYSINFO_EHDR); 0 for none.
    pub sysinfo_ehdr: u64,
    /// AT_MINSIGSTKSZ.
    pub minsigstksz: u64,
}

/// The initial stack: the bytes of `[sp, top)`.
#[derive(Clone, Debug)]
pub struct StackImage {
    pub sp: u64,
    pub bytes: Vec<u8>,
    /// Where the argument strings are, and the environment strings right
    /// after them: [start, end).
    pub args: (u64, u64),
    pub env: (u64, u64),
}

fn cstr(s: &[u8], what: &str) -> Result<Vec<u8>, Error> {
    if s.contains(&0) {
        return Err(Error::Load(format!("{what} contains a NUL byte")));
    }
    let mut v = s.to_vec();
    v.push(0);
    Ok(v)
}

/// Lays out the stack ending at `top` (page aligned). `max` bounds the
/// total size (Linux allows a quarter of the stack limit for strings).
pub fn build<S: AsRef<[u8]>>(
    top: u64,
    max: u64,
    argv: &[S],
    envp: &[S],
    execfn: &[u8],
    aux: &AuxInfo,
) -> Result<StackImage, Error> {
    let too_big = || Error::Load("argument list too long".into());
    let mut strings: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut p = top.checked_sub(8).ok_or_else(too_big)?;
    let mut push = |p: &mut u64, bytes: Vec<u8>| -> Result<u64, Error> {
        *p = p.checked_sub(bytes.len() as u64).ok_or_else(too_big)?;
        if top - *p > max {
            return Err(too_big());
        }
        strings.push((*p, bytes));
        Ok(*p)
    };
    let execfn_addr = push(&mut p, cstr(execfn, "the executable path")?)?;
    let env_end = execfn_addr;
    let mut env_addrs = Vec::with_capacity(envp.len());
    for s in envp.iter().rev() {
        env_addrs.push(push(&mut p, cstr(s.as_ref(), "an environment string")?)?);
    }
    env_addrs.reverse();
    let mut arg_addrs = Vec::with_capacity(argv.len());
    for s in argv.iter().rev() {
        arg_addrs.push(push(&mut p, cstr(s.as_ref(), "an argument")?)?);
    }
    arg_addrs.reverse();
    let env_start = env_addrs.first().copied().unwrap_or(env_end);
    let arg_start = arg_addrs.first().copied().unwrap_or(env_start);
    p &= !15;
    let platform_addr = push(&mut p, cstr(PLATFORM.as_bytes(), "platform")?)?;
    let random_addr = push(&mut p, aux.random.to_vec())?;

    // Linux puts the architecture's entries (ARCH_DLINFO: the vDSO and
    // AT_MINSIGSTKSZ) first.
    let vdso = (aux.sysinfo_ehdr != 0).then_some((AT_SYSINFO_EHDR, aux.sysinfo_ehdr));
    let auxv = vdso.into_iter().chain([
        (AT_MINSIGSTKSZ, aux.minsigstksz),
        (AT_HWCAP, aux.hwcap),
        (AT_PAGESZ, crate::mm::PAGE_SIZE),
        (AT_CLKTCK, 100),
        (AT_PHDR, aux.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, aux.phnum),
        (AT_BASE, aux.base),
        (AT_FLAGS, 0),
        (AT_ENTRY, aux.entry),
        (AT_UID, u64::from(aux.ids[0])),
        (AT_EUID, u64::from(aux.ids[1])),
        (AT_GID, u64::from(aux.ids[2])),
        (AT_EGID, u64::from(aux.ids[3])),
        (
            AT_SECURE,
            u64::from(aux.ids[0] != aux.ids[1] || aux.ids[2] != aux.ids[3]),
        ),
        (AT_RANDOM, random_addr),
        (AT_HWCAP2, 0),
        (AT_EXECFN, execfn_addr),
        (AT_PLATFORM, platform_addr),
    ]);
    let mut words: Vec<u64> = Vec::new();
    words.push(argv.len() as u64);
    words.extend(&arg_addrs);
    words.push(0);
    words.extend(&env_addrs);
    words.push(0);
    for (k, v) in auxv {
        words.push(k);
        words.push(v);
    }
    words.push(AT_NULL);
    words.push(0);
    let table = (words.len() as u64).checked_mul(8).ok_or_else(too_big)?;
    let sp = p.checked_sub(table).ok_or_else(too_big)? & !15;
    if top - sp > max {
        return Err(too_big());
    }
    let mut bytes = vec![0u8; (top - sp) as usize];
    for (i, w) in words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    for (addr, s) in strings {
        let off = (addr - sp) as usize;
        bytes[off..off + s.len()].copy_from_slice(&s);
    }
    Ok(StackImage {
        sp,
        bytes,
        args: (arg_start, env_start),
        env: (env_start, env_end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.sp) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().unwrap())
    }

    fn string(img: &StackImage, addr: u64) -> String {
        let o = (addr - img.sp) as usize;
        let end = img.bytes[o..].iter().position(|b| *b == 0).unwrap();
        String::from_utf8(img.bytes[o..o + end].to_vec()).unwrap()
    }

    #[test]
    fn layout_matches_linux() {
        let top = 0x7fff_ff00_0000;
        let aux = AuxInfo {
            hwcap: 0x1234,
            phdr: 0x40_0040,
            phnum: 7,
            entry: 0x40_1000,
            base: 0x7fff_f7fc_3000,
            ids: [5, 7, 6, 6],
            random: [9; 16],
            sysinfo_ehdr: 0x7fff_ff10_1000,
            minsigstksz: 3632,
        };
        let argv = vec!["/bin/prog".to_string(), "arg1".to_string()];
        let envp = vec!["A=b".to_string()];
        let img = build(top, 1 << 20, &argv, &envp, b"/bin/prog", &aux).unwrap();
        assert_eq!(img.sp % 16, 0, "sp is 16-byte aligned at entry");
        assert_eq!(img.sp + img.bytes.len() as u64, top);
        assert_eq!(word(&img, top - 8), 0, "top 8 bytes are zero");
        let execfn = top - 8 - "/bin/prog\0".len() as u64;
        assert_eq!(string(&img, execfn), "/bin/prog");
        // envp strings sit right below execfn, argv strings below those.
        let env0 = execfn - 4;
        assert_eq!(string(&img, env0), "A=b");
        let arg1 = env0 - 5;
        let arg0 = arg1 - 10;
        assert_eq!(string(&img, arg1), "arg1");
        assert_eq!(string(&img, arg0), "/bin/prog");
        // What /proc/[pid]/cmdline and environ read.
        assert_eq!(img.args, (arg0, env0));
        assert_eq!(img.env, (env0, execfn));
        let sp = img.sp;
        assert_eq!(word(&img, sp), 2);
        assert_eq!(word(&img, sp + 8), arg0);
        assert_eq!(word(&img, sp + 16), arg1);
        assert_eq!(word(&img, sp + 24), 0);
        assert_eq!(word(&img, sp + 32), env0);
        assert_eq!(word(&img, sp + 40), 0);
        let mut auxv = std::collections::HashMap::new();
        let mut a = sp + 48;
        loop {
            let (k, v) = (word(&img, a), word(&img, a + 8));
            a += 16;
            if k == AT_NULL {
                break;
            }
            assert!(auxv.insert(k, v).is_none(), "duplicate auxv key {k}");
        }
        assert_eq!(auxv[&AT_HWCAP], 0x1234);
        assert_eq!(auxv[&AT_PAGESZ], 4096);
        assert_eq!(auxv[&AT_PHDR], 0x40_0040);
        assert_eq!(auxv[&AT_PHENT], 56);
        assert_eq!(auxv[&AT_PHNUM], 7);
        assert_eq!(auxv[&AT_ENTRY], 0x40_1000);
        assert_eq!(auxv[&AT_BASE], 0x7fff_f7fc_3000);
        assert_eq!(auxv[&AT_MINSIGSTKSZ], 3632);
        assert_eq!(word(&img, sp + 64), AT_MINSIGSTKSZ, "right after the vDSO");
        assert_eq!(auxv[&AT_UID], 5);
        assert_eq!(auxv[&AT_EUID], 7);
        assert_eq!(auxv[&AT_EGID], 6);
        assert_eq!(auxv[&AT_SECURE], 1, "the effective UID is not the real");
        assert_eq!(auxv[&AT_EXECFN], execfn);
        assert_eq!(auxv[&AT_SYSINFO_EHDR], 0x7fff_ff10_1000);
        assert_eq!(word(&img, sp + 48), AT_SYSINFO_EHDR, "the vDSO comes first");
        assert_eq!(string(&img, auxv[&AT_PLATFORM]), "x86_64");
        let r = auxv[&AT_RANDOM];
        assert_eq!(
            &img.bytes[(r - sp) as usize..(r - sp) as usize + 16],
            &[9; 16]
        );
        // The platform string lies just under the 16-aligned string area,
        // the random bytes just under it, and the table right below them.
        assert_eq!(auxv[&AT_PLATFORM], (arg0 & !15) - 7);
        assert_eq!(r, auxv[&AT_PLATFORM] - 16);
        assert!(a <= r && r - a < 16 + 8, "table ends just under AT_RANDOM");
    }

    #[test]
    fn too_long_and_nul_are_errors() {
        let aux = AuxInfo {
            hwcap: 0,
            phdr: 0,
            phnum: 0,
            entry: 0,
            base: 0,
            ids: [0; 4],
            random: [0; 16],
            sysinfo_ehdr: 0,
            minsigstksz: 0,
        };
        let big = vec!["x".repeat(5000)];
        assert!(matches!(
            build(0x10_0000, 4096, &big, &[], b"/x", &aux),
            Err(Error::Load(_))
        ));
        let nul = vec!["a\0b".to_string()];
        assert!(matches!(
            build(0x10_0000, 4096, &nul, &[], b"/x", &aux),
            Err(Error::Load(_))
        ));
    }
}
