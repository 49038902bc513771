//! Process credentials: real, effective, saved and filesystem user and
//! group IDs plus supplementary groups, with the set*id rules of
//! credentials(7), setuid(2), setreuid(2), setresuid(2), setfsuid(2) and
//! setgroups(2).
//!
//! Capabilities are "lite": there is no capability set to read or change
//! (capget/capset are ENOSYS, files carry no capabilities, no
//! PR_SET_KEEPCAPS). Without those, Linux's rules for a process that
//! starts as root or not (capabilities(7), "Effect of user ID changes on
//! capabilities") reduce to functions of the IDs:
//!
//! * the permitted set is full while any of the real, effective or saved
//!   UIDs is 0, and emptied for good when they all become non-zero;
//! * the effective set is the permitted set while the effective UID is 0
//!   and empty otherwise;
//! * the filesystem capabilities (CAP_CHOWN, CAP_DAC_OVERRIDE,
//!   CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, ...) follow
//!   the filesystem UID instead: present while it is 0.
//!
//! So `capable` derives them, and the filesystem checks that test
//! `uid == 0` (the filesystem UID) test exactly CAP_DAC_OVERRIDE,
//! CAP_FOWNER and CAP_CHOWN.
//!
//! Linux keeps credentials per thread; glibc and musl change every
//! thread's together (the setxid broadcast), so the sentry keeps one set
//! per process and a set*id call changes it for all threads at once.

use crate::errno::Errno;

/// How many supplementary groups a process may have. Linux allows
/// NGROUPS_MAX (65536); the sentry keeps them inline so credentials stay
/// `Copy`, and setgroups with more than this is EINVAL.
pub const NGROUPS: usize = 64;

/// Linux's NGROUPS_MAX: setgroups above it is EINVAL.
pub const NGROUPS_MAX: usize = 65536;

/// The capabilities the sentry checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    Chown,
    DacOverride,
    DacReadSearch,
    Fowner,
    Fsetid,
    Kill,
    Setgid,
    Setuid,
    Mknod,
    SysNice,
    SysResource,
    SysAdmin,
}

impl Cap {
    /// Whether the capability is one that follows the filesystem UID
    /// (CAP_FS_MASK in Linux).
    fn is_fs(self) -> bool {
        matches!(
            self,
            Cap::Chown
                | Cap::DacOverride
                | Cap::DacReadSearch
                | Cap::Fowner
                | Cap::Fsetid
                | Cap::Mknod
        )
    }
}

/// A process's credentials. `uid` and `gid` are the filesystem IDs, the
/// ones permission checks and new files' owners use; the others are the
/// real, effective and saved IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The filesystem user ID.
    pub uid: u32,
    /// The filesystem group ID.
    pub gid: u32,
    pub ruid: u32,
    pub euid: u32,
    pub suid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub sgid: u32,
    ngroups: u8,
    groups: [u32; NGROUPS],
}

/// Every capability up to CAP_LAST_CAP (40).
const CAP_FULL: u64 = (1 << 41) - 1;

/// Linux's CAP_FS_MASK: CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER,
/// FSETID, LINUX_IMMUTABLE, MKNOD and MAC_OVERRIDE.
const CAP_FS_MASK: u64 = 0x1f | 1 << 9 | 1 << 27 | 1 << 32;

/// The ID -1 ("leave unchanged" where allowed, invalid otherwise).
const NO_ID: u32 = u32::MAX;

impl Credentials {
    /// A user with every ID `uid` and `gid` and no supplementary groups.
    pub const fn new(uid: u32, gid: u32) -> Credentials {
        Credentials {
            uid,
            gid,
            ruid: uid,
            euid: uid,
            suid: uid,
            rgid: gid,
            egid: gid,
            sgid: gid,
            ngroups: 0,
            groups: [0; NGROUPS],
        }
    }

    /// The supplementary groups, sorted.
    pub fn groups(&self) -> &[u32] {
        &self.groups[..usize::from(self.ngroups)]
    }

