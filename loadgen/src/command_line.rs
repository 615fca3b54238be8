//! ringload's command line: one subcommand per kind of load, each with its own arguments.

use clap::{Parser, Subcommand};

use crate::ftp::cli::{FtpArgs, FtpLimitsArgs};
use crate::ntp::cli::NtpArgs;

#[derive(Parser)]
#[command(
    name = "ringload",
    version,
    about = "Load generator for NTP and FTP servers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Open-loop NTP load: paced client requests, every reply validated and timed.
    Ntp(NtpArgs),
    /// FTP load: concurrent sessions (login, retr, stor, mixed, idle), latencies and errors.
    Ftp(FtpArgs),
    /// Checks that an FTP server enforces max_clients and max_per_ip with vsftpd's 421 replies.
    ///
    /// Plain FTP only: the refusals come before AUTH TLS, so they hold for FTPS servers too,
    /// except implicit_ssl ones (their greetings and refusals are inside TLS).
    FtpLimits(FtpLimitsArgs),
}
