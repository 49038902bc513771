//! TEMPORARY: stands in for `sentry::run` until the sentry lands it; to be
//! deleted before the final commit. It runs the pre-guest hook (so the
//! seccomp wiring can be exercised) and then fails honestly: it never
//! claims that a container ran.

pub fn run(
    _platform: &vmm::Platform,
    _config: sentry::BootConfig,
    before_guest: &mut dyn FnMut() -> Result<(), String>,
) -> Result<sentry::ExitStatus, sentry::Error> {
    before_guest().map_err(sentry::Error::Setup)?;
    Err(sentry::Error::Setup(
        "sentry::run is not available in this build yet".into(),
    ))
}
