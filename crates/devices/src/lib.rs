//! `devices`: host-side device models (the character devices, tty/pty with
//! its line discipline, the console pass-through, and the network links
//! that feed smoltcp).
//!
//! Today: the terminal's `termios` and its line discipline (`ldisc`), as
//! pure data the sentry's pseudo-terminals drive.

pub mod ldisc;
pub mod termios;

pub use ldisc::{LineDiscipline, TtySignal};
pub use termios::Termios;
