//! Session and transfer logs as vsftpd writes them: wu-ftpd xferlog lines and vsftpd.log lines.
//!
//! Formats follow vsftpd 3.0.3's `logging.c` byte for byte:
//!
//! - **xferlog** (`xferlog_enable=YES`, `xferlog_std_format=YES`, or `dual_log_enable=YES`), one
//!   line per finished or failed transfer, nothing else:
//!   `Tue Nov 14 22:13:21 2023 1 127.0.0.1 13 /pub/f b _ o a me@example.com ftp 0 * c`
//! - **vsftpd.log** (`xferlog_enable=YES` with `xferlog_std_format=NO`, or `dual_log_enable=YES`):
//!   every connection, login, transfer and directory change, and with `log_ftp_protocol=YES` every
//!   command and reply:
//!   `Tue Nov 14 22:13:21 2023 [pid 42] [ftp] OK DOWNLOAD: Client "127.0.0.1", "/pub/f", 13 bytes, 0.51Kbyte/sec`
//!
//! Dates: vsftpd stamps both logs with `localtime()` at a UTC offset fixed at start-up, whatever
//! `use_localtime` says (that option only changes listings and MDTM). Callers pass that offset,
//! which is 0 on a UTC machine.
//!
//! Paths: vsftpd logs the FTP argument with the working directory put in front when it is
//! relative ([`vsftpd_log_path`]), unnormalised. vsftpd's working directory comes from getcwd()
//! after chroot(), so anonymous and jailed users are logged with the path inside their root
//! (`/pub/f`), unjailed local users with the real one (`/home/alice/f`). ringd never chroots:
//! the session passes the path as the user sees it, which is the same string.
//!
//! Bytes: vsftpd writes whatever bytes it has, then replaces every byte outside printable ASCII
//! (0x20..=0x7e) with `?` across the whole line, so a UTF-8 name logs as `??` per non-ASCII
//! character and no line can ever hold a newline. The xferlog filename also has its spaces
//! turned into `_`, because xferlog fields are space-separated.

use std::fmt::Display;
use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use crate::calendar::{weekday_date_time, DayPadding};
use crate::ntp::packet::UnixTime;
use crate::syslog::Severity;
use tracing::{debug, info};

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Which way the file went, from the server's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// STOR, STOU, APPE: xferlog `i`, vsftpd.log `UPLOAD`.
    Incoming,
    /// RETR: xferlog `o`, vsftpd.log `DOWNLOAD`.
    Outgoing,
}

/// How the session logged in; decides xferlog's access-mode field and its username field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    /// `ftp`/`anonymous`: access mode `a`, and the username field is the password given (the
    /// e-mail address), as wu-ftpd does.
    Anonymous,
    /// A virtual user mapped to `guest_username` by `guest_enable=YES`: access mode `g`.
    Guest,
    /// Any other user: access mode `r`.
    Real,
}

/// One finished, failed or aborted transfer, as the session knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRecord {
    /// When the transfer command was accepted (vsftpd starts its clock before opening the file).
    pub start: UnixTime,
    /// From `start` until the data connection was closed; the log line is dated `start + duration`.
    pub duration: Duration,
    /// The client's address as the control connection saw it; an IPv4 client of an IPv6
    /// listener is `::ffff:a.b.c.d`, as vsftpd with `listen_ipv6=YES` prints it.
    pub remote_ip: IpAddr,
    /// Bytes that crossed the data connection, also when the transfer failed.
    pub bytes: u64,
    /// The path as the user sees it, made absolute with [`vsftpd_log_path`].
    pub path: Vec<u8>,
    pub direction: Direction,
    /// TYPE A was in effect. vsftpd logs `a` even when it sent the data unconverted
    /// (`ascii_download_enable=NO`), so this is the session's TYPE, not what the data path did.
    pub ascii: bool,
    pub access: AccessMode,
    /// The session's user name as vsftpd keeps it after login: the login name for real and
    /// guest users, `ftp_username` (default `ftp`) for anonymous ones. vsftpd.log's `[user]` tag,
    /// and xferlog's username field for real and guest users.
    pub user: Vec<u8>,
    /// The password an anonymous user gave, raw: xferlog's username field for anonymous users
    /// (an empty one logs as `?`, spaces as `_`). Ignored for other access modes.
    pub anon_password: Vec<u8>,
    /// The transfer ended normally: xferlog `c` and `OK`; aborted or failed: `i` and `FAIL`.
    pub complete: bool,
}

impl TransferRecord {
    /// The moment the transfer ended, which is when vsftpd writes and dates its log lines.
    pub fn end(&self) -> UnixTime {
        let duration = i128::try_from(self.duration.as_nanos()).unwrap_or(i128::MAX);
        let end = self.start.as_nanos().saturating_add(duration);
        UnixTime {
            secs: i64::try_from(end.div_euclid(NANOS_PER_SEC)).unwrap_or(i64::MAX),
            // rem_euclid of a positive divisor is in 0..1e9, which fits.
            nanos: end.rem_euclid(NANOS_PER_SEC) as u32,
        }
    }

