//! `ringload`: the command line of the load generator.

use std::process::ExitCode;

use clap::Parser;

use ringload::command_line::{Cli, Command};
use ringload::compare::cli::run_compare;
use ringload::ftp::cli::{run_ftp, run_ftp_limits};
use ringload::merge::run_merge;
use ringload::ntp::cli::run_ntp;
use ringload::nts_ke::cli::run_nts_ke;
use ringload::report_cmd::run_report;
use ringload::verdict::EXIT_UNMEASURED;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ntp(args) => run_ntp(args),
        Command::NtsKe(args) => run_nts_ke(args),
        Command::Ftp(args) => run_ftp(args),
        Command::FtpLimits(args) => run_ftp_limits(args),
        Command::Compare(args) => run_compare(args),
        Command::Merge(args) => run_merge(args),
        Command::Report(args) => run_report(args),
    };
    match result {
        Ok(verdict) => {
            for line in verdict.lines() {
                eprintln!("ringload: {line}");
            }
            ExitCode::from(verdict.exit_code())
        }
        Err(error) => {
            eprintln!("ringload: {error:#}");
            ExitCode::from(EXIT_UNMEASURED)
        }
    }
}