    /// Whether `gid` is the filesystem group or a supplementary group
    /// (Linux's in_group_p).
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups().binary_search(&gid).is_ok()
    }

    /// Whether the process has capability `cap` (see the module doc).
    pub fn capable(&self, cap: Cap) -> bool {
        if cap.is_fs() {
            self.uid == 0
        } else {
            self.euid == 0
        }
    }

    /// Whether a process with these credentials may send a signal to
    /// one with `target` (kill_ok_by_cred): CAP_KILL, or the sender's
    /// real or effective UID is the target's real or saved UID.
    pub fn may_signal(&self, target: &Credentials) -> bool {
        self.capable(Cap::Kill)
            || [self.ruid, self.euid]
                .iter()
                .any(|u| *u == target.ruid || *u == target.suid)
    }

    /// The permitted capability set as a mask (/proc/[pid]/status):
    /// every capability up to CAP_LAST_CAP (40) while any of the real,
    /// effective and saved UIDs is 0.
    pub fn cap_permitted(&self) -> u64 {
        if [self.ruid, self.euid, self.suid].contains(&0) {
            CAP_FULL
        } else {
            0
        }
    }

    /// The effective capability set as a mask: the permitted set while
    /// the effective UID is 0, with the filesystem capabilities following
    /// the filesystem UID instead.
    pub fn cap_effective(&self) -> u64 {
        let others = if self.euid == 0 {
            self.cap_permitted() & !CAP_FS_MASK
        } else {
            0
        };
        let fs = if self.uid == 0 {
            self.cap_permitted() & CAP_FS_MASK
        } else {
            0
        };
        others | fs
    }

    /// Whether these credentials act for the owner of a process with
    /// `target` (Linux's check_same_owner, set_one_prio_perm): the
    /// effective UID is the target's real or effective UID.
    pub fn same_owner(&self, target: &Credentials) -> bool {
        self.euid == target.euid || self.euid == target.ruid
    }

    /// Replaces the supplementary groups (setgroups(2)); needs CAP_SETGID.
    pub fn set_groups(&mut self, list: &[u32]) -> Result<(), Errno> {
        if list.len() > NGROUPS_MAX {
            return Err(Errno::EINVAL);
        }
        if !self.capable(Cap::Setgid) {
            return Err(Errno::EPERM);
        }
        if list.len() > NGROUPS || list.contains(&NO_ID) {
            return Err(Errno::EINVAL);
        }
        let mut g = [0; NGROUPS];
        g[..list.len()].copy_from_slice(list);
        g[..list.len()].sort_unstable();
        self.groups = g;
        self.ngroups = list.len() as u8;
        Ok(())
    }

    /// setuid(2).
    pub fn set_uid(&mut self, uid: u32) -> Result<(), Errno> {
        let (r, e, s, f) = set_id(
            [self.ruid, self.euid, self.suid],
            self.capable(Cap::Setuid),
            uid,
        )?;
        (self.ruid, self.euid, self.suid, self.uid) = (r, e, s, f);
        Ok(())
    }

    /// setgid(2).
    pub fn set_gid(&mut self, gid: u32) -> Result<(), Errno> {
        let (r, e, s, f) = set_id(
            [self.rgid, self.egid, self.sgid],
            self.capable(Cap::Setgid),
            gid,
        )?;
        (self.rgid, self.egid, self.sgid, self.gid) = (r, e, s, f);
        Ok(())
    }

    /// setreuid(2).
    pub fn set_reuid(&mut self, ruid: u32, euid: u32) -> Result<(), Errno> {
        let (r, e, s) = set_re(
            [self.ruid, self.euid, self.suid],
            self.capable(Cap::Setuid),
            ruid,
            euid,
        )?;
        (self.ruid, self.euid, self.suid, self.uid) = (r, e, s, e);
        Ok(())
    }

    /// setregid(2).
    pub fn set_regid(&mut self, rgid: u32, egid: u32) -> Result<(), Errno> {
        let (r, e, s) = set_re(
            [self.rgid, self.egid, self.sgid],
            self.capable(Cap::Setgid),
            rgid,
            egid,
        )?;
        (self.rgid, self.egid, self.sgid, self.gid) = (r, e, s, e);
        Ok(())
    }

    /// setresuid(2).
    pub fn set_resuid(&mut self, ruid: u32, euid: u32, suid: u32) -> Result<(), Errno> {
        let [r, e, s] = set_res(
            [self.ruid, self.euid, self.suid],
            self.capable(Cap::Setuid),
            [ruid, euid, suid],
        )?;
        (self.ruid, self.euid, self.suid, self.uid) = (r, e, s, e);
        Ok(())
    }

    /// setresgid(2).
    pub fn set_resgid(&mut self, rgid: u32, egid: u32, sgid: u32) -> Result<(), Errno> {
        let [r, e, s] = set_res(
            [self.rgid, self.egid, self.sgid],
            self.capable(Cap::Setgid),
            [rgid, egid, sgid],
        )?;
        (self.rgid, self.egid, self.sgid, self.gid) = (r, e, s, e);
        Ok(())
    }

    /// setfsuid(2): returns the previous filesystem UID whether or not it
    /// changed (the call has no error return).
    pub fn set_fsuid(&mut self, uid: u32) -> u32 {
        let old = self.uid;
        let ids = [self.ruid, self.euid, self.suid, self.uid];
        if uid != NO_ID && (ids.contains(&uid) || self.capable(Cap::Setuid)) {
            self.uid = uid;
        }
        old
    }

    /// setfsgid(2): as `set_fsuid`, for the group.
    pub fn set_fsgid(&mut self, gid: u32) -> u32 {
        let old = self.gid;
        let ids = [self.rgid, self.egid, self.sgid, self.gid];
        if gid != NO_ID && (ids.contains(&gid) || self.capable(Cap::Setgid)) {
            self.gid = gid;
        }
        old
    }

    /// What execve does to the IDs (no set-user-ID or set-group-ID
    /// programs): the saved and filesystem IDs become the effective ones.
    pub fn on_exec(&mut self) {
        (self.suid, self.uid) = (self.euid, self.euid);
        (self.sgid, self.gid) = (self.egid, self.egid);
    }
}