    /// xferlog's transfer-time field: vsftpd subtracts the whole seconds of the two clock
    /// readings, so 0.9 s across a second boundary is 1 and 1.5 s may be 1 or 2; a result of 0
    /// is written as 1 because log analysers divide by it.
    fn whole_seconds(&self) -> i64 {
        (self.end().secs - self.start.secs).max(1)
    }

    /// vsftpd.log's rate in KiB/s: seconds and microseconds subtracted separately and added as
    /// doubles, exactly as vsftpd does, so the two decimals round the same way; a zero (or
    /// negative, if the clock stepped) time counts as 0.1 s.
    fn kbyte_rate(&self) -> f64 {
        let end = self.end();
        let delta_secs = end.secs - self.start.secs;
        let delta_micros = i64::from(end.nanos / 1000) - i64::from(self.start.nanos / 1000);
        let mut seconds = delta_secs as f64 + delta_micros as f64 / 1_000_000.0;
        if seconds <= 0.0 {
            seconds = 0.1;
        }
        self.bytes as f64 / seconds / 1024.0
    }
}

/// Why vsftpd turned a connection away before the greeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectRefusal {
    /// `max_clients` reached.
    TooManyClients,
    /// `max_per_ip` reached.
    TooManyPerIp,
    /// `tcp_wrappers=YES` and hosts.allow/hosts.deny said no.
    TcpWrappers,
}

impl ConnectRefusal {
    fn log_text(self) -> &'static str {
        match self {
            Self::TooManyClients => "Connection refused: too many sessions.",
            Self::TooManyPerIp => "Connection refused: too many sessions for this address.",
            Self::TcpWrappers => "Connection refused: tcp_wrappers denial.",
        }
    }
}

/// Everything vsftpd writes to vsftpd.log. `user` is the session's user name at that moment
/// (empty before USER, the name as typed until login succeeds, then as [`TransferRecord::user`]
/// says); an empty one leaves out the `[user]` tag. `ok: false` logs `FAIL`: vsftpd logs a
/// failed MKDIR/RMDIR/DELETE/RENAME/CHMOD too, once the command got as far as naming a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// A new control connection, or one refused by a limit.
    Connect {
        remote_ip: IpAddr,
        refused: Option<ConnectRefusal>,
    },
    /// A PASS (or the faked one of `no_anon_password=YES`). `anon_password` is the password of
    /// an anonymous login; vsftpd shows it only when that login succeeded.
    Login {
        ok: bool,
        remote_ip: IpAddr,
        user: Vec<u8>,
        anon_password: Option<Vec<u8>>,
    },
    Mkdir {
        ok: bool,
        remote_ip: IpAddr,
        user: Vec<u8>,
        path: Vec<u8>,
    },
    Rmdir {
        ok: bool,
        remote_ip: IpAddr,
        user: Vec<u8>,
        path: Vec<u8>,
    },
    Delete {
        ok: bool,
        remote_ip: IpAddr,
        user: Vec<u8>,
        path: Vec<u8>,
    },
    /// RNTO, or a RNFR that already failed (denied or no such file): then `to` is `None`.
    Rename {
        ok: bool,
        remote_ip: IpAddr,
        user: Vec<u8>,
        from: Vec<u8>,
        to: Option<Vec<u8>>,
    },
    /// SITE CHMOD; `mode` as the client typed it (`755`).
    Chmod {
        ok: bool,
        remote_ip: IpAddr,
        user: Vec<u8>,
        path: Vec<u8>,
        mode: Vec<u8>,
    },
    Transfer(TransferRecord),
    /// `log_ftp_protocol=YES`: a command as received, split at its first space. The verb is
    /// logged upper-cased and a PASS argument is never logged.
    FtpCommand {
        remote_ip: IpAddr,
        user: Vec<u8>,
        verb: Vec<u8>,
        argument: Vec<u8>,
    },
    /// `log_ftp_protocol=YES`: one reply line without its CRLF (`230 Login successful.`).
    FtpResponse {
        remote_ip: IpAddr,
        user: Vec<u8>,
        line: Vec<u8>,
    },
    /// `debug_ssl=YES`: a TLS handshake's outcome, vsftpd's `DEBUG` lines.
    Debug {
        remote_ip: IpAddr,
        user: Vec<u8>,
        message: String,
    },
}

