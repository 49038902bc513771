//! `devices`: host-side device models (the character devices, tty/pty with
//! its line discipline, the console pass-through, and the network links
//! that feed smoltcp).
//!
//! Empty for now: issue 2 passes stdio straight through the sentry's FD
//! table. The tty and character devices arrive with the filesystem and
//! OCI-runtime issues.
