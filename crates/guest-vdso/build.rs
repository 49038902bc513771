//! Builds the guest vDSO image (`$OUT_DIR/vdso.img`) that `src/lib.rs`
//! embeds.
//!
//! Two steps, because neither tool can do both:
//! - `rustc` compiles `vdso/vdso.rs` to one PIC object (`--emit obj`, crate
//!   type `cdylib` so that only the `#[no_mangle]` functions stay global and
//!   everything else is inlined or dropped). Letting rustc link the cdylib
//!   instead would make it pass its own version script, which drops the
//!   `LINUX_2.6` symbol versions glibc and musl look the functions up by.
//! - `cc` links that object with our linker script (`vdso.lds`: one R+X
//!   segment at address 0) and version script (`vdso.map`), with no C
//!   library and `--no-undefined`, so any call the compiler emits into
//!   `core` or `compiler_builtins` fails the build instead of the guest.
//!
//! The result is padded to whole pages. Only the rustc that Cargo runs and
//! the system C compiler driver are used; nothing is downloaded. The flags
//! are fixed (the host's RUSTFLAGS do not apply: the image runs on the
//! guest's baseline x86-64 CPU, not the build machine's), and paths are
//! remapped, so the same toolchain gives the same bytes.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGE_SIZE: usize = 4096;

fn main() {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env_var("OUT_DIR"));
    let source = manifest_dir.join("vdso/vdso.rs");
    let linker_script = manifest_dir.join("vdso/vdso.lds");
    let version_script = manifest_dir.join("vdso/vdso.map");
    for input in [
        &source,
        &linker_script,
        &version_script,
        &manifest_dir.join("src/params.rs"),
    ] {
        println!("cargo::rerun-if-changed={}", input.display());
    }
    println!("cargo::rerun-if-env-changed=CC");

    let object = out_dir.join("vdso.o");
    let shared_object = out_dir.join("vdso.so");
    let image = out_dir.join("vdso.img");

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut remap = OsString::from("--remap-path-prefix=");
    remap.push(manifest_dir.as_os_str());
    remap.push("=guest-vdso");
    let mut emit = OsString::from("--emit=obj=");
    emit.push(object.as_os_str());
    let mut compile = Command::new(rustc);
    compile
        .current_dir(&out_dir)
        .args([
            "--edition=2024",
            "--crate-type=cdylib",
            "--crate-name=guest_vdso_image",
            "--target=x86_64-unknown-linux-gnu",
            "-Copt-level=2",
            "-Cpanic=abort",
            "-Crelocation-model=pic",
            "-Ccodegen-units=1",
            "-Cdebuginfo=0",
            "-Cdebug-assertions=off",
            "-Coverflow-checks=off",
            "-Ctarget-cpu=x86-64",
            "-Cforce-unwind-tables=yes",
            "-Cmetadata=guest-vdso",
            "-Dwarnings",
        ])
        .arg(remap)
        .arg(emit)
        .arg(&source);
    run(&mut compile);

    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let mut link = Command::new(cc);
    link.current_dir(&out_dir)
        .args([
            "-shared",
            "-nostdlib",
            "-Wl,--hash-style=both",
            "-Wl,-soname,linux-vdso.so.1",
            "-Wl,-z,max-page-size=4096",
            "-Wl,-z,common-page-size=4096",
            "-Wl,-z,noexecstack",
            "-Wl,-z,text",
            "-Wl,-z,defs",
            "-Wl,--no-undefined",
            "-Wl,-Bsymbolic",
            "-Wl,--gc-sections",
            "-Wl,--eh-frame-hdr",
            "-Wl,--build-id=sha1",
        ])
        .arg(flag_with_path("-Wl,-T,", &linker_script))
        .arg(flag_with_path("-Wl,--version-script=", &version_script))
        .arg("-o")
        .arg(&shared_object)
        .arg(&object);
    run(&mut link);

    let mut bytes = fs::read(&shared_object)
        .unwrap_or_else(|e| panic!("reading {}: {e}", shared_object.display()));
    assert!(
        bytes.starts_with(b"\x7fELF"),
        "{} is not an ELF file",
        shared_object.display()
    );
    bytes.resize(bytes.len().next_multiple_of(PAGE_SIZE), 0);
    fs::write(&image, &bytes).unwrap_or_else(|e| panic!("writing {}: {e}", image.display()));
}

fn env_var(name: &str) -> OsString {
    env::var_os(name).unwrap_or_else(|| panic!("cargo did not set {name}"))
}

fn flag_with_path(flag: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(flag);
    arg.push(path.as_os_str());
    arg
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
}