impl LogEvent {
    /// Puts what an operator looks for in ringd's own log (`RUST_LOG`): refused connections
    /// and failed logins at info, with the client's address and never a password; logins and
    /// failed transfers at debug.
    pub fn trace(&self) {
        match self {
            Self::Connect {
                remote_ip,
                refused: Some(refusal),
            } => info!(client = %remote_ip, "FTP {}", refusal.log_text()),
            Self::Login {
                ok,
                remote_ip,
                user,
                ..
            } => {
                let user = printable(user.clone());
                if *ok {
                    debug!(client = %remote_ip, "FTP login of user \"{user}\"");
                } else {
                    info!(client = %remote_ip, "FTP login failed for user \"{user}\"");
                }
            }
            Self::Transfer(record) if !record.complete => debug!(
                client = %record.remote_ip,
                "FTP {} of \"{}\" failed after {} bytes",
                self.tag(),
                printable(record.path.clone()),
                record.bytes
            ),
            _ => {}
        }
    }

    /// vsftpd sends failed logins to the system log as warnings, everything else as info.
    pub fn syslog_severity(&self) -> Severity {
        match self {
            Self::Login { ok: false, .. } => Severity::Warning,
            _ => Severity::Info,
        }
    }

    fn remote_ip(&self) -> IpAddr {
        match self {
            Self::Connect { remote_ip, .. }
            | Self::Login { remote_ip, .. }
            | Self::Mkdir { remote_ip, .. }
            | Self::Rmdir { remote_ip, .. }
            | Self::Delete { remote_ip, .. }
            | Self::Rename { remote_ip, .. }
            | Self::Chmod { remote_ip, .. }
            | Self::FtpCommand { remote_ip, .. }
            | Self::FtpResponse { remote_ip, .. }
            | Self::Debug { remote_ip, .. } => *remote_ip,
            Self::Transfer(record) => record.remote_ip,
        }
    }

    fn user(&self) -> &[u8] {
        match self {
            Self::Connect { .. } => b"",
            Self::Login { user, .. }
            | Self::Mkdir { user, .. }
            | Self::Rmdir { user, .. }
            | Self::Delete { user, .. }
            | Self::Rename { user, .. }
            | Self::Chmod { user, .. }
            | Self::FtpCommand { user, .. }
            | Self::FtpResponse { user, .. }
            | Self::Debug { user, .. } => user,
            Self::Transfer(record) => &record.user,
        }
    }

    /// `Some(ok)` for the events vsftpd marks `OK`/`FAIL`; connections and protocol lines are
    /// not marked.
    fn outcome(&self) -> Option<bool> {
        match self {
            Self::Connect { .. }
            | Self::FtpCommand { .. }
            | Self::FtpResponse { .. }
            | Self::Debug { .. } => None,
            Self::Login { ok, .. }
            | Self::Mkdir { ok, .. }
            | Self::Rmdir { ok, .. }
            | Self::Delete { ok, .. }
            | Self::Rename { ok, .. }
            | Self::Chmod { ok, .. } => Some(*ok),
            Self::Transfer(record) => Some(record.complete),
        }
    }

    fn tag(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "CONNECT",
            Self::Login { .. } => "LOGIN",
            Self::Mkdir { .. } => "MKDIR",
            Self::Rmdir { .. } => "RMDIR",
            Self::Delete { .. } => "DELETE",
            Self::Rename { .. } => "RENAME",
            Self::Chmod { .. } => "CHMOD",
            Self::Transfer(record) => match record.direction {
                Direction::Incoming => "UPLOAD",
                Direction::Outgoing => "DOWNLOAD",
            },
            Self::FtpCommand { .. } => "FTP command",
            Self::FtpResponse { .. } => "FTP response",
            Self::Debug { .. } => "DEBUG",
        }
    }

    /// What vsftpd keeps in `log_str` for this event: the quoted part after the client.
    fn detail(&self) -> Vec<u8> {
        match self {
            Self::Connect { refused, .. } => refused
                .map(|refusal| refusal.log_text().as_bytes().to_vec())
                .unwrap_or_default(),
            Self::Login { .. } => Vec::new(),
            Self::Mkdir { path, .. } | Self::Rmdir { path, .. } | Self::Delete { path, .. } => {
                path.clone()
            }
            Self::Rename { from, to, .. } => {
                let mut detail = from.clone();
                if let Some(to) = to {
                    detail.push(b' ');
                    detail.extend_from_slice(to);
                }
                detail
            }
            Self::Chmod { path, mode, .. } => {
                let mut detail = path.clone();
                detail.push(b' ');
                detail.extend_from_slice(mode);
                detail
            }
            Self::Transfer(record) => record.path.clone(),
            Self::FtpCommand { verb, argument, .. } => {
                let mut detail = verb.to_ascii_uppercase();
                if detail == b"PASS" {
                    detail.extend_from_slice(b" <password>");
                } else if !argument.is_empty() {
                    detail.push(b' ');
                    detail.extend_from_slice(argument);
                }
                detail
            }
            Self::FtpResponse { line, .. } => line.clone(),
            Self::Debug { message, .. } => message.as_bytes().to_vec(),
        }
    }
}

