//! `guest-vdso`: the guest's vDSO image and the layout of the parameter
//! page the sentry's timekeeper writes.
//!
//! Empty for now: without a vDSO, glibc and musl make real `clock_gettime`
//! syscalls, which the sentry serves. The vDSO (a `no_std` shared object
//! built by a build script, exporting `__vdso_clock_gettime` and friends
//! under `LINUX_2.6`) is part of the processes issue.
