//! Every unsafe block and raw system call of ringd and ringload: io_uring, mmsg batches, socket options, CPU affinity, clock reads, (with --control-clock only) clock writes, file calls, file locks, the socket tables of /proc/net, crypt(3), per-thread credentials and capabilities, PAM and the account database, and the Landlock confinement.
//!
//! Every other crate of the workspace forbids `unsafe`; each unsafe block here carries the reason it is sound.

pub mod accounts;
#[cfg(any(test, feature = "test-support"))]
pub mod allocation_count;
pub mod clock;
pub mod clock_control;
pub mod cpu;
pub mod credentials;
pub mod crypt;
pub mod file_lock;
pub mod fs;
pub mod landlock;
pub mod mmsg;
pub mod pam;
pub mod pipe;
pub mod privileges;
pub mod procnet;
pub mod sockopt;
pub mod terminal;
#[cfg(any(test, feature = "test-support"))]
pub mod test_dirs;
pub mod uring;
pub mod wire;

pub use wire::Datagram;
