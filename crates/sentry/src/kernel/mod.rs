//! The kernel proper: tasks and their per-process state (credentials,
//! limits, descriptors, signal dispositions).

pub mod fd_table;
pub mod poller;
pub mod rlimits;
pub mod signal;
pub mod task;

pub use task::Task;
