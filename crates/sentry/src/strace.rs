//! `--strace`: one line per syscall, `[tid] name(args) = result <time>`,
//! with arguments decoded from the table's format letters. Strings and
//! buffers are read through the memory manager (bounded, never faulting
//! pages in beyond what the access rules allow) before the call runs.

use crate::errno::SysResult;
use crate::kernel::Task;
use crate::syscalls::{Args, SyscallInfo};

/// The most bytes of a string or buffer shown.
const SHOW: usize = 32;

fn escape(bytes: &[u8], more: bool) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if more {
        s.push_str("...");
    }
    s
}

/// `name(args)` for the call about to run.
pub fn format_call(task: &Task, nr: u64, info: Option<&SyscallInfo>, a: &Args) -> String {
    let Some(info) = info.filter(|i| !i.name.is_empty()) else {
        return format!(
            "syscall_{nr}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x})",
            a.0[0], a.0[1], a.0[2], a.0[3], a.0[4], a.0[5]
        );
    };
    let fmt = if info.handler.is_some() {
        info.args
    } else {
        "xxxxxx"
    };
    let mut parts = Vec::new();
    for (i, f) in fmt.bytes().enumerate() {
        let v = a.0[i];
        parts.push(match f {
            b'd' => (v as i64).to_string(),
            b'u' => v.to_string(),
            b'o' => format!("{v:#o}"),
            b'p' if v == 0 => "NULL".to_string(),
            b's' => match task.mm.read_cstring(v, 4096) {
                Ok(s) => escape(&s[..s.len().min(SHOW)], s.len() > SHOW),
                Err(_) => format!("{v:#x}"),
            },
            b'b' => {
                let len = a.0.get(i + 1).copied().unwrap_or(0).min(SHOW as u64) as usize;
                let mut buf = vec![0u8; len];
                match task.mm.copy_in(v, &mut buf) {
                    Ok(()) => escape(&buf, a.0.get(i + 1).copied().unwrap_or(0) > SHOW as u64),
                    Err(_) => format!("{v:#x}"),
                }
            }
            _ => format!("{v:#x}"),
        });
    }
    format!("{}({})", info.name, parts.join(", "))
}

/// The result as strace prints it.
pub fn format_result(r: SysResult) -> String {
    match r {
        Ok(v) if v > 0xffff => format!("{v:#x}"),
        Ok(v) => v.to_string(),
        Err(e) => format!(
            "-1 {} ({})",
            e.name(),
            std::io::Error::from_raw_os_error(e.0)
        ),
    }
}
