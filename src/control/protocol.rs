//! The control socket's protocol: one request line in, one JSON reply line out, then close.
//!
//! A request is a command as typed to ringctl (`sources -v`, `ftp sessions`). The reply is
//! `{"status":"ok","data":...,"text":"..."}` with the report as data and in chronyc's layout,
//! or `{"status":"error","error":"..."}`. The daemon renders the text so that ringctl needs
//! no knowledge of the reports and a reply is the same for every client.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Longest request line the daemon reads.
pub const MAX_REQUEST_LINE: usize = 256;

const COMMANDS: &str =
    "tracking, sources [-v], sourcestats [-v], ntpdata [ADDRESS], authdata [-v], activity, serverstats, clients, makestep, reload, cyclelogs, ftp sessions";

/// What ringctl asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Tracking,
    Sources {
        verbose: bool,
    },
    SourceStats {
        verbose: bool,
    },
    /// The last reply of every source, or of the one at `address`.
    NtpData {
        address: Option<IpAddr>,
    },
    /// How each source is authenticated (chronyc's `authdata`).
    AuthData {
        verbose: bool,
    },
    /// How many sources are online, offline, unresolved (chronyc's `activity`).
    Activity,
    ServerStats,
    Clients,
    MakeStep,
    /// Both configuration files read again (SIGHUP); chronyc's `reload sources` too.
    Reload,
    /// The log files reopened by name (chronyc's `cyclelogs`).
    CycleLogs,
    FtpSessions,
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Reply {
    Ok {
        data: serde_json::Value,
        text: String,
        /// chronyc -c's layout, for the reports chronyc prints that way.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        csv: Option<String>,
    },
    Error {
        error: String,
    },
}

/// Reads one request line (without its line end).
pub fn parse_request(line: &str) -> Result<Request, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let verbose = |command: &str, options: &[&str]| match options {
        [] => Ok(false),
        ["-v"] => Ok(true),
        ["-v", extra, ..] => Err(format!("unexpected `{extra}` after {command} -v")),
        [other, ..] => Err(format!(
            "unknown option `{other}` for {command} (it takes only -v)"
        )),
    };
    let (command, rest) = match words.split_first() {
        Some((command, rest)) => (*command, rest),
        None => return Err(format!("empty request; commands: {COMMANDS}")),
    };
    let request = match command {
        "tracking" => Request::Tracking,
        "sources" => {
            return verbose(command, rest).map(|verbose| Request::Sources { verbose });
        }
        "sourcestats" => {
            return verbose(command, rest).map(|verbose| Request::SourceStats { verbose });
        }
        "authdata" => {
            return verbose(command, rest).map(|verbose| Request::AuthData { verbose });
        }
        "ntpdata" => match rest {
            [] => return Ok(Request::NtpData { address: None }),
            [address] => {
                return match address.parse() {
                    Ok(address) => Ok(Request::NtpData {
                        address: Some(address),
                    }),
                    Err(_) => Err(format!(
                        "ntpdata takes a source's IP address, as `sources` lists it; \
                         `{address}` is not one"
                    )),
                };
            }
            [_, extra, ..] => return Err(format!("unexpected `{extra}` after ntpdata ADDRESS")),
        },
        "activity" => Request::Activity,
        "serverstats" => Request::ServerStats,
        "clients" => Request::Clients,
        "makestep" => Request::MakeStep,
        "reload" => match rest {
            [] | ["sources"] => return Ok(Request::Reload),
            [extra, ..] => return Err(format!("unexpected `{extra}` after reload")),
        },
        "cyclelogs" => Request::CycleLogs,
        "ftp" => match rest {
            ["sessions"] => return Ok(Request::FtpSessions),
            _ => return Err("unknown ftp command; ftp commands: sessions".to_string()),
        },
        other => return Err(format!("unknown command `{other}`; commands: {COMMANDS}")),
    };
    match rest.first() {
        Some(extra) => Err(format!("unexpected `{extra}` after {command}")),
        None => Ok(request),
    }
}

/// The request line, as [`parse_request`] reads it.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |verbose: bool| if verbose { " -v" } else { "" };
        match self {
            Request::Tracking => f.write_str("tracking"),
            Request::Sources { verbose } => write!(f, "sources{}", flag(*verbose)),
            Request::SourceStats { verbose } => write!(f, "sourcestats{}", flag(*verbose)),
            Request::NtpData { address: None } => f.write_str("ntpdata"),
            Request::NtpData {
                address: Some(address),
            } => write!(f, "ntpdata {address}"),
            Request::AuthData { verbose } => write!(f, "authdata{}", flag(*verbose)),
            Request::Activity => f.write_str("activity"),
            Request::ServerStats => f.write_str("serverstats"),
            Request::Clients => f.write_str("clients"),
            Request::MakeStep => f.write_str("makestep"),
            Request::Reload => f.write_str("reload"),
            Request::CycleLogs => f.write_str("cyclelogs"),
            Request::FtpSessions => f.write_str("ftp sessions"),
        }
    }
}

