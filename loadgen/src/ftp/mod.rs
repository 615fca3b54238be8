//! FTP load: a blocking FTP client (plain or TLS), the `ftp` scenarios, `idle` holding and the `ftp-limits` check.

pub mod cli;
pub mod control;
pub mod idle;
pub mod limits;
pub mod load;
pub mod memory;
pub mod tls;
