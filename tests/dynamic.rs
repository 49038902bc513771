//! Dynamically linked programs, run through the rootfs's own dynamic
//! linker: the test builds them with the host's gcc (not static) and
//! copies the host's ld-linux-x86-64.so.2, libc.so.6 and libm.so.6 into
//! the rootfs at the paths `ldd` names, so that the native run (the
//! rootfs copy of the program, on the host's identical libraries) and the
//! sandboxed one load the same files. Stdout and exit status must match.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Bundle, Output, TempDir, assert_no_panic, require_prerequisites};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `src` (under resources/guest) with gcc and `flags` into `dir`.
fn compile(dir: &TempDir, src: &str, name: &str, flags: &[&str]) -> PathBuf {
    let out = dir.path().join(name);
    let status = Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(repo_root().join("resources/guest").join(src))
        .args(flags)
        .status()
        .expect("run gcc");
    assert!(status.success(), "gcc {src} {flags:?} failed");
    out
}

/// The shared objects `ldd` lists for `exe`: (path, as named) pairs, the
/// dynamic linker included, the vDSO left out.
fn ldd(exe: &Path) -> Vec<String> {
    let out = Command::new("ldd").arg(exe).output().expect("run ldd");
    assert!(out.status.success(), "ldd {} failed", exe.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=> ") {
                Some((_, rest)) => rest,
                None => l,
            };
            let path = path.split(" (").next()?.trim();
            path.starts_with('/').then(|| path.to_string())
        })
        .collect()
}

/// Copies into the rootfs every library `exe` needs, plus libm.so.6 (for
/// dlopen) next to libc.so.6, each at the path the host has it at.
fn install_libraries(bundle: &Bundle, exe: &Path) {
    let libs = ldd(exe);
    assert!(
        libs.iter().any(|l| l.contains("ld-linux")),
        "{} has no dynamic linker: {libs:?}",
        exe.display()
    );
    for lib in &libs {
        bundle.install(Path::new(lib), lib);
    }
    let libc = libs
        .iter()
        .find(|l| l.ends_with("/libc.so.6"))
        .expect("linked against libc.so.6");
    let libm = libc.replace("/libc.so.6", "/libm.so.6");
    bundle.install(Path::new(&libm), &libm);
}

/// The PT_INTERP of a dynamic executable (as ldd found it).
fn interpreter(exe: &Path) -> String {
    ldd(exe)
        .into_iter()
        .find(|l| l.contains("ld-linux"))
        .expect("a dynamic linker")
}

/// Runs `args` natively (in the rootfs as working directory) and in the
/// sandbox, and asserts the same stdout and status.
fn compare(bundle: &Bundle, args: &[&str]) -> (Output, Output) {
    bundle.write_config(args);
    let native = bundle.run_native(args, None);
    let sandbox = bundle.run_sandbox(None);
    let context = format!(
        "args {args:?}\n--- native (status {}):\n{}\n--- native stderr:\n{}\n\
         --- sandbox (status {}):\n{}\n--- sandbox stderr:\n{}",
        native.status,
        native.stdout_lossy(),
        native.stderr_lossy(),
        sandbox.status,
        sandbox.stdout_lossy(),
        common::excerpt(&sandbox.stderr),
    );
    assert_no_panic(&sandbox, &context);
    assert_eq!(
        native.status, sandbox.status,
        "exit status differs\n{context}"
    );
    assert_eq!(
        native.stdout_lossy(),
        sandbox.stdout_lossy(),
        "stdout differs\n{context}"
    );
    (native, sandbox)
}

/// A bundle holding the dynamic test program (built with `flags`) at
/// /dynlink, its libraries, and data.txt for it to mmap.
fn dynlink_bundle(name: &str, flags: &[&str]) -> (Bundle, TempDir, PathBuf) {
    require_prerequisites();
    let build = TempDir::new(&format!("dyn-build-{name}"));
    let mut all = vec!["-pthread"];
    all.extend_from_slice(flags);
    let exe = compile(&build, "dynamic/dynlink.c", "dynlink", &all);
    let bundle = Bundle::new(name);
    bundle.install(&exe, "/dynlink");
    install_libraries(&bundle, &exe);
    let data: String = (1..=400)
        .map(|i| format!("line {i} of the data\n"))
        .collect();
    bundle.write_file("/data.txt", data.as_bytes(), 0o644);
    (bundle, build, exe)
}

/// A PIE (gcc's default): ET_DYN with PT_INTERP, loaded at the fixed PIE
/// base with ld.so in the mmap area; dlopen, threads, printf, an mmapped
/// file, the auxiliary vector and a fork + exec of the same image.
#[test]
fn pie_program_runs_through_the_rootfs_dynamic_linker() {
    let (bundle, _build, _) = dynlink_bundle("dyn-pie", &["-pie", "-fPIE"]);
    let (native, _) = compare(&bundle, &["/dynlink"]);
    let out = native.stdout_lossy();
    assert!(out.contains("cos comes from libm.so.6"), "{out}");
    assert!(out.contains("child exited 7"), "{out}");
    assert_eq!(native.status, 0);
}