impl Reply {
    /// A report as data and as text.
    pub fn report(data: &impl Serialize, text: String) -> Reply {
        match serde_json::to_value(data) {
            Ok(data) => Reply::Ok {
                data,
                text,
                csv: None,
            },
            Err(err) => Reply::error(format!("cannot encode the report: {err}")),
        }
    }

    /// The same reply with chronyc -c's layout of its report.
    pub fn with_csv(self, layout: String) -> Reply {
        match self {
            Reply::Ok { data, text, .. } => Reply::Ok {
                data,
                text,
                csv: Some(layout),
            },
            error => error,
        }
    }

    pub fn error(message: impl Into<String>) -> Reply {
        Reply::Error {
            error: message.into(),
        }
    }

    /// The reply line, newline included.
    pub fn encode(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|err| {
            format!(r#"{{"status":"error","error":"cannot encode the reply: {err}"}}"#)
        });
        line.push('\n');
        line
    }

    pub fn decode(line: &str) -> Result<Reply, String> {
        serde_json::from_str(line).map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Request; 16] = [
        Request::NtpData { address: None },
        Request::AuthData { verbose: false },
        Request::AuthData { verbose: true },
        Request::NtpData {
            address: Some(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
        },
        Request::Activity,
        Request::Tracking,
        Request::Sources { verbose: false },
        Request::Sources { verbose: true },
        Request::SourceStats { verbose: false },
        Request::SourceStats { verbose: true },
        Request::ServerStats,
        Request::Clients,
        Request::MakeStep,
        Request::Reload,
        Request::CycleLogs,
        Request::FtpSessions,
    ];

    #[test]
    fn every_request_reads_back_from_its_line() {
        for request in ALL {
            assert_eq!(parse_request(&request.to_string()), Ok(request));
        }
        assert_eq!(
            parse_request("  sources \t -v \r"),
            Ok(Request::Sources { verbose: true })
        );
        assert_eq!(parse_request("ftp sessions"), Ok(Request::FtpSessions));
        assert_eq!(parse_request("reload sources"), Ok(Request::Reload));
    }

    #[test]
    fn bad_requests_say_what_is_accepted() {
        assert_eq!(
            parse_request(""),
            Err(format!("empty request; commands: {COMMANDS}"))
        );
        assert_eq!(
            parse_request("trackin"),
            Err(format!("unknown command `trackin`; commands: {COMMANDS}"))
        );
        assert_eq!(
            parse_request("tracking -v"),
            Err("unexpected `-v` after tracking".to_string())
        );
        assert_eq!(
            parse_request("sources -a"),
            Err("unknown option `-a` for sources (it takes only -v)".to_string())
        );
        assert_eq!(
            parse_request("sourcestats -v -v"),
            Err("unexpected `-v` after sourcestats -v".to_string())
        );
        assert_eq!(
            parse_request("ntpdata ntp.example.org"),
            Err(
                "ntpdata takes a source's IP address, as `sources` lists it; \
                 `ntp.example.org` is not one"
                    .to_string()
            )
        );
        assert_eq!(
            parse_request("ntpdata 192.0.2.1 -v"),
            Err("unexpected `-v` after ntpdata ADDRESS".to_string())
        );
        assert_eq!(
            parse_request("reload everything"),
            Err("unexpected `everything` after reload".to_string())
        );
        assert_eq!(
            parse_request("ftp"),
            Err("unknown ftp command; ftp commands: sessions".to_string())
        );
        assert_eq!(
            parse_request("ftp sessions now"),
            Err("unknown ftp command; ftp commands: sessions".to_string())
        );
    }

    #[test]
    fn replies_are_one_json_line_each_way() {
        let ok = Reply::report(&serde_json::json!({"stratum": 0}), "Stratum : 0\n".into());
        let line = ok.encode();
        assert_eq!(
            line,
            "{\"status\":\"ok\",\"data\":{\"stratum\":0},\"text\":\"Stratum : 0\\n\"}\n"
        );
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(Reply::decode(&line), Ok(ok));
        let error = Reply::error("makestep needs --control-clock");
        assert_eq!(
            error.encode(),
            "{\"status\":\"error\",\"error\":\"makestep needs --control-clock\"}\n"
        );
        assert_eq!(Reply::decode(&error.encode()), Ok(error));
        assert!(Reply::decode("{\"status\":\"maybe\"}").is_err());
    }
}
