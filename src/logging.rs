//! The `log` backend: one line per record, to stderr or to `--log FILE`,
//! as text or JSON (`--log-format`).
//!
//! Invariants: a record is written with one `write` call (so lines from
//! several threads never interleave), and writing uses only syscalls that
//! the sandbox's seccomp filter allows (`write`, `futex`, `clock_gettime`),
//! so logging keeps working while the guest runs. Failures to write a log
//! line are ignored: logging must never take the runtime down.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot open log file {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a logger is already installed")]
    AlreadySet,
}

enum Sink {
    Stderr,
    File(Mutex<File>),
}

struct Logger {
    sink: Sink,
    format: LogFormat,
    level: LevelFilter,
    /// Which process wrote the line (the sandbox or its gofer).
    pid: u32,
}

/// Formats one record as a full line, newline included.
fn format_line(
    format: LogFormat,
    pid: u32,
    level: Level,
    target: &str,
    msg: &str,
    now: SystemTime,
) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    match format {
        LogFormat::Text => {
            format!(
                "{}.{:06} {:<5} [{}] {}: {}\n",
                since.as_secs(),
                since.subsec_micros(),
                level,
                pid,
                target,
                msg
            )
        }
        LogFormat::Json => {
            let v = serde_json::json!({
                "time": format!("{}.{:06}", since.as_secs(), since.subsec_micros()),
                "level": level.as_str().to_ascii_lowercase(),
                "pid": pid,
                "target": target,
                "msg": msg,
            });
            format!("{v}\n")
        }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(
            self.format,
            self.pid,
            record.level(),
            record.target(),
            &record.args().to_string(),
            SystemTime::now(),
        );
        match &self.sink {
            Sink::Stderr => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::File(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
    }

    fn flush(&self) {}
}

/// The global logging flags, as parsed; handed on to child processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub debug: bool,
    pub file: Option<PathBuf>,
    pub format: LogFormat,
}

impl LogSettings {
    /// The same settings as command-line flags, for a child `sandbox`.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if self.debug {
            args.push("--debug".into());
        }
        if let Some(f) = &self.file {
            args.push("--log".into());
            args.push(f.clone().into_os_string());
        }
        if self.format == LogFormat::Json {
            args.push("--log-format=json".into());
        }
        args
    }

    /// Installs the logger described by these settings.
    pub fn install(&self) -> Result<(), LoggingError> {
        init(self.debug, self.file.as_deref(), self.format)
    }
}

/// Installs the logger: debug level with `debug`, otherwise warnings.
fn init(debug: bool, file: Option<&Path>, format: LogFormat) -> Result<(), LoggingError> {
    let sink = match file {
        None => Sink::Stderr,
        Some(p) => Sink::File(Mutex::new(
            File::options()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|source| LoggingError::Open {
                    path: p.display().to_string(),
                    source,
                })?,
        )),
    };
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Warn
    };
    // The logger lives for the whole process.
    let logger: &'static Logger = Box::leak(Box::new(Logger {
        sink,
        format,
        level,
        pid: std::process::id(),
    }));
    log::set_logger(logger).map_err(|_| LoggingError::AlreadySet)?;
    log::set_max_level(level);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn settings_round_trip_through_args() {
        use clap::Parser;
        let s = LogSettings {
            debug: true,
            file: Some("/tmp/x.log".into()),
            format: LogFormat::Json,
        };
        let mut argv: Vec<OsString> = vec!["sandbox".into()];
        argv.extend(s.to_args());
        argv.extend(["gofer", "--rootfs", "/r", "--fd", "3"].map(OsString::from));
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        assert_eq!(cli.log_settings(), s);
    }

    #[test]
    fn text_and_json_lines() {
        let t = UNIX_EPOCH + Duration::from_micros(1_500_000);
        assert_eq!(
            format_line(LogFormat::Text, 7, Level::Debug, "sandbox", "hi", t),
            "1.500000 DEBUG [7] sandbox: hi\n"
        );
        let j = format_line(
            LogFormat::Json,
            7,
            Level::Warn,
            "sandbox::boot",
            "a \"quoted\"\nline",
            t,
        );
        assert!(j.ends_with('\n'));
        assert_eq!(j.matches('\n').count(), 1, "one line: {j}");
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "a \"quoted\"\nline");
        assert_eq!(v["target"], "sandbox::boot");
        assert_eq!(v["time"], "1.500000");
        assert_eq!(v["pid"], 7);
    }
}
