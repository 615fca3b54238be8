//! ringload's command line: one subcommand per kind of load, each with its own arguments.

use clap::{Parser, Subcommand};

use crate::compare::cli::CompareArgs;
use crate::ftp::cli::{FtpArgs, FtpLimitsArgs};
use crate::merge::MergeArgs;
use crate::ntp::cli::NtpArgs;
use crate::nts_ke::cli::NtsKeArgs;
use crate::report_cmd::ReportArgs;

#[derive(Parser)]
#[command(
    name = "ringload",
    version,
    about = "Load generator for NTP and FTP servers",
    after_help = "Exit status: 0 the run measured and kept within every threshold given, \
                  1 a threshold was broken (compare: a figure regressed), \
                  2 the run could not measure (nothing answered, the generator fell behind, \
                  a wrong argument; compare: reports of different kinds)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Open-loop NTP load: paced client requests, every reply validated and timed.
    Ntp(NtpArgs),
    /// NTS-KE load: concurrent clients making full handshakes (TLS 1.3, ntske/1), each answer
    /// checked; handshakes/s, failures by class and latencies.
    NtsKe(NtsKeArgs),
    /// FTP load: concurrent sessions (login, retr, stor, mixed, idle), latencies and errors.
    Ftp(FtpArgs),
    /// Checks that an FTP server enforces max_clients and max_per_ip with vsftpd's 421 replies.
    ///
    /// Plain FTP only: the refusals come before AUTH TLS, so they hold for FTPS servers too,
    /// except implicit_ssl ones (their greetings and refusals are inside TLS).
    FtpLimits(FtpLimitsArgs),
    /// Compares two `--json` reports of the same subcommand and mode, figure by figure:
    /// exits 1 when one regressed past the tolerance, 2 when they cannot be compared.
    Compare(CompareArgs),
    /// Merges the `--json` documents of fixed-rate NTP runs made together (several machines,
    /// `--start-at`) into one: counts and rates summed, percentiles from the summed histograms.
    Merge(MergeArgs),
    /// Draws several `--json` runs of one kind on one HTML page: shared axes, one colour and
    /// legend name per run (`ringload report OUT.html A.json B.json --label a --label b`).
    Report(ReportArgs),
}
