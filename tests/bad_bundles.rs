//! Broken bundles: `sandbox boot` must exit 125 with exactly one line on
//! stderr starting `sandbox: error:`, and never panic or run anything.

mod common;

use std::os::unix::fs::symlink;

use common::{Bundle, Output, guest, require_prerequisites};

fn assert_runtime_error(bundle: &Bundle, what: &str) -> Output {
    let out = bundle.run_sandbox(None);
    let stderr = out.stderr_lossy();
    let context = format!(
        "{what}: status {}, stdout {:?}, stderr {:?}",
        out.status,
        out.stdout_lossy(),
        stderr
    );
    assert!(
        !stderr.contains("panicked"),
        "the sandbox panicked: {context}"
    );
    assert_eq!(out.status, 125, "want exit status 125: {context}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want exactly one stderr line: {context}");
    assert!(
        lines[0].starts_with("sandbox: error:"),
        "the line must start with `sandbox: error:`: {context}"
    );
    assert!(out.stdout.is_empty(), "nothing may run: {context}");
    out
}

/// A bundle whose rootfs holds /hello (a static program that would print
/// and exit 0 if it ran), so that only the broken part can fail.
fn bundle_with_hello(name: &str) -> Bundle {
    require_prerequisites();
    let b = Bundle::new(name);
    b.install(&guest("hello", common::Libc::Glibc), "/hello");
    b
}

#[test]
fn missing_config_json() {
    let b = bundle_with_hello("no-config");
    assert_runtime_error(&b, "no config.json");
}

#[test]
fn invalid_json() {
    let b = bundle_with_hello("bad-json");
    b.write_raw_config("{\"ociVersion\": \"1.0.2\", \"process\": {");
    assert_runtime_error(&b, "invalid JSON");
}

#[test]
fn missing_bundle_dir() {
    let b = bundle_with_hello("gone");
    let mut cmd = std::process::Command::new(common::SANDBOX);
    cmd.args(["boot", "--bundle"])
        .arg(b.path().join("does-not-exist"));
    let out = common::run_with_timeout(&mut cmd, None, common::TIMEOUT);
    let stderr = out.stderr_lossy();
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    assert_eq!(out.status, 125, "stderr: {stderr}");
    assert!(stderr.starts_with("sandbox: error:"), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
}

#[test]
fn missing_executable() {
    let b = bundle_with_hello("missing-exe");
    b.write_config(&["/no/such/program"]);
    assert_runtime_error(&b, "missing executable");
}

#[test]
fn non_elf_executable() {
    let b = bundle_with_hello("non-elf");
    b.write_file("/notelf", b"this is a text file, not an ELF\n", 0o755);
    b.write_config(&["/notelf"]);
    assert_runtime_error(&b, "non-ELF executable");
}

/// The host path of a static program outside the rootfs: if any escape
/// worked, the sandbox would run it and exit 0 with output.
fn outside_target() -> String {
    let p = guest("hello", common::Libc::Glibc);
    let p = std::fs::canonicalize(&p).expect("canonicalize guest path");
    p.to_str().expect("utf-8 path").to_string()
}

#[test]
fn dotdot_escape_in_args() {
    let b = bundle_with_hello("dotdot");
    let target = outside_target();
    let escaping = format!("/../../../../../../../../..{target}");
    b.write_config(&[&escaping]);
    assert_runtime_error(&b, "`..` above the rootfs in process.args[0]");
}

#[test]
fn absolute_symlink_escape() {
    let b = bundle_with_hello("abs-symlink");
    let target = outside_target();
    symlink(&target, b.host_path("/escape")).expect("symlink");
    b.write_config(&["/escape"]);
    assert_runtime_error(&b, "absolute symlink to a host file");
}

#[test]
fn relative_symlink_escape() {
    let b = bundle_with_hello("rel-symlink");
    let target = outside_target();
    let rel = format!("../../../../../../../../../../..{target}");
    std::fs::create_dir_all(b.host_path("/dir")).expect("mkdir");
    symlink(&rel, b.host_path("/dir/escape")).expect("symlink");
    b.write_config(&["/dir/escape"]);
    assert_runtime_error(&b, "relative `../..` symlink to a host file");
}

#[test]
fn symlink_to_bin_true() {
    // The classic escape: an absolute symlink to the host's /bin/true.
    let b = bundle_with_hello("abs-bin-true");
    symlink("/bin/true", b.host_path("/true")).expect("symlink");
    b.write_config(&["/true"]);
    assert_runtime_error(&b, "absolute symlink to /bin/true");
}

#[test]
fn relative_symlink_to_bin_true() {
    let b = bundle_with_hello("rel-bin-true");
    symlink("../../../../../../../../bin/true", b.host_path("/true")).expect("symlink");
    b.write_config(&["/true"]);
    assert_runtime_error(&b, "relative symlink to ../../bin/true");
}

#[test]
fn the_good_bundle_runs() {
    // Control: the same bundle shape with a valid config runs hello, so
    // the failures above come from the broken part alone.
    let b = bundle_with_hello("control");
    b.write_config(&["/hello"]);
    let native = b.run_native(&["/hello"], None);
    let out = b.run_sandbox(None);
    assert_eq!(
        (out.status, &out.stdout),
        (native.status, &native.stdout),
        "stderr: {}",
        out.stderr_lossy()
    );
}

#[test]
fn symlinks_and_dotdot_resolve_inside_the_rootfs() {
    // The escapes above fail because the rootfs has nothing under those
    // names; the same shapes pointing inside it run, as in the container.
    let b = bundle_with_hello("inside");
    symlink("/hello", b.host_path("/abs-hello")).expect("symlink");
    std::fs::create_dir_all(b.host_path("/dir")).expect("mkdir");
    symlink("../../../../hello", b.host_path("/dir/up-hello")).expect("symlink");
    let native = b.run_native(&["/hello"], None);
    for arg0 in ["/abs-hello", "/dir/up-hello", "/../../hello"] {
        b.write_config(&[arg0]);
        let out = b.run_sandbox(None);
        assert_eq!(
            (out.status, &out.stdout),
            (native.status, &native.stdout),
            "{arg0}: stderr: {}",
            out.stderr_lossy()
        );
    }
}
