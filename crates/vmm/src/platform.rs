//! The platform: probing the host's KVM flavour, and the `Machine` (the VM,
//! its memory slot, CPUID and the supervisor region every address space
//! shares).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES, kvm_userspace_memory_region};
use kvm_ioctls::{Cap, Kvm, VmFd};

use crate::address_space::{AddressSpace, TreePool};
use crate::arch::{self, pte};
use crate::memory::{Frame, MemoryFile, PAGE_SIZE};
use crate::vcpu::Vcpu;
use crate::{Error, Result};

/// What serves `/dev/kvm` on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Hardware virtualisation (Intel VMX).
    Vmx,
    /// Hardware virtualisation (AMD SVM).
    Svm,
    /// kvm_pvm: the software "pagetable-based" hypervisor. Ring 0 entered by
    /// the host is emulated; `syscall` from ring 3 stays in ring 3.
    Pvm,
    /// A KVM whose module we do not recognise; treated like hardware.
    Unknown,
}

impl Flavour {
    /// Reads the flavour from the loaded kernel modules.
    pub fn probe() -> Flavour {
        let has = |m: &str| std::path::Path::new("/sys/module").join(m).exists();
        if has("kvm_pvm") {
            Flavour::Pvm
        } else if has("kvm_intel") {
            Flavour::Vmx
        } else if has("kvm_amd") {
            Flavour::Svm
        } else {
            Flavour::Unknown
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Flavour::Vmx => "kvm-vmx",
            Flavour::Svm => "kvm-svm",
            Flavour::Pvm => "kvm-pvm",
            Flavour::Unknown => "kvm",
        }
    }
}

/// An open `/dev/kvm` and what it is.
pub struct Platform {
    kvm: Kvm,
    flavour: Flavour,
}

impl Platform {
    /// Opens `/dev/kvm` and probes its flavour.
    pub fn probe() -> Result<Platform> {
        let kvm = Kvm::new().map_err(Error::Kvm)?;
        if !kvm.check_extension(Cap::SyncRegs) {
            return Err(Error::Kvm(kvm_ioctls::Error::new(libc::ENOTSUP)));
        }
        Ok(Platform {
            kvm,
            flavour: Flavour::probe(),
        })
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// Creates a VM with `mem_size` bytes of (sparse) guest memory.
    pub fn create_machine(&self, mem_size: u64) -> Result<Arc<Machine>> {
        let mem_size = mem_size.min(arch::MMIO_GPA);
        let vm = self.kvm.create_vm().map_err(Error::Kvm)?;
        if matches!(self.flavour, Flavour::Vmx) {
            // VMX needs a TSS region outside guest memory for its real-mode
            // emulation; we never enter real mode but KVM still asks.
            vm.set_tss_address(0xfffb_d000).map_err(Error::Kvm)?;
        }
        let mem = Arc::new(MemoryFile::new(mem_size)?);
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: mem.size(),
            userspace_addr: mem.host_base() as u64,
        };
        // SAFETY: the region is the memory file's mapping, which lives as
        // long as the `Machine` (it holds the `Arc`), and does not overlap
        // another slot.
        unsafe { vm.set_user_memory_region(region) }.map_err(Error::Kvm)?;
        let cpuid = self
            .kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::Kvm)?;
        let supervisor = Supervisor::build(&mem)?;
        Ok(Arc::new(Machine {
            vm,
            mem,
            cpuid,
            flavour: self.flavour,
            supervisor,
            vcpu_slots: Mutex::new(Vec::new()),
            next_vcpu_id: AtomicU64::new(0),
            trees: Arc::new(TreePool::default()),
        }))
    }
}

/// The frames of the supervisor region shared by all address spaces.
pub(crate) struct Supervisor {
    /// The page table mapping the 2 MiB supervisor region.
    pub pt: Frame,
    #[allow(dead_code)]
    pub stubs: Frame,
    #[allow(dead_code)]
    pub idt: Frame,
}

impl Supervisor {
    fn build(mem: &MemoryFile) -> Result<Supervisor> {
        let pt = mem.alloc()?;
        let stubs = mem.alloc()?;
        let idt = mem.alloc()?;
        mem.write(stubs, &crate::vcpu::stub_page())?;
        mem.write(idt, &crate::vcpu::idt_page())?;
        let slot = |va: u64| pt + ((va >> 12) & 0x1ff) * 8;
        // Stubs: user-readable and executable (kvm_pvm runs the syscall stub
        // in ring 3), never writable.
        mem.write_u64(slot(arch::STUBS_VA), stubs | pte::PRESENT | pte::USER);
        // The MMIO page: outside every memory slot, so stores exit.
        mem.write_u64(
            slot(arch::MMIO_VA),
            arch::MMIO_GPA | pte::PRESENT | pte::WRITE | pte::USER | pte::NX,
        );
        mem.write_u64(slot(arch::IDT_VA), idt | pte::PRESENT | pte::NX);
        Ok(Supervisor { pt, stubs, idt })
    }
}