/// setuid/setgid: `[real, effective, saved]` to new `(r, e, s, fs)`.
fn set_id(old: [u32; 3], privileged: bool, id: u32) -> Result<(u32, u32, u32, u32), Errno> {
    if id == NO_ID {
        return Err(Errno::EINVAL);
    }
    let [r, _, s] = old;
    if privileged {
        Ok((id, id, id, id))
    } else if id == r || id == s {
        Ok((r, id, s, id))
    } else {
        Err(Errno::EPERM)
    }
}

/// setreuid/setregid: new `[real, effective, saved]`.
fn set_re(old: [u32; 3], privileged: bool, r: u32, e: u32) -> Result<(u32, u32, u32), Errno> {
    let [or, oe, os] = old;
    let nr = if r == NO_ID { or } else { r };
    let ne = if e == NO_ID { oe } else { e };
    if !privileged {
        if r != NO_ID && r != or && r != oe {
            return Err(Errno::EPERM);
        }
        if e != NO_ID && e != or && e != oe && e != os {
            return Err(Errno::EPERM);
        }
    }
    // The saved ID follows the effective one when the real ID is set or
    // the effective one becomes something other than the old real ID.
    let ns = if r != NO_ID || (e != NO_ID && e != or) {
        ne
    } else {
        os
    };
    Ok((nr, ne, ns))
}

