//! Every unsafe block and raw system call of ringd: io_uring, mmsg batches, socket options, CPU affinity, clock reads and (with --control-clock only) clock writes.
//!
//! The rest of the crate is `#![deny(unsafe_code)]`; each unsafe block here carries the reason it is sound.
#![allow(unsafe_code)]

pub mod clock;
pub mod clock_control;
pub mod cpu;
pub mod fs;
pub mod mmsg;
pub mod pipe;
pub mod sockopt;
pub mod uring;
pub mod wire;

pub use wire::Datagram;