/// The path vsftpd logs for an FTP argument: unchanged if absolute, else the working directory,
/// a `/` unless it already ends in one, and the argument. Nothing is normalised: `RETR ../f` in
/// `/pub` logs `/pub/../f`, as vsftpd does.
pub fn vsftpd_log_path(cwd: &[u8], argument: &[u8]) -> Vec<u8> {
    if argument.first() == Some(&b'/') {
        return argument.to_vec();
    }
    let mut path = Vec::with_capacity(cwd.len() + 1 + argument.len());
    path.extend_from_slice(cwd);
    if path.last() != Some(&b'/') {
        path.push(b'/');
    }
    path.extend_from_slice(argument);
    path
}

/// A log date as vsftpd writes it, `strftime("%a %b %e %H:%M:%S %Y")`: `Tue Feb 29 00:00:00 2000`,
/// the day of the month padded with a space (`Thu Jan  1 ...`).
pub fn log_date(time: UnixTime, utc_offset_secs: i32) -> String {
    let local = time.secs.saturating_add(i64::from(utc_offset_secs));
    weekday_date_time(local, DayPadding::Space)
}

/// The wu-ftpd xferlog line vsftpd writes for a transfer (no newline): date, transfer seconds,
/// remote host, bytes, filename, `a`/`b`, `_`, `i`/`o`, `a`/`g`/`r`, username, `ftp 0 *`, `c`/`i`.
pub fn xferlog_line(record: &TransferRecord, utc_offset_secs: i32) -> String {
    let mut line = Vec::with_capacity(96 + record.path.len());
    line.extend_from_slice(log_date(record.end(), utc_offset_secs).as_bytes());
    push_display(&mut line, format_args!(" {} ", record.whole_seconds()));
    push_display(&mut line, record.remote_ip);
    push_display(&mut line, format_args!(" {} ", record.bytes));
    line.extend(
        record
            .path
            .iter()
            .map(|&byte| if byte == b' ' { b'_' } else { byte }),
    );
    line.extend_from_slice(if record.ascii { b" a _ " } else { b" b _ " });
    line.extend_from_slice(match record.direction {
        Direction::Incoming => b"i ",
        Direction::Outgoing => b"o ",
    });
    match record.access {
        AccessMode::Anonymous => {
            line.extend_from_slice(b"a ");
            line.extend_from_slice(&anonymous_identity(&record.anon_password));
        }
        AccessMode::Guest => {
            line.extend_from_slice(b"g ");
            line.extend_from_slice(&record.user);
        }
        AccessMode::Real => {
            line.extend_from_slice(b"r ");
            line.extend_from_slice(&record.user);
        }
    }
    // Service name, authentication method (none), authenticated user id (unknown).
    line.extend_from_slice(b" ftp 0 * ");
    line.push(if record.complete { b'c' } else { b'i' });
    printable(line)
}

/// The vsftpd.log line for a transfer, dated when it ended.
pub fn vsftpd_log_line(record: &TransferRecord, pid: u32, utc_offset_secs: i32) -> String {
    vsftpd_event_line(
        &LogEvent::Transfer(record.clone()),
        pid,
        record.end(),
        utc_offset_secs,
    )
}

/// A vsftpd.log line (no newline): `<date> [pid N] ` then [`vsftpd_event_message`].
pub fn vsftpd_event_line(
    event: &LogEvent,
    pid: u32,
    now: UnixTime,
    utc_offset_secs: i32,
) -> String {
    format!(
        "{} [pid {pid}] {}",
        log_date(now, utc_offset_secs),
        vsftpd_event_message(event)
    )
}

/// The part of a vsftpd.log line after the pid, which is also what vsftpd sends to syslog with
/// `syslog_enable=YES`: `[user] OK DOWNLOAD: Client "ip", "path", N bytes, R.RRKbyte/sec`.
pub fn vsftpd_event_message(event: &LogEvent) -> String {
    let mut message = Vec::with_capacity(96);
    let user = event.user();
    if !user.is_empty() {
        message.push(b'[');
        message.extend_from_slice(user);
        message.extend_from_slice(b"] ");
    }
    match event.outcome() {
        Some(true) => message.extend_from_slice(b"OK "),
        Some(false) => message.extend_from_slice(b"FAIL "),
        None => {}
    }
    message.extend_from_slice(event.tag().as_bytes());
    push_display(
        &mut message,
        format_args!(": Client \"{}\"", event.remote_ip()),
    );
    if let LogEvent::Login {
        ok: true,
        anon_password: Some(password),
        ..
    } = event
    {
        message.extend_from_slice(b", anon password \"");
        message.extend_from_slice(&anonymous_identity(password));
        message.push(b'"');
    }
    let detail = event.detail();
    if !detail.is_empty() {
        message.extend_from_slice(b", \"");
        message.extend_from_slice(&detail);
        message.push(b'"');
    }
    if let LogEvent::Transfer(record) = event {
        // vsftpd leaves out a zero byte count but always gives the rate.
        if record.bytes != 0 {
            push_display(&mut message, format_args!(", {} bytes", record.bytes));
        }
        push_display(
            &mut message,
            format_args!(", {:.2}Kbyte/sec", record.kbyte_rate()),
        );
    }
    printable(message)
}

