//! The `ringd` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::shard::Backend;

/// `--ntp-wake-interval`'s default: see docs/benchmarks.md for what it saves.
pub const DEFAULT_NTP_WAKE_INTERVAL_US: u32 = 1000;

/// NTP and FTP at the speed of the hardware.
///
/// With neither --ntp-conf nor --ftp-conf, runs the built-in demo: NTP on 127.0.0.1:1123
/// serving the system clock at local stratum 10 to 127.0.0.0/8, and anonymous read-only FTP of
/// the current directory on 127.0.0.1:2121.
#[derive(Debug, Parser)]
#[command(name = "ringd", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Tool>,

    /// A chrony.conf to serve NTP from.
    #[arg(long, value_name = "FILE")]
    pub ntp_conf: Option<PathBuf>,

    /// A vsftpd.conf to serve FTP from.
    #[arg(long, value_name = "FILE")]
    pub ftp_conf: Option<PathBuf>,

    /// Number of shards (threads, one per core); default: the cores this process may use.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub shards: Option<u16>,

    /// Datagram I/O engine. io_uring falls back to mmsg, with a warning, where it cannot run.
    #[arg(long = "io", value_enum, default_value_t = IoChoice::Uring)]
    pub io: IoChoice,

    /// A busy NTP shard takes requests at most once per this many microseconds, all that
    /// arrived meanwhile in one batch, instead of waking for each (0: wake for every request).
    /// Clients cannot see the wait: it lies between the kernel's receive timestamp (T2) and the
    /// transmit timestamp (T3), so it is in neither their offset nor their delay.
    #[arg(long, value_name = "MICROSECONDS", default_value_t = DEFAULT_NTP_WAKE_INTERVAL_US,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub ntp_wake_interval: u32,

    /// Validate the configuration, print the effective settings, and exit (0: valid, 1: not).
    #[arg(long)]
    pub check: bool,

    /// Let the sync engine steer the system clock (adjtimex: slew, `makestep` steps, leap
    /// seconds, `rtcsync`). Without it ringd only observes, like `chronyd -x`, and serves its
    /// estimate of the true time.
    #[arg(long)]
    pub control_clock: bool,

    /// The user an NTP-only ringd runs as once its ports are bound, as chronyd's `-u`
    /// (overrides chrony.conf's `user`). With FTP, the process stays root to serve each
    /// session with its user's rights.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,

    /// Unix socket ringctl talks to [default: `bindcmdaddress` in the chrony.conf, else
    /// /run/ringd/ringd.sock; for the built-in demo $XDG_RUNTIME_DIR/ringd.sock, else
    /// /tmp/ringd-UID.sock]. `/` runs without one, as chrony's `bindcmdaddress /`.
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Give the control socket to this group (name or number): its members may run ringctl's
    /// monitoring reports (tracking, sources, sourcestats, activity, waitsync), as any local
    /// user may with chronyc. Everything else stays for root and ringd's own user.
    #[arg(long, value_name = "GROUP")]
    pub control_group: Option<String>,
    /// Serve Prometheus metrics over HTTP at ADDR:PORT/metrics (docs/metrics.md); none
    /// without it. Port 0 picks a free port, named on the ready line as `metrics=`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Administration commands that do not start the server.
#[derive(Debug, Subcommand)]
pub enum Tool {
    /// Adds a virtual FTP user to FILE, or changes its password (asked without echo; read from
    /// standard input when it is not a terminal).
    FtpPasswd {
        /// The users file (`virtual_users_file=` in vsftpd.conf).
        file: PathBuf,
        /// The user name.
        name: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IoChoice {
    Uring,
    Mmsg,
}

impl From<IoChoice> for Backend {
    fn from(choice: IoChoice) -> Backend {
        match choice {
            IoChoice::Uring => Backend::Uring,
            IoChoice::Mmsg => Backend::Mmsg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_interface() {
        let cli = Cli::try_parse_from([
            "ringd",
            "--ntp-conf",
            "/etc/chrony.conf",
            "--shards",
            "2",
            "--io",
            "mmsg",
            "--check",
            "--control-socket",
            "/run/ringd.sock",
        ])
        .unwrap();
        assert_eq!(cli.ntp_conf, Some(PathBuf::from("/etc/chrony.conf")));
        assert_eq!(cli.shards, Some(2));
        assert_eq!(cli.io, IoChoice::Mmsg);
        assert!(cli.check);
        assert_eq!(cli.control_socket, Some(PathBuf::from("/run/ringd.sock")));
        let demo = Cli::try_parse_from(["ringd"]).unwrap();
        assert_eq!(demo.io, IoChoice::Uring);
        assert!(demo.ntp_conf.is_none() && demo.ftp_conf.is_none() && !demo.check);
        assert!(demo.control_socket.is_none());
        assert!(Cli::try_parse_from(["ringd", "--shards", "0"]).is_err());
        assert!(Cli::try_parse_from(["ringd", "--io", "epoll"]).is_err());
        let tool =
            Cli::try_parse_from(["ringd", "ftp-passwd", "/etc/ringd/users", "alice"]).unwrap();
        match tool.command {
            Some(Tool::FtpPasswd { file, name }) => {
                assert_eq!(file, PathBuf::from("/etc/ringd/users"));
                assert_eq!(name, "alice");
            }
            None => panic!("ftp-passwd parsed"),
        }
    }
}
