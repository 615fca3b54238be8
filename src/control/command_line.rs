//! ringctl's command line: the commands it sends ringd, named as chronyc names them.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::protocol::Request;

/// Query a running ringd: time sync status, NTP server counters, clients, FTP sessions.
///
/// Prints chronyc's layouts, or the reply's data as JSON with --json. Exits 1 when ringd
/// cannot be reached or refuses the command.
#[derive(Debug, Parser)]
#[command(name = "ringctl", version)]
pub struct Args {
    /// ringd's control socket [default: /run/ringd/ringd.sock, or the built-in demo's
    /// $XDG_RUNTIME_DIR/ringd.sock (/tmp/ringd-UID.sock) when only that one exists]
    #[arg(short = 's', long = "socket", value_name = "PATH", global = true)]
    pub socket: Option<PathBuf>,

    /// Print the reply's data as JSON instead of chronyc's text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print reports as chronyc -c does: comma-separated values in chronyc's field order.
    #[arg(short = 'c', long = "csv", global = true, conflicts_with = "json")]
    pub csv: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The system clock against the time sources: reference, offset, frequency.
    Tracking,
    /// The time sources and their last samples.
    Sources {
        /// Explain the columns.
        #[arg(short = 'v')]
        verbose: bool,
    },
    /// Each source's sample statistics: frequency, skew, offset estimate.
    Sourcestats {
        /// Explain the columns.
        #[arg(short = 'v')]
        verbose: bool,
    },
    /// Each source's last reply as received: header, offset, delay, tests, packet counts.
    Ntpdata {
        /// Only the source at this address.
        address: Option<IpAddr>,
    },
    /// How each source is authenticated: symmetric key or NTS, keys, cookies.
    Authdata {
        /// Explain the columns.
        #[arg(short = 'v')]
        verbose: bool,
    },
    /// How many sources are online, offline, or without an address yet.
    Activity,
    /// The NTP server's packet counters.
    Serverstats,
    /// NTP clients in the rate limiter's log (needs `ratelimit` in chrony.conf).
    Clients,
    /// Step the system clock to the sources' time now.
    Makestep,
    /// Wait until ringd is synchronised, as chrony-wait.service runs chronyc waitsync: exits
    /// 0 once it is, 1 when the tries run out.
    Waitsync {
        /// Tries before giving up; 0 tries for ever.
        max_tries: Option<u32>,
        /// Largest remaining correction accepted, in seconds; 0 accepts any.
        max_correction: Option<f64>,
        /// Largest skew accepted, in ppm; 0 accepts any.
        max_skew: Option<f64>,
        /// Seconds between tries [default: 10; at least 0.1].
        interval: Option<f64>,
    },
    /// Read chrony.conf and vsftpd.conf again, as SIGHUP does (`reload sources` is the same).
    Reload {
        /// chronyc's `reload sources`: accepted, everything is reloaded.
        #[arg(value_parser = ["sources"])]
        what: Option<String>,
    },
    /// Reopen the log files by name, after logrotate moved them.
    Cyclelogs,
    /// The FTP server.
    Ftp {
        #[command(subcommand)]
        command: FtpCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum FtpCommand {
    /// The open sessions: client, user, what each is doing, for how long.
    Sessions,
}

impl From<&Command> for Request {
    fn from(command: &Command) -> Request {
        match command {
            Command::Tracking => Request::Tracking,
            Command::Sources { verbose } => Request::Sources { verbose: *verbose },
            Command::Sourcestats { verbose } => Request::SourceStats { verbose: *verbose },
            Command::Ntpdata { address } => Request::NtpData { address: *address },
            Command::Authdata { verbose } => Request::AuthData { verbose: *verbose },
            Command::Activity => Request::Activity,
            Command::Serverstats => Request::ServerStats,
            Command::Clients => Request::Clients,
            Command::Makestep => Request::MakeStep,
            // Each try asks for the tracking report.
            Command::Waitsync { .. } => Request::Tracking,
            Command::Reload { .. } => Request::Reload,
            Command::Cyclelogs => Request::CycleLogs,
            Command::Ftp {
                command: FtpCommand::Sessions,
            } => Request::FtpSessions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<(Args, Request), clap::Error> {
        let args = Args::try_parse_from(args)?;
        let request = Request::from(&args.command);
        Ok((args, request))
    }

    #[test]
    fn parses_the_documented_interface() {
        let (args, request) =
            parse(&["ringctl", "-s", "/tmp/r.sock", "--json", "sources", "-v"]).unwrap();
        assert_eq!(args.socket, Some(PathBuf::from("/tmp/r.sock")));
        assert!(args.json);
        assert_eq!(request, Request::Sources { verbose: true });
        // Options may follow the command, as with chronyc.
        let (args, request) =
            parse(&["ringctl", "sourcestats", "--json", "--socket", "/x"]).unwrap();
        assert_eq!(args.socket, Some(PathBuf::from("/x")));
        assert!(args.json);
        assert_eq!(request, Request::SourceStats { verbose: false });
        let (args, request) = parse(&["ringctl", "ftp", "sessions"]).unwrap();
        assert_eq!((args.socket, args.json), (None, false));
        assert_eq!(request, Request::FtpSessions);
        for (word, request) in [
            ("tracking", Request::Tracking),
            ("serverstats", Request::ServerStats),
            ("clients", Request::Clients),
            ("makestep", Request::MakeStep),
        ] {
            assert_eq!(parse(&["ringctl", word]).unwrap().1, request);
        }
        assert_eq!(
            parse(&["ringctl", "ntpdata", "::1"]).unwrap().1,
            Request::NtpData {
                address: Some("::1".parse().unwrap())
            }
        );
        assert!(parse(&["ringctl", "ntpdata", "ntp.example.org"]).is_err());
        assert_eq!(
            parse(&["ringctl", "authdata", "-v"]).unwrap().1,
            Request::AuthData { verbose: true }
        );
        assert!(parse(&["ringctl"]).is_err());
        assert!(parse(&["ringctl", "tracking", "-v"]).is_err());
        assert!(parse(&["ringctl", "ftp"]).is_err());
    }
}
