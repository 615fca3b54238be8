//! Every unsafe block and raw system call of ringd: io_uring, mmsg batches, socket options, CPU affinity, clock reads, (with --control-clock only) clock writes, per-thread credentials and capabilities, PAM and the account database, and the Landlock confinement.
//!
//! The rest of the crate is `#![deny(unsafe_code)]`; each unsafe block here carries the reason it is sound.
#![allow(unsafe_code)]

pub mod accounts;
pub mod clock;
pub mod clock_control;
pub mod cpu;
pub mod credentials;
pub mod fs;
pub mod landlock;
pub mod mmsg;
pub mod pam;
pub mod pipe;
pub mod privileges;
pub mod sockopt;
pub mod terminal;
pub mod uring;
pub mod wire;

pub use wire::Datagram;