/// One VM: its memory file, the supervisor region and the vCPUs' slots.
pub struct Machine {
    pub(crate) vm: VmFd,
    pub(crate) mem: Arc<MemoryFile>,
    pub(crate) cpuid: CpuId,
    pub(crate) flavour: Flavour,
    pub(crate) supervisor: Supervisor,
    /// Free per-vCPU supervisor slots (index into the vCPU area).
    vcpu_slots: Mutex<Vec<u64>>,
    next_vcpu_id: AtomicU64,
    /// Page-table trees of torn-down address spaces, for reuse.
    trees: Arc<TreePool>,
}

impl Machine {
    pub fn memory(&self) -> &Arc<MemoryFile> {
        &self.mem
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// The guest's CPUID leaf `function`, sub-leaf `index` (ignored for a
    /// leaf without sub-leaves), as its vCPUs are given it: [eax, ebx,
    /// ecx, edx]. None for a leaf the guest does not have.
    pub fn cpuid(&self, function: u32, index: u32) -> Option<[u32; 4]> {
        const KVM_CPUID_FLAG_SIGNIFCANT_INDEX: u32 = 1;
        self.cpuid
            .as_slice()
            .iter()
            .find(|e| {
                e.function == function
                    && (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX == 0 || e.index == index)
            })
            .map(|e| [e.eax, e.ebx, e.ecx, e.edx])
    }

    /// Whether the guest's `rdtsc` reads the host's TSC unchanged, so that
    /// clocks the host refers to its TSC hold in the guest. On kvm_pvm the
    /// guest's ring 3 is host user mode and `rdtsc` runs natively
    /// (`tests/trap.rs` checks it); hardware KVM applies the VM's TSC
    /// offset, which this platform does not zero yet.
    pub fn guest_tsc_is_host_tsc(&self) -> bool {
        self.flavour == Flavour::Pvm
    }

    /// A new, empty user address space.
    pub fn new_address_space(&self) -> Result<AddressSpace> {
        AddressSpace::new(
            Arc::clone(&self.mem),
            self.supervisor.pt,
            Arc::clone(&self.trees),
        )
    }

    /// How many frames the page-table trees of torn-down address spaces
    /// hold, kept for the next address spaces (see `address_space`).
    pub fn pooled_table_frames(&self) -> usize {
        self.trees.table_frames()
    }

    /// A new vCPU, with its own GDT, TSS and ring-0 stack.
    pub fn new_vcpu(self: &Arc<Self>) -> Result<Vcpu> {
        let id = self.next_vcpu_id.fetch_add(1, Ordering::Relaxed);
        let slot = {
            let mut free = self.vcpu_slots.lock().unwrap_or_else(|e| e.into_inner());
            match free.pop() {
                Some(s) => s,
                None if id < arch::MAX_VCPUS => id,
                None => return Err(Error::OutOfMemory),
            }
        };
        // The area's pages (see `arch::vcpu_page`). `frames[i]` backs page i;
        // the MMIO alias has no frame.
        use arch::vcpu_page as vp;
        let mut frames = Vec::new();
        for i in 0..arch::VCPU_AREA_PAGES {
            let va = arch::VCPU_AREA_VA + (slot * arch::VCPU_AREA_PAGES + i) * PAGE_SIZE;
            let e = match i {
                vp::MMIO => arch::MMIO_GPA | pte::PRESENT | pte::WRITE | pte::USER | pte::NX,
                _ => {
                    let f = self.mem.alloc()?;
                    frames.push(f);
                    match i {
                        vp::MAILBOX => f | pte::PRESENT | pte::WRITE | pte::USER | pte::NX,
                        vp::STUB => {
                            self.mem.write(f, &crate::exitless::stub_image().0)?;
                            f | pte::PRESENT | pte::USER
                        }
                        _ => f | pte::PRESENT | pte::WRITE | pte::NX,
                    }
                }
            };
            self.mem
                .write_u64(self.supervisor.pt + ((va >> 12) & 0x1ff) * 8, e);
        }
        Vcpu::new(Arc::clone(self), id, slot, frames)
    }

    /// Returns a vCPU's supervisor slot when it is dropped.
    pub(crate) fn release_vcpu_slot(&self, slot: u64, frames: &[Frame]) {
        for i in 0..arch::VCPU_AREA_PAGES {
            let va = arch::VCPU_AREA_VA + (slot * arch::VCPU_AREA_PAGES + i) * PAGE_SIZE;
            self.mem
                .write_u64(self.supervisor.pt + ((va >> 12) & 0x1ff) * 8, 0);
        }
        for f in frames {
            self.mem.zap(*f, PAGE_SIZE);
            self.mem.put(*f);
        }
        self.vcpu_slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot);
    }
}
