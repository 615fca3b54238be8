//! ringd: NTP and FTP servers on thread-per-core io_uring shards.

pub use ntp_wire::calendar;
/// The system calls: the workspace crate that holds every raw call, each with its SAFETY note.
pub use ringd_sys as sys;

pub mod cli;
pub mod config;
pub mod confinement;
pub mod control;
pub mod ftp;
pub mod hosts_access;
pub mod metrics;
pub mod ntp;
pub mod nts_ke_client;
pub mod nts_ke_service;
pub mod output_files;
pub mod privileges;
pub mod service_manager;
pub mod shard;
pub mod sync;
pub mod sync_log_files;
pub mod sync_service;
pub mod syslog;
pub mod wildcard;
#[cfg(test)]
use ringd_sys::test_dirs;