/// setresuid/setresgid: new `[real, effective, saved]`.
fn set_res(old: [u32; 3], privileged: bool, new: [u32; 3]) -> Result<[u32; 3], Errno> {
    if !privileged && new.iter().any(|&n| n != NO_ID && !old.contains(&n)) {
        return Err(Errno::EPERM);
    }
    Ok([0, 1, 2].map(|i| if new[i] == NO_ID { old[i] } else { new[i] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(c: &Credentials) -> [u32; 4] {
        [c.ruid, c.euid, c.suid, c.uid]
    }

    fn gids(c: &Credentials) -> [u32; 4] {
        [c.rgid, c.egid, c.sgid, c.gid]
    }

    #[test]
    fn root_setuid_changes_all_and_drops_capabilities() {
        let mut c = Credentials::new(0, 0);
        assert!(c.capable(Cap::Setuid) && c.capable(Cap::DacOverride));
        c.set_uid(1000).unwrap();
        assert_eq!(ids(&c), [1000; 4]);
        assert!(!c.capable(Cap::Setuid) && !c.capable(Cap::DacOverride));
        assert_eq!((c.cap_permitted(), c.cap_effective()), (0, 0));
        assert_eq!(c.set_uid(0), Err(Errno::EPERM));
        assert_eq!(c.set_uid(u32::MAX), Err(Errno::EINVAL));
    }

    #[test]
    fn unprivileged_setuid_switches_between_real_and_saved() {
        let mut c = Credentials::new(0, 0);
        c.set_resuid(1000, 2000, 3000).unwrap();
        assert_eq!(ids(&c), [1000, 2000, 3000, 2000]);
        c.set_uid(3000).unwrap();
        assert_eq!(ids(&c), [1000, 3000, 3000, 3000]);
        c.set_uid(1000).unwrap();
        assert_eq!(ids(&c), [1000, 1000, 3000, 1000]);
        assert_eq!(c.set_uid(2000), Err(Errno::EPERM));
        assert_eq!(ids(&c), [1000, 1000, 3000, 1000]);
    }

    #[test]
    fn seteuid_keeps_saved_root_and_can_return() {
        let mut c = Credentials::new(0, 0);
        // seteuid(1000) as glibc does it: setresuid(-1, 1000, -1).
        c.set_resuid(NO_ID, 1000, NO_ID).unwrap();
        assert_eq!(ids(&c), [0, 1000, 0, 1000]);
        assert!(!c.capable(Cap::Setuid) && !c.capable(Cap::Fowner));
        assert_eq!((c.cap_permitted(), c.cap_effective()), (CAP_FULL, 0));
        // Unprivileged now, but 0 is still the real and saved UID.
        assert_eq!(c.set_resuid(NO_ID, 5, NO_ID), Err(Errno::EPERM));
        c.set_resuid(NO_ID, 0, NO_ID).unwrap();
        assert!(c.capable(Cap::Setuid) && c.capable(Cap::Fowner));
        assert_eq!(ids(&c), [0; 4]);
        assert_eq!(c.cap_effective(), CAP_FULL);
    }

    #[test]
    fn setreuid_rules() {
        let mut c = Credentials::new(0, 0);
        c.set_resuid(10, 20, 30).unwrap();
        // Unprivileged: the real ID may become the effective one.
        c.set_reuid(20, NO_ID).unwrap();
        assert_eq!(ids(&c), [20, 20, 20, 20], "real set: saved = effective");
        let mut c = Credentials::new(0, 0);
        c.set_resuid(10, 20, 30).unwrap();
        assert_eq!(c.set_reuid(30, NO_ID), Err(Errno::EPERM));
        c.set_reuid(NO_ID, 30).unwrap();
        assert_eq!(ids(&c), [10, 30, 30, 30]);
        c.set_reuid(NO_ID, 10).unwrap();
        assert_eq!(ids(&c), [10, 10, 30, 10], "effective = real: saved kept");
        assert_eq!(c.set_reuid(NO_ID, 99), Err(Errno::EPERM));
        c.set_reuid(NO_ID, NO_ID).unwrap();
        assert_eq!(ids(&c), [10, 10, 30, 10]);
    }

    #[test]
    fn setresuid_unprivileged_permutes_only() {
        let mut c = Credentials::new(0, 0);
        c.set_resuid(1, 2, 3).unwrap();
        c.set_resuid(3, 1, 2).unwrap();
        assert_eq!(ids(&c), [3, 1, 2, 1]);
        assert_eq!(c.set_resuid(4, NO_ID, NO_ID), Err(Errno::EPERM));
        assert_eq!(ids(&c), [3, 1, 2, 1]);
    }

    #[test]
    fn setfsuid_returns_old_and_checks() {
        let mut c = Credentials::new(0, 0);
        assert_eq!(c.set_fsuid(500), 0);
        assert_eq!(ids(&c), [0, 0, 0, 500]);
        assert!(!c.capable(Cap::DacOverride), "fs capabilities follow fsuid");
        assert!(c.capable(Cap::Setuid), "others follow euid");
        assert_eq!(c.cap_effective(), CAP_FULL & !CAP_FS_MASK);
        assert_eq!(c.cap_permitted(), CAP_FULL);
        assert_eq!(c.set_fsuid(u32::MAX), 500);
        assert_eq!(c.uid, 500);
        c.set_resuid(7, 8, 9).unwrap();
        assert_eq!(c.set_fsuid(600), 8, "setresuid resets fsuid");
        assert_eq!(c.uid, 8, "unprivileged: 600 refused");
        assert_eq!(c.set_fsuid(9), 8);
        assert_eq!(c.uid, 9);
    }

    #[test]
    fn gid_calls_need_euid_0() {
        let mut c = Credentials::new(0, 0);
        c.set_gid(100).unwrap();
        assert_eq!(gids(&c), [100; 4]);
        c.set_regid(200, 300).unwrap();
        assert_eq!(gids(&c), [200, 300, 300, 300]);
        c.set_uid(1000).unwrap();
        assert_eq!(c.set_gid(100), Err(Errno::EPERM));
        c.set_gid(200).unwrap();
        assert_eq!(gids(&c), [200, 200, 300, 200]);
        assert_eq!(c.set_resgid(1, NO_ID, NO_ID), Err(Errno::EPERM));
        assert_eq!(c.set_fsgid(5), 200);
        assert_eq!(c.gid, 200);
        assert_eq!(c.set_fsgid(300), 200);
        assert_eq!(c.gid, 300);
    }

    #[test]
    fn groups_sorted_checked_and_privileged() {
        let mut c = Credentials::new(0, 0);
        c.set_groups(&[30, 10, 20]).unwrap();
        assert_eq!(c.groups(), &[10, 20, 30]);
        assert!(c.in_group(20) && c.in_group(0) && !c.in_group(15));
        assert_eq!(c.set_groups(&[0; NGROUPS + 1]), Err(Errno::EINVAL));
        assert_eq!(c.set_groups(&[1, u32::MAX]), Err(Errno::EINVAL));
        assert_eq!(c.groups(), &[10, 20, 30]);
        c.set_uid(1).unwrap();
        assert_eq!(c.set_groups(&[]), Err(Errno::EPERM));
        assert!(c.in_group(30));
    }

    #[test]
    fn kill_permission_uses_real_and_saved_of_target() {
        let mut a = Credentials::new(0, 0);
        a.set_resuid(1, 2, 3).unwrap();
        let mut b = Credentials::new(0, 0);
        b.set_resuid(5, 1, 6).unwrap();
        assert!(!a.may_signal(&b), "target's effective UID does not count");
        let mut b = Credentials::new(0, 0);
        b.set_resuid(5, 1, 2).unwrap();
        assert!(a.may_signal(&b), "sender euid = target suid");
        assert!(Credentials::new(0, 0).may_signal(&b));
    }

    #[test]
    fn exec_copies_effective_to_saved() {
        let mut c = Credentials::new(0, 0);
        c.set_resuid(1, 2, 3).unwrap();
        c.set_fsuid(1);
        c.on_exec();
        assert_eq!(ids(&c), [1, 2, 2, 2]);
    }
}
