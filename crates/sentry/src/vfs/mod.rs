//! The virtual filesystem: mounts, dentries, path resolution and the
//! files behind descriptors.
//!
//! Host files reach the sentry only through a filesystem server (the
//! gofer), described by `backend::FsBackend`.

pub mod backend;