/// A position-dependent executable (ET_EXEC) with an interpreter.
#[test]
fn non_pie_program_runs_through_the_rootfs_dynamic_linker() {
    let (bundle, _build, _) = dynlink_bundle("dyn-nopie", &["-no-pie", "-fno-PIE"]);
    let (native, _) = compare(&bundle, &["/dynlink", "data.txt"]);
    assert_eq!(native.status, 0);
}

/// The dynamic linker run as the program (an ET_DYN without PT_INTERP):
/// it maps the program itself with file-backed mmap.
#[test]
fn dynamic_linker_runs_a_program_named_on_its_command_line() {
    let (bundle, _build, exe) = dynlink_bundle("dyn-ldso", &[]);
    let ld = interpreter(&exe);
    let (native, _) = compare(&bundle, &[&ld, "./dynlink", "data.txt"]);
    assert_eq!(native.status, 0);
}

/// A static PIE: ET_DYN without an interpreter, relocating itself.
#[test]
fn static_pie_runs() {
    require_prerequisites();
    let build = TempDir::new("dyn-build-static-pie");
    let exe = compile(&build, "file_mmap.c", "file_mmap", &["-static-pie"]);
    let bundle = Bundle::new("dyn-static-pie");
    bundle.install(&exe, "/file_mmap");
    let (native, _) = compare(&bundle, &["/file_mmap"]);
    assert_eq!(native.status, 0);
}

/// execve of a dynamic program whose interpreter is missing fails with
/// ENOENT, as on Linux (the shell reports it and exits 127).
#[test]
fn missing_interpreter_is_enoent() {
    require_prerequisites();
    let build = TempDir::new("dyn-build-nointerp");
    let exe = compile(&build, "dynamic/dynlink.c", "dynlink", &["-pthread"]);
    let bundle = Bundle::new("dyn-nointerp");
    bundle.install(&exe, "/dynlink");
    bundle.install(Path::new("/bin/busybox"), "/bin/busybox");
    let sh = "/dynlink; echo \"status $?\"";
    bundle.write_config(&["/bin/busybox", "sh", "-c", sh]);
    let sandbox = bundle.run_sandbox(None);
    assert_no_panic(&sandbox, &sandbox.stderr_lossy());
    assert_eq!(sandbox.status, 0, "{}", sandbox.stderr_lossy());
    assert_eq!(sandbox.stdout_lossy(), "status 127\n");
    assert!(
        sandbox.stderr_lossy().contains("not found")
            || sandbox.stderr_lossy().contains("No such file"),
        "{}",
        sandbox.stderr_lossy()
    );
}

/// execve's errors for a bad interpreter, as Linux gives them: missing
/// (ENOENT), not executable or a directory (EACCES), shorter than an ELF
/// header (EIO), not an ELF file (ELIBBAD). Each program names its interpreter by an absolute path that
/// exists both on the host (for the native run) and, the same path, in
/// the rootfs (for the sandbox), holding the same thing.
#[test]
fn bad_interpreters_fail_execve_as_on_linux() {
    require_prerequisites();
    let build = TempDir::new("dyn-build-badinterp");
    let bundle = Bundle::new("dyn-badinterp");
    let helper = compile(&build, "dynamic/try_exec.c", "try_exec", &["-static"]);
    bundle.install(&helper, "/try_exec");
    let base = build.path().join("interps");
    let twin = |p: &Path| bundle.host_path(p.to_str().unwrap());
    let text = base.join("text.so");
    let short = base.join("short.so");
    let noexec = base.join("noexec.so");
    let dir = base.join("dir.so");
    let good = base.join("good.so");
    let real_ld = interpreter(&compile(&build, "hello.c", "probe", &[]));
    for (place, len) in [
        (text.clone(), 200),
        (twin(&text), 200),
        (short.clone(), 16),
        (twin(&short), 16),
    ] {
        std::fs::create_dir_all(place.parent().unwrap()).unwrap();
        std::fs::write(&place, "not an ELF file\n".repeat(len / 16)).unwrap();
        std::fs::set_permissions(&place, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    for place in [noexec.clone(), twin(&noexec)] {
        std::fs::copy(&real_ld, &place).unwrap();
        std::fs::set_permissions(&place, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
    }
    for place in [dir.clone(), twin(&dir)] {
        std::fs::create_dir_all(&place).unwrap();
    }
    for place in [good.clone(), twin(&good)] {
        std::fs::copy(&real_ld, &place).unwrap();
    }
    let mut args = vec!["/try_exec".to_string()];
    for (name, interp) in [
        ("missing", base.join("missing.so")),
        ("text", text),
        ("short", short),
        ("noexec", noexec),
        ("dir", dir),
        ("good", good),
    ] {
        let flag = format!("-Wl,--dynamic-linker={}", interp.display());
        let exe = compile(&build, "hello.c", name, &[&flag]);
        bundle.install(&exe, name);
        args.push(name.to_string());
    }
    // The good interpreter needs libc where the host has it.
    install_libraries(&bundle, &compile(&build, "hello.c", "probe2", &[]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (native, _) = compare(&bundle, &args);
    let out = native.stdout_lossy();
    for want in [
        "missing: ENOENT",
        "text: ELIBBAD",
        "short: Input/output error",
        "noexec: EACCES",
        "dir: EACCES",
        "good: status 0",
    ] {
        assert!(out.contains(want), "native run lacks {want:?}:\n{out}");
    }
}
