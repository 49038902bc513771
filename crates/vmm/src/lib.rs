//! `vmm`: the KVM platform of `sandbox`.
//!
//! It knows nothing of Linux semantics beyond the trap ABI: it owns the VM,
//! the memory file, guest page tables and vCPUs, and its one verb is
//! [`Vcpu::run_user`], which runs user registers on an address space until
//! something needs the sentry and returns a [`Trap`].

pub mod address_space;
pub mod arch;
pub mod exitless;
pub mod memory;
pub mod platform;
pub mod vcpu;

pub use address_space::{AddressSpace, Prot};
pub use exitless::{Mailbox, Request};
pub use memory::{Frame, MemoryFile};
pub use platform::{Flavour, Machine, Platform};
pub use vcpu::{Access, Kicker, Trap, UserRegs, Vcpu};

/// Errors of the KVM platform.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// opening or probing /dev/kvm failed
    #[error("KVM is not usable: {0}")]
    Kvm(#[source] kvm_ioctls::Error),
    /// a host syscall failed
    #[error("{what}: {source}")]
    Host {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// the memory file has no free frame left
    #[error("out of guest memory")]
    OutOfMemory,
    /// the guest supervisor faulted (vector {vector}, rip {rip:#x})
    #[error("guest supervisor faulted: vector {vector} at {rip:#x}")]
    SupervisorFault { vector: u8, rip: u64 },
    /// KVM returned an exit the platform does not handle
    #[error("unexpected KVM exit: {0}")]
    UnexpectedExit(String),
    /// a guest address is outside the user range or not page aligned
    #[error("invalid guest address {0:#x}")]
    BadAddress(u64),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    fn host(what: &'static str) -> Self {
        Error::Host {
            what,
            source: std::io::Error::last_os_error(),
        }
    }
}
