//! FTP load: a blocking FTP client (plain or TLS), the `ftp` scenarios (closed or open loop), `idle` holding and the `ftp-limits` check.

pub mod cli;
pub mod control;
pub mod idle;
pub mod limits;
pub mod load;
pub mod memory;
pub mod open_loop;
pub mod tls;
