//! `ringload`: the command line of the load generator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ringload::ftp::cli::{run_ftp, run_ftp_limits, FtpArgs, FtpLimitsArgs};
use ringload::ntp::cli::{run_ntp, NtpArgs};

#[derive(Parser)]
#[command(
    name = "ringload",
    version,
    about = "Load generator for NTP and FTP servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open-loop NTP load: paced client requests, every reply validated and timed.
    Ntp(NtpArgs),
    /// FTP load: concurrent sessions (login, retr, stor, mixed, idle), latencies and errors.
    Ftp(FtpArgs),
    /// Checks that an FTP server enforces max_clients and max_per_ip with vsftpd's 421 replies.
    FtpLimits(FtpLimitsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ntp(args) => run_ntp(args),
        Command::Ftp(args) => run_ftp(args),
        Command::FtpLimits(args) => run_ftp_limits(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringload: {error:#}");
            ExitCode::FAILURE
        }
    }
}
