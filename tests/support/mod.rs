//! Helpers shared by the end-to-end tests, one module per concern.

pub mod collection;
pub mod demo;
pub mod git;
pub mod portal;
pub mod registry;
pub mod rpm;
pub mod sshd;
pub mod workspace;