/// How vsftpd records an anonymous user's password: `?` if none was given, spaces as `_` so the
/// space-separated xferlog stays parseable.
fn anonymous_identity(password: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return b"?".to_vec();
    }
    password
        .iter()
        .map(|&byte| if byte == b' ' { b'_' } else { byte })
        .collect()
}

fn push_display(out: &mut Vec<u8>, value: impl Display) {
    write!(out, "{value}").expect("writing to a Vec cannot fail");
}

/// vsftpd's last step before writing: every byte a terminal could act on, and every non-ASCII
/// byte, becomes `?` (vsftpd runs in the C locale, where only 0x20..=0x7e are printable).
fn printable(line: Vec<u8>) -> String {
    line.into_iter()
        .map(|byte| {
            if (0x20..=0x7e).contains(&byte) {
                char::from(byte)
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn at(secs: i64, nanos: u32) -> UnixTime {
        UnixTime { secs, nanos }
    }

    /// An anonymous download of /pub/f, 13 bytes, 22:13:20.2 to 22:13:21.7 on 2023-11-14.
    fn anonymous_download() -> TransferRecord {
        TransferRecord {
            start: at(1_700_000_000, 200_000_000),
            duration: Duration::from_millis(1500),
            remote_ip: LOCALHOST,
            bytes: 13,
            path: b"/pub/f".to_vec(),
            direction: Direction::Outgoing,
            ascii: false,
            access: AccessMode::Anonymous,
            user: b"ftp".to_vec(),
            anon_password: b"me@example.com".to_vec(),
            complete: true,
        }
    }

    fn real_upload() -> TransferRecord {
        TransferRecord {
            start: at(1_700_000_000, 0),
            duration: Duration::from_secs(2),
            remote_ip: "192.168.1.20".parse().unwrap(),
            bytes: 1_048_576,
            path: b"/home/alice/report.txt".to_vec(),
            direction: Direction::Incoming,
            ascii: true,
            access: AccessMode::Real,
            user: b"alice".to_vec(),
            anon_password: Vec::new(),
            complete: true,
        }
    }

    #[test]
    fn dates_at_known_instants() {
        assert_eq!(log_date(at(0, 0), 0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(log_date(at(951_782_400, 0), 0), "Tue Feb 29 00:00:00 2000");
        assert_eq!(
            log_date(at(1_700_000_000, 999_999_999), 0),
            "Tue Nov 14 22:13:20 2023"
        );
        assert_eq!(
            log_date(at(1_774_224_062, 0), 0),
            "Mon Mar 23 00:01:02 2026"
        );
        // The last second of a leap year, and a date before the epoch.
        assert_eq!(log_date(at(978_307_199, 0), 0), "Sun Dec 31 23:59:59 2000");
        assert_eq!(log_date(at(-1, 0), 0), "Wed Dec 31 23:59:59 1969");
    }

    #[test]
    fn dates_at_a_utc_offset() {
        // Korea, UTC+9: the seed's admins read local time.
        assert_eq!(
            log_date(at(1_700_000_000, 0), 9 * 3600),
            "Wed Nov 15 07:13:20 2023"
        );
        assert_eq!(log_date(at(0, 0), -3600), "Wed Dec 31 23:00:00 1969");
        assert_eq!(
            log_date(at(951_868_799, 0), 5 * 3600 + 1800),
            "Wed Mar  1 05:29:59 2000"
        );
    }

    #[test]
    fn xferlog_anonymous_download() {
        assert_eq!(
            xferlog_line(&anonymous_download(), 0),
            "Tue Nov 14 22:13:21 2023 1 127.0.0.1 13 /pub/f b _ o a me@example.com ftp 0 * c"
        );
    }

    #[test]
    fn xferlog_real_user_upload() {
        assert_eq!(
            xferlog_line(&real_upload(), 0),
            "Tue Nov 14 22:13:22 2023 2 192.168.1.20 1048576 /home/alice/report.txt a _ i r alice \
             ftp 0 * c"
        );
    }

    #[test]
    fn xferlog_matches_the_seed_course() {
        // /var/log/xferlog in the seed: `Mon Apr 14 03:40:45 2014 1 127.0.0.1 2084 /test/file1 b _ o r root ftp 0 * c`.
        let record = TransferRecord {
            start: at(1_397_446_844, 900_000_000),
            duration: Duration::from_millis(150),
            bytes: 2084,
            path: b"/test/file1".to_vec(),
            ascii: false,
            direction: Direction::Outgoing,
            access: AccessMode::Real,
            user: b"root".to_vec(),
            ..real_upload()
        };
        let record = TransferRecord {
            remote_ip: LOCALHOST,
            ..record
        };
        assert_eq!(
            xferlog_line(&record, 0),
            "Mon Apr 14 03:40:45 2014 1 127.0.0.1 2084 /test/file1 b _ o r root ftp 0 * c"
        );
    }

    #[test]
    fn xferlog_guest_and_anonymous_identities() {
        let guest = TransferRecord {
            access: AccessMode::Guest,
            user: b"bob".to_vec(),
            ..anonymous_download()
        };
        assert!(xferlog_line(&guest, 0).ends_with(" o g bob ftp 0 * c"));
        // An anonymous user who gave no password, and one who typed a space.
        let silent = TransferRecord {
            anon_password: Vec::new(),
            ..anonymous_download()
        };
        assert!(xferlog_line(&silent, 0).ends_with(" o a ? ftp 0 * c"));
        let spaced = TransferRecord {
            anon_password: b"John Doe".to_vec(),
            ..anonymous_download()
        };
        assert!(xferlog_line(&spaced, 0).ends_with(" o a John_Doe ftp 0 * c"));
    }

    #[test]
    fn xferlog_aborted_transfer_is_incomplete() {
        let aborted = TransferRecord {
            bytes: 65_536,
            complete: false,
            ..anonymous_download()
        };
        assert_eq!(
            xferlog_line(&aborted, 0),
            "Tue Nov 14 22:13:21 2023 1 127.0.0.1 65536 /pub/f b _ o a me@example.com ftp 0 * i"
        );
    }

    #[test]
    fn xferlog_escapes_spaces_and_unprintable_bytes_in_names() {
        let record = TransferRecord {
            // A space, a control byte, and "é" in UTF-8 (two bytes).
            path: b"/pub/my file\x01\xc3\xa9.txt".to_vec(),
            ..anonymous_download()
        };
        assert_eq!(
            xferlog_line(&record, 0),
            "Tue Nov 14 22:13:21 2023 1 127.0.0.1 13 /pub/my_file???.txt b _ o a me@example.com \
             ftp 0 * c"
        );
        // A newline in a name can never split the line.
        let record = TransferRecord {
            path: b"/pub/a\nb".to_vec(),
            ..anonymous_download()
        };
        assert!(xferlog_line(&record, 0).contains(" /pub/a?b b _ o "));
    }

    #[test]
    fn xferlog_transfer_time_counts_whole_second_boundaries() {
        let seconds = |start_nanos: u32, duration: Duration| {
            let record = TransferRecord {
                start: at(1_700_000_000, start_nanos),
                duration,
                ..anonymous_download()
            };
            let line = xferlog_line(&record, 0);
            line.split(' ').nth(5).unwrap().to_string()
        };
        // Within one second: 0 is written as 1.
        assert_eq!(seconds(100_000_000, Duration::from_millis(500)), "1");
        assert_eq!(seconds(0, Duration::ZERO), "1");
        // 0.2 s across a boundary is 1.
        assert_eq!(seconds(900_000_000, Duration::from_millis(200)), "1");
        // 2.4 s and 2.9 s from .5: whole seconds of end minus start, not rounding.
        assert_eq!(seconds(500_000_000, Duration::from_millis(2400)), "2");
        assert_eq!(seconds(500_000_000, Duration::from_millis(2900)), "3");
        assert_eq!(seconds(0, Duration::from_secs(3600)), "3600");
    }

    #[test]
    fn xferlog_ipv6_and_mapped_addresses() {
        let mapped = TransferRecord {
            remote_ip: IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped()),
            ..anonymous_download()
        };
        assert!(xferlog_line(&mapped, 0).contains(" 1 ::ffff:127.0.0.1 13 "));
        let native = TransferRecord {
            remote_ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            ..anonymous_download()
        };
        assert!(xferlog_line(&native, 0).contains(" 1 ::1 13 "));
    }

    #[test]
    fn vsftpd_format_downloads_and_uploads() {
        assert_eq!(
            vsftpd_log_line(&anonymous_download(), 4242, 0),
            "Tue Nov 14 22:13:21 2023 [pid 4242] [ftp] OK DOWNLOAD: Client \"127.0.0.1\", \
             \"/pub/f\", 13 bytes, 0.01Kbyte/sec"
        );
        assert_eq!(
            vsftpd_log_line(&real_upload(), 7, 0),
            "Tue Nov 14 22:13:22 2023 [pid 7] [alice] OK UPLOAD: Client \"192.168.1.20\", \
             \"/home/alice/report.txt\", 1048576 bytes, 512.00Kbyte/sec"
        );
    }

    #[test]
    fn vsftpd_format_failures_and_rates() {
        // A failed upload that moved nothing: no byte count, but a rate.
        let failed = TransferRecord {
            bytes: 0,
            complete: false,
            duration: Duration::from_millis(30),
            ..real_upload()
        };
        assert_eq!(
            vsftpd_log_line(&failed, 7, 0),
            "Tue Nov 14 22:13:20 2023 [pid 7] [alice] FAIL UPLOAD: Client \"192.168.1.20\", \
             \"/home/alice/report.txt\", 0.00Kbyte/sec"
        );
        // An aborted download keeps its real byte count.
        let aborted = TransferRecord {
            bytes: 13_000,
            duration: Duration::from_millis(25),
            complete: false,
            ..anonymous_download()
        };
        assert!(vsftpd_log_line(&aborted, 1, 0).ends_with(
            "[ftp] FAIL DOWNLOAD: Client \"127.0.0.1\", \"/pub/f\", 13000 bytes, 507.81Kbyte/sec"
        ));
        // Zero time counts as 0.1 s: 1024 bytes -> 10 KiB/s.
        let instant = TransferRecord {
            bytes: 1024,
            duration: Duration::ZERO,
            ..anonymous_download()
        };
        assert!(vsftpd_log_line(&instant, 1, 0).ends_with(", 1024 bytes, 10.00Kbyte/sec"));
        // Sub-microsecond parts are dropped, as vsftpd's gettimeofday() would: 3 µs, not 3.9 µs.
        let quick = TransferRecord {
            start: at(1_700_000_000, 999_999_000),
            duration: Duration::from_nanos(3_900),
            bytes: 5,
            ..anonymous_download()
        };
        assert!(vsftpd_log_line(&quick, 1, 0).ends_with(", 5 bytes, 1627.60Kbyte/sec"));
    }

    #[test]
    fn vsftpd_format_keeps_spaces_but_not_unprintables() {
        let record = TransferRecord {
            path: b"/pub/my file\x1b[31m".to_vec(),
            ..anonymous_download()
        };
        assert!(vsftpd_log_line(&record, 1, 0).contains(", \"/pub/my file?[31m\", 13 bytes"));
    }

    #[test]
    fn vsftpd_format_logins() {
        let now = at(1_700_000_000, 0);
        let anonymous = LogEvent::Login {
            ok: true,
            remote_ip: LOCALHOST,
            user: b"ftp".to_vec(),
            anon_password: Some(b"me@example.com".to_vec()),
        };
        assert_eq!(
            vsftpd_event_line(&anonymous, 99, now, 0),
            "Tue Nov 14 22:13:20 2023 [pid 99] [ftp] OK LOGIN: Client \"127.0.0.1\", anon password \
             \"me@example.com\""
        );
        let real = LogEvent::Login {
            ok: true,
            remote_ip: LOCALHOST,
            user: b"alice".to_vec(),
            anon_password: None,
        };
        assert_eq!(
            vsftpd_event_line(&real, 99, now, 0),
            "Tue Nov 14 22:13:20 2023 [pid 99] [alice] OK LOGIN: Client \"127.0.0.1\""
        );
        // A refused anonymous login shows the name as typed and never the password.
        let refused = LogEvent::Login {
            ok: false,
            remote_ip: LOCALHOST,
            user: b"anonymous".to_vec(),
            anon_password: Some(b"banned@example.com".to_vec()),
        };
        assert_eq!(
            vsftpd_event_line(&refused, 99, now, 0),
            "Tue Nov 14 22:13:20 2023 [pid 99] [anonymous] FAIL LOGIN: Client \"127.0.0.1\""
        );
    }

    #[test]
    fn vsftpd_format_directory_changes() {
        let now = at(1_700_000_000, 0);
        let user = || b"alice".to_vec();
        let line = |event: LogEvent| vsftpd_event_line(&event, 5, now, 0);
        let prefix = "Tue Nov 14 22:13:20 2023 [pid 5] [alice] ";
        assert_eq!(
            line(LogEvent::Mkdir {
                ok: true,
                remote_ip: LOCALHOST,
                user: user(),
                path: b"/home/alice/new dir".to_vec(),
            }),
            format!("{prefix}OK MKDIR: Client \"127.0.0.1\", \"/home/alice/new dir\"")
        );
        assert_eq!(
            line(LogEvent::Delete {
                ok: true,
                remote_ip: LOCALHOST,
                user: user(),
                path: b"/home/alice/old".to_vec(),
            }),
            format!("{prefix}OK DELETE: Client \"127.0.0.1\", \"/home/alice/old\"")
        );
        assert_eq!(
            line(LogEvent::Rmdir {
                ok: false,
                remote_ip: LOCALHOST,
                user: user(),
                path: b"/home/alice/full".to_vec(),
            }),
            format!("{prefix}FAIL RMDIR: Client \"127.0.0.1\", \"/home/alice/full\"")
        );
        assert_eq!(
            line(LogEvent::Rename {
                ok: true,
                remote_ip: LOCALHOST,
                user: user(),
                from: b"/home/alice/a".to_vec(),
                to: Some(b"/home/alice/b".to_vec()),
            }),
            format!("{prefix}OK RENAME: Client \"127.0.0.1\", \"/home/alice/a /home/alice/b\"")
        );
        assert_eq!(
            line(LogEvent::Rename {
                ok: false,
                remote_ip: LOCALHOST,
                user: user(),
                from: b"/home/alice/missing".to_vec(),
                to: None,
            }),
            format!("{prefix}FAIL RENAME: Client \"127.0.0.1\", \"/home/alice/missing\"")
        );
        assert_eq!(
            line(LogEvent::Chmod {
                ok: true,
                remote_ip: LOCALHOST,
                user: user(),
                path: b"/home/alice/run.sh".to_vec(),
                mode: b"755".to_vec(),
            }),
            format!("{prefix}OK CHMOD: Client \"127.0.0.1\", \"/home/alice/run.sh 755\"")
        );
    }

    #[test]
    fn vsftpd_format_connections() {
        let now = at(1_700_000_000, 0);
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 7).to_ipv6_mapped());
        assert_eq!(
            vsftpd_event_line(
                &LogEvent::Connect {
                    remote_ip: mapped,
                    refused: None
                },
                3,
                now,
                0
            ),
            "Tue Nov 14 22:13:20 2023 [pid 3] CONNECT: Client \"::ffff:10.0.0.7\""
        );
        let refused = |refusal| LogEvent::Connect {
            remote_ip: LOCALHOST,
            refused: Some(refusal),
        };
        assert_eq!(
            vsftpd_event_message(&refused(ConnectRefusal::TooManyClients)),
            "CONNECT: Client \"127.0.0.1\", \"Connection refused: too many sessions.\""
        );
        assert_eq!(
            vsftpd_event_message(&refused(ConnectRefusal::TooManyPerIp)),
            "CONNECT: Client \"127.0.0.1\", \"Connection refused: too many sessions for this \
             address.\""
        );
        assert_eq!(
            vsftpd_event_message(&refused(ConnectRefusal::TcpWrappers)),
            "CONNECT: Client \"127.0.0.1\", \"Connection refused: tcp_wrappers denial.\""
        );
    }

    #[test]
    fn vsftpd_format_protocol_lines() {
        let command = |user: &[u8], verb: &[u8], argument: &[u8]| {
            vsftpd_event_message(&LogEvent::FtpCommand {
                remote_ip: LOCALHOST,
                user: user.to_vec(),
                verb: verb.to_vec(),
                argument: argument.to_vec(),
            })
        };
        assert_eq!(
            command(b"", b"user", b"anonymous"),
            "FTP command: Client \"127.0.0.1\", \"USER anonymous\""
        );
        assert_eq!(
            command(b"anonymous", b"pass", b"secret"),
            "[anonymous] FTP command: Client \"127.0.0.1\", \"PASS <password>\""
        );
        assert_eq!(
            command(b"ftp", b"PASV", b""),
            "[ftp] FTP command: Client \"127.0.0.1\", \"PASV\""
        );
        assert_eq!(
            vsftpd_event_message(&LogEvent::FtpResponse {
                remote_ip: LOCALHOST,
                user: b"ftp".to_vec(),
                line: b"230 Login successful.".to_vec(),
            }),
            "[ftp] FTP response: Client \"127.0.0.1\", \"230 Login successful.\""
        );
        assert_eq!(
            vsftpd_event_message(&LogEvent::Debug {
                remote_ip: LOCALHOST,
                user: Vec::new(),
                message: "SSL version: TLSv1.2, SSL cipher: ECDHE-RSA-AES256-GCM-SHA384, \
                          not reused, no cert"
                    .to_string(),
            }),
            "DEBUG: Client \"127.0.0.1\", \"SSL version: TLSv1.2, SSL cipher: \
             ECDHE-RSA-AES256-GCM-SHA384, not reused, no cert\""
        );
    }

    #[test]
    fn log_paths_are_made_absolute_without_normalising() {
        assert_eq!(vsftpd_log_path(b"/", b"f"), b"/f");
        assert_eq!(vsftpd_log_path(b"/pub", b"f"), b"/pub/f");
        assert_eq!(vsftpd_log_path(b"/pub/", b"f"), b"/pub/f");
        assert_eq!(vsftpd_log_path(b"/pub", b"/etc/passwd"), b"/etc/passwd");
        assert_eq!(vsftpd_log_path(b"/pub", b"../x/./y"), b"/pub/../x/./y");
        assert_eq!(vsftpd_log_path(b"/pub", b""), b"/pub/");
    }
}
