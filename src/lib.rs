//! ringd: NTP and FTP servers on thread-per-core io_uring shards.
#![deny(unsafe_code)]

pub mod calendar;
pub mod cli;
pub mod config;
pub mod confinement;
pub mod control;
pub mod ftp;
pub mod metrics;
pub mod ntp;
pub mod output_files;
pub mod privileges;
pub mod shard;
pub mod sync;
pub mod sys;
#[cfg(test)]
mod test_dirs;
