//! FTP replies: vsftpd 3.0.3's codes and texts, and their framing on the control connection.
//!
//! Texts are vsftpd's, byte for byte, except where ringd must differ: the default greeting and
//! STAT do not reveal a version, HELP and FEAT also list MLST/MLSD (which vsftpd lacks), and
//! a NUL in a command line has its own 500 (vsftpd has no such reply).

use std::net::{IpAddr, Ipv4Addr};

use super::listing::{self, FactSet};
use crate::config::vsftpd::FtpConfig;

/// How much of `message_file` vsftpd shows: it reads at most this many bytes of it.
pub const MESSAGE_FILE_MAX_BYTES: usize = 4000;

/// A one-line reply whose text never changes; most of vsftpd's replies are these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedReply {
    pub code: u16,
    pub text: &'static str,
}

impl FixedReply {
    pub const fn new(code: u16, text: &'static str) -> Self {
        FixedReply { code, text }
    }

    pub fn reply(self) -> Reply {
        Reply::new(self.code, self.text)
    }

    /// Appends the framed reply, without building a [`Reply`].
    pub fn encode(self, out: &mut Vec<u8>) {
        push_line(out, self.code, b' ', self.text.as_bytes());
    }
}

impl From<FixedReply> for Reply {
    fn from(fixed: FixedReply) -> Self {
        fixed.reply()
    }
}

/// How the lines of a multi-line reply between the first and the last are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuation {
    /// Written as they are, as vsftpd does for FEAT, HELP and STAT (whose lines start with
    /// spaces) and for the `ls` lines of `STAT path`.
    Raw,
    /// Each prefixed with `code-`, as vsftpd does for `banner_file` and `message_file` lines.
    Coded,
}

/// A reply: one line, or several framed as RFC 959 multi-line (`220-first` ... `220 last`).
///
/// Lines are bytes because some carry path names, which need not be UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<Vec<u8>>,
    pub continuation: Continuation,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<Vec<u8>>) -> Self {
        Reply {
            code,
            lines: vec![text.into()],
            continuation: Continuation::Raw,
        }
    }

    /// First line `code-text`, middle lines raw, last line `code text`.
    pub fn multi<L: Into<Vec<u8>>>(code: u16, lines: impl IntoIterator<Item = L>) -> Self {
        Reply {
            code,
            lines: lines.into_iter().map(Into::into).collect(),
            continuation: Continuation::Raw,
        }
    }

    /// Every line but the last `code-text`, the last `code text`.
    pub fn coded<L: Into<Vec<u8>>>(code: u16, lines: impl IntoIterator<Item = L>) -> Self {
        Reply {
            code,
            lines: lines.into_iter().map(Into::into).collect(),
            continuation: Continuation::Coded,
        }
    }

    /// Appends the reply as sent on the wire.
    ///
    /// As vsftpd does, every 0xFF in a text is doubled (Telnet IAC) and every LF becomes NUL
    /// (RFC 959's encoding of a newline inside a path name). vsftpd skips this for raw lines;
    /// ringd escapes them too, so no file name in a `STAT` listing can break the framing.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let Some((last, head)) = self.lines.split_last() else {
            push_line(out, self.code, b' ', b"");
            return;
        };
        for (index, line) in head.iter().enumerate() {
            if index == 0 || self.continuation == Continuation::Coded {
                push_line(out, self.code, b'-', line);
            } else {
                push_middle_line(out, self.code, line);
            }
        }
        push_line(out, self.code, b' ', last);
    }
}

/// Appends the first line of a multi-line `code` reply (`code-text`), for replies streamed a
/// line at a time.
pub fn push_first_line(out: &mut Vec<u8>, code: u16, text: &[u8]) {
    push_line(out, code, b'-', text);
}

/// Appends a raw middle line of a multi-line `code` reply, as [`Reply::encode`] writes one
/// (for replies streamed a line at a time, such as `STAT path`).
pub fn push_middle_line(out: &mut Vec<u8>, code: u16, line: &[u8]) {
    // A raw line that starts like the closing line would end the reply early.
    if starts_with_code(line, code) {
        out.push(b' ');
    }
    push_escaped(out, line);
    out.extend_from_slice(b"\r\n");
}

fn starts_with_code(line: &[u8], code: u16) -> bool {
    line.len() >= 4 && line[..3] == code_digits(code) && line[3] == b' '
}

/// Reply codes are three digits (RFC 959); this avoids formatting one per line.
fn code_digits(code: u16) -> [u8; 3] {
    debug_assert!((100..1000).contains(&code), "reply code {code}");
    let digit = |value: u16| b'0' + (value % 10) as u8;
    [digit(code / 100), digit(code / 10), digit(code)]
}

fn push_line(out: &mut Vec<u8>, code: u16, separator: u8, text: &[u8]) {
    out.extend_from_slice(&code_digits(code));
    out.push(separator);
    push_escaped(out, text);
    out.extend_from_slice(b"\r\n");
}

fn push_escaped(out: &mut Vec<u8>, text: &[u8]) {
    for &byte in text {
        match byte {
            0xFF => out.extend_from_slice(&[0xFF, 0xFF]),
            b'\n' => out.push(0),
            _ => out.push(byte),
        }
    }
}

// Connection admission and greeting.

/// ringd's greeting when neither `ftpd_banner` nor `banner_file` is set. vsftpd says
/// `220 (vsFTPd 3.0.3)`; ringd keeps the shape but names no version, which would tell an
/// attacker which exploits to try.
pub const GREETING_DEFAULT: FixedReply = FixedReply::new(220, "(ringd)");
pub const TOO_MANY_USERS: FixedReply =
    FixedReply::new(421, "There are too many connected users, please try later.");
pub const TOO_MANY_FROM_ADDRESS: FixedReply = FixedReply::new(
    421,
    "There are too many connections from your internet address.",
);
/// tcp_wrappers refused the host.
pub const SERVICE_NOT_AVAILABLE: FixedReply = FixedReply::new(421, "Service not available.");
pub const IDLE_TIMEOUT: FixedReply = FixedReply::new(421, "Timeout.");
pub const DATA_TIMEOUT: FixedReply = FixedReply::new(421, "Data timeout. Reconnect. Sorry.");
/// vsftpd then ends the session; ringd goes on.
pub const INPUT_LINE_TOO_LONG: FixedReply = FixedReply::new(500, "Input line too long.");
/// ringd's own: vsftpd turns NUL into LF instead of refusing the line.
pub const NUL_IN_COMMAND: FixedReply = FixedReply::new(500, "Illegal NUL byte in command.");

/// The greeting: `banner_file` wins (each line as `220-line`, then a bare `220 `), then
/// `ftpd_banner`, then [`GREETING_DEFAULT`]. An empty banner file counts as unset, as in vsftpd.
pub fn greeting(banner_file: Option<&[u8]>, ftpd_banner: Option<&[u8]>) -> Reply {
    match (banner_file, ftpd_banner) {
        (Some(banner), _) if !banner.is_empty() => {
            let mut lines = message_lines(banner);
            lines.push(Vec::new());
            Reply::coded(220, lines)
        }
        (_, Some(text)) => Reply::new(220, text),
        _ => GREETING_DEFAULT.reply(),
    }
}

/// `message_file` (or a banner) shown before `last`: `230-line` ... `230 Login successful.`
/// An empty message leaves just `last`.
pub fn with_message(message: &[u8], last: FixedReply) -> Reply {
    let mut lines = message_lines(message);
    lines.push(last.text.into());
    Reply::coded(last.code, lines)
}

/// Splits on LF like vsftpd (a final LF does not make an empty last line). A CR before the LF
/// is dropped, unlike vsftpd, so banners written on Windows do not send `\r\r\n`.
fn message_lines(text: &[u8]) -> Vec<Vec<u8>> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Vec::new();
    }
    text.split(|&byte| byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec())
        .collect()
}

// Login.

pub const SPECIFY_PASSWORD: FixedReply = FixedReply::new(331, "Please specify the password.");
pub const LOGIN_SUCCESSFUL: FixedReply = FixedReply::new(230, "Login successful.");
pub const LOGIN_INCORRECT: FixedReply = FixedReply::new(530, "Login incorrect.");
pub const PLEASE_LOGIN: FixedReply = FixedReply::new(530, "Please login with USER and PASS.");
pub const LOGIN_WITH_USER_FIRST: FixedReply = FixedReply::new(503, "Login with USER first.");
pub const ANONYMOUS_ONLY: FixedReply = FixedReply::new(530, "This FTP server is anonymous only.");
/// USER after login, for an anonymous session.
pub const CANNOT_CHANGE_FROM_GUEST: FixedReply =
    FixedReply::new(530, "Can't change from guest user.");
/// USER after login, naming the logged-in user again.
pub const ANY_PASSWORD_WILL_DO: FixedReply = FixedReply::new(331, "Any password will do.");
pub const CANNOT_CHANGE_USER: FixedReply = FixedReply::new(530, "Can't change to another user.");
pub const ALREADY_LOGGED_IN: FixedReply = FixedReply::new(230, "Already logged in.");
pub const GOODBYE: FixedReply = FixedReply::new(221, "Goodbye.");

// Refusals.

/// `530` for `user_list` denials before the password; `550` (see [`NO_PERMISSION`]) after login.
pub const LOGIN_PERMISSION_DENIED: FixedReply = FixedReply::new(530, "Permission denied.");
/// A command refused by `cmds_allowed`/`cmds_denied`, by a disabled feature, or by `deny_file`.
pub const NO_PERMISSION: FixedReply = FixedReply::new(550, "Permission denied.");
pub const UNKNOWN_COMMAND: FixedReply = FixedReply::new(500, "Unknown command.");

// FTP over TLS (RFC 4217), in vsftpd 3.0.3's words.
pub const PROCEED_WITH_NEGOTIATION: FixedReply = FixedReply::new(234, "Proceed with negotiation.");
pub const UNKNOWN_AUTH_TYPE: FixedReply = FixedReply::new(504, "Unknown AUTH type.");
pub const PBSZ_NEEDS_TLS: FixedReply = FixedReply::new(503, "PBSZ needs a secure connection.");
pub const PBSZ_SET: FixedReply = FixedReply::new(200, "PBSZ set to 0.");
pub const PROT_NEEDS_TLS: FixedReply = FixedReply::new(503, "PROT needs a secure connection.");
pub const PROT_CLEAR: FixedReply = FixedReply::new(200, "PROT now Clear.");
pub const PROT_PRIVATE: FixedReply = FixedReply::new(200, "PROT now Private.");
pub const PROT_NOT_SUPPORTED: FixedReply = FixedReply::new(536, "PROT not supported.");
pub const PROT_NOT_RECOGNIZED: FixedReply = FixedReply::new(504, "PROT not recognized.");
pub const LOCAL_NEEDS_TLS: FixedReply =
    FixedReply::new(530, "Non-anonymous sessions must use encryption.");
pub const ANONYMOUS_NEEDS_TLS: FixedReply =
    FixedReply::new(530, "Anonymous sessions must use encryption.");
pub const ANONYMOUS_NO_TLS: FixedReply =
    FixedReply::new(530, "Anonymous sessions may not use encryption.");
pub const DATA_NEEDS_TLS: FixedReply = FixedReply::new(522, "Data connections must be encrypted.");
pub const DATA_TLS_NOT_RESUMED: FixedReply =
    FixedReply::new(522, "SSL connection failed: session reuse required");
pub const DATA_TLS_FAILED: FixedReply = FixedReply::new(522, "SSL connection failed");
/// vsftpd 3.0.3 ends the session after this (no cross-protocol attacks through FTP).
pub const HTTP_NOT_ALLOWED: FixedReply =
    FixedReply::new(500, "HTTP protocol commands not allowed.");

// Simple commands.

pub const NOOP_OK: FixedReply = FixedReply::new(200, "NOOP ok.");
pub const SYSTEM_TYPE: FixedReply = FixedReply::new(215, "UNIX Type: L8");
pub const SWITCHING_TO_BINARY: FixedReply = FixedReply::new(200, "Switching to Binary mode.");
pub const SWITCHING_TO_ASCII: FixedReply = FixedReply::new(200, "Switching to ASCII mode.");
pub const UNRECOGNISED_TYPE: FixedReply = FixedReply::new(500, "Unrecognised TYPE command.");
pub const STRUCTURE_F: FixedReply = FixedReply::new(200, "Structure set to F.");
pub const BAD_STRU: FixedReply = FixedReply::new(504, "Bad STRU command.");
pub const MODE_S: FixedReply = FixedReply::new(200, "Mode set to S.");
pub const BAD_MODE: FixedReply = FixedReply::new(504, "Bad MODE command.");
pub const ALLO_IGNORED: FixedReply = FixedReply::new(202, "ALLO command ignored.");
pub const REIN_NOT_IMPLEMENTED: FixedReply = FixedReply::new(502, "REIN not implemented.");
pub const ACCT_NOT_IMPLEMENTED: FixedReply = FixedReply::new(502, "ACCT not implemented.");
pub const SMNT_NOT_IMPLEMENTED: FixedReply = FixedReply::new(502, "SMNT not implemented.");
pub const ALWAYS_UTF8: FixedReply = FixedReply::new(200, "Always in UTF8 mode.");
pub const OPTION_NOT_UNDERSTOOD: FixedReply = FixedReply::new(501, "Option not understood.");

// Directories.

pub const DIRECTORY_CHANGED: FixedReply = FixedReply::new(250, "Directory successfully changed.");
pub const CHANGE_DIRECTORY_FAILED: FixedReply = FixedReply::new(550, "Failed to change directory.");
pub const MKDIR_FAILED: FixedReply = FixedReply::new(550, "Create directory operation failed.");
pub const RMDIR_FAILED: FixedReply = FixedReply::new(550, "Remove directory operation failed.");
pub const RMDIR_OK: FixedReply = FixedReply::new(250, "Remove directory operation successful.");
pub const DELETE_FAILED: FixedReply = FixedReply::new(550, "Delete operation failed.");
pub const DELETE_OK: FixedReply = FixedReply::new(250, "Delete operation successful.");
pub const READY_FOR_RNTO: FixedReply = FixedReply::new(350, "Ready for RNTO.");
pub const RNFR_FAILED: FixedReply = FixedReply::new(550, "RNFR command failed.");
pub const RNFR_REQUIRED_FIRST: FixedReply = FixedReply::new(503, "RNFR required first.");
pub const RENAME_OK: FixedReply = FixedReply::new(250, "Rename successful.");
pub const RENAME_FAILED: FixedReply = FixedReply::new(550, "Rename failed.");

/// `257 "/pub" is the current directory`, double quotes in the path doubled (RFC 959).
pub fn current_directory(path: &[u8]) -> Reply {
    let mut text = quoted(path);
    text.extend_from_slice(b" is the current directory");
    Reply::new(257, text)
}

/// `257 "/pub/new" created`; vsftpd names the new directory by its absolute path.
pub fn directory_created(path: &[u8]) -> Reply {
    let mut text = quoted(path);
    text.extend_from_slice(b" created");
    Reply::new(257, text)
}

fn quoted(path: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(path.len() + 2);
    text.push(b'"');
    for &byte in path {
        if byte == b'"' {
            text.push(b'"');
        }
        text.push(byte);
    }
    text.push(b'"');
    text
}

// Data connections.

pub const USE_PORT_OR_PASV_FIRST: FixedReply = FixedReply::new(425, "Use PORT or PASV first.");
pub const FAILED_TO_ESTABLISH_CONNECTION: FixedReply =
    FixedReply::new(425, "Failed to establish connection.");
pub const ILLEGAL_PORT: FixedReply = FixedReply::new(500, "Illegal PORT command.");
pub const PORT_OK: FixedReply =
    FixedReply::new(200, "PORT command successful. Consider using PASV.");
pub const BAD_EPRT_PROTOCOL: FixedReply = FixedReply::new(500, "Bad EPRT protocol.");
pub const BAD_EPRT: FixedReply = FixedReply::new(500, "Bad EPRT command.");
/// EPRT to a foreign address or a privileged port without `port_promiscuous`.
pub const ILLEGAL_EPRT: FixedReply = FixedReply::new(500, "Illegal EPRT command.");
pub const EPRT_OK: FixedReply =
    FixedReply::new(200, "EPRT command successful. Consider using EPSV.");
pub const EPSV_ALL_OK: FixedReply = FixedReply::new(200, "EPSV ALL ok.");
pub const BAD_NETWORK_PROTOCOL: FixedReply = FixedReply::new(522, "Bad network protocol.");
pub const NO_TRANSFER_TO_ABORT: FixedReply = FixedReply::new(225, "No transfer to ABOR.");
pub const ABORT_OK: FixedReply = FixedReply::new(226, "ABOR successful.");

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` vsftpd reports `pasv_address` if set, else
/// the control connection's local address; pass `0.0.0.0` for an IPv6 one without an IPv4
/// form, which vsftpd prints as `0,0,0,0`.
pub fn entering_passive(ip: Ipv4Addr, port: u16) -> Reply {
    let [a, b, c, d] = ip.octets();
    Reply::new(
        227,
        format!(
            "Entering Passive Mode ({a},{b},{c},{d},{},{}).",
            port >> 8,
            port & 0xFF
        ),
    )
}

/// `229 Entering Extended Passive Mode (|||port|)`: no final period since vsftpd 3.0.3.
pub fn entering_extended_passive(port: u16) -> Reply {
    Reply::new(229, format!("Entering Extended Passive Mode (|||{port}|)"))
}

// Transfers.

pub const FAILED_TO_OPEN_FILE: FixedReply = FixedReply::new(550, "Failed to open file.");
pub const NO_ASCII_RESUME: FixedReply =
    FixedReply::new(550, "No support for resume of ASCII transfer.");
pub const TRANSFER_COMPLETE: FixedReply = FixedReply::new(226, "Transfer complete.");
pub const READ_LOCAL_FILE_FAILED: FixedReply = FixedReply::new(451, "Failure reading local file.");
pub const WRITE_NETWORK_FAILED: FixedReply =
    FixedReply::new(426, "Failure writing network stream.");
pub const COULD_NOT_CREATE_FILE: FixedReply = FixedReply::new(553, "Could not create file.");
/// ENOSPC or EDQUOT while writing an upload (vsftpd says 451 for every write failure; RFC 959's
/// 452 tells the client it is about space).
pub const INSUFFICIENT_STORAGE: FixedReply = FixedReply::new(452, "Insufficient storage space.");
pub const OK_TO_SEND_DATA: FixedReply = FixedReply::new(150, "Ok to send data.");
pub const WRITE_LOCAL_FILE_FAILED: FixedReply =
    FixedReply::new(451, "Failure writing to local file.");
pub const READ_NETWORK_FAILED: FixedReply = FixedReply::new(426, "Failure reading network stream.");
pub const HERE_COMES_DIRECTORY_LISTING: FixedReply =
    FixedReply::new(150, "Here comes the directory listing.");
pub const DIRECTORY_SEND_OK: FixedReply = FixedReply::new(226, "Directory send OK.");
/// LIST/NLST of a directory that could not be opened (or not world-readable for anonymous).
pub const LISTING_FAILED_TO_OPEN_DIRECTORY: FixedReply =
    FixedReply::new(226, "Transfer done (but failed to open directory).");

/// `150 Opening BINARY mode data connection for file (123 bytes).`; `path` as the client gave it.
pub fn opening_data_connection(ascii: bool, path: &[u8], size: u64) -> Reply {
    let mut text = Vec::with_capacity(path.len() + 64);
    text.extend_from_slice(if ascii {
        b"Opening ASCII"
    } else {
        b"Opening BINARY"
    });
    text.extend_from_slice(b" mode data connection for ");
    text.extend_from_slice(path);
    text.extend_from_slice(format!(" ({size} bytes).").as_bytes());
    Reply::new(150, text)
}

/// STOU's `150 FILE: name`, naming the file it chose.
pub fn unique_file(name: &[u8]) -> Reply {
    let mut text = b"FILE: ".to_vec();
    text.extend_from_slice(name);
    Reply::new(150, text)
}

/// `350 Restart position accepted (n).`
pub fn restart_position(offset: u64) -> Reply {
    Reply::new(350, format!("Restart position accepted ({offset})."))
}

// Status of files.

pub const COULD_NOT_GET_SIZE: FixedReply = FixedReply::new(550, "Could not get file size.");
pub const COULD_NOT_GET_MDTM: FixedReply =
    FixedReply::new(550, "Could not get file modification time.");
pub const COULD_NOT_SET_MDTM: FixedReply =
    FixedReply::new(550, "Could not set file modification time.");
pub const MDTM_SET: FixedReply = FixedReply::new(213, "File modification time set.");

/// `213 12345`
pub fn size(bytes: u64) -> Reply {
    Reply::new(213, bytes.to_string())
}

/// `213 20240101120000`: `mtime` in UTC, or shifted to local time by the caller when
/// `use_localtime=YES`.
pub fn modification_time(mtime: i64) -> Reply {
    Reply::new(213, listing::mdtm_timestamp(mtime))
}

// SITE.

pub const UNKNOWN_SITE_COMMAND: FixedReply = FixedReply::new(500, "Unknown SITE command.");
pub const SITE_CHMOD_NEEDS_ARGUMENTS: FixedReply =
    FixedReply::new(500, "SITE CHMOD needs 2 arguments.");
pub const SITE_CHMOD_FAILED: FixedReply = FixedReply::new(550, "SITE CHMOD command failed.");
pub const SITE_CHMOD_OK: FixedReply = FixedReply::new(200, "SITE CHMOD command ok.");

/// `214 CHMOD UMASK HELP`, or `214 UMASK HELP` unless `write_enable` and `chmod_enable`.
pub fn site_help(chmod_allowed: bool) -> Reply {
    Reply::new(
        214,
        if chmod_allowed {
            "CHMOD UMASK HELP"
        } else {
            "UMASK HELP"
        },
    )
}

/// `200 Your current UMASK is 022`
pub fn current_umask(umask: u32) -> Reply {
    Reply::new(200, format!("Your current UMASK is {}", octal(umask)))
}

/// `200 UMASK set to 027`
pub fn umask_set(umask: u32) -> Reply {
    Reply::new(200, format!("UMASK set to {}", octal(umask)))
}

/// vsftpd's octal: `0` alone, otherwise with a leading zero (`022`, `0777`).
fn octal(value: u32) -> String {
    if value == 0 {
        "0".to_owned()
    } else {
        format!("0{value:o}")
    }
}

// Multi-line replies.

/// `211-Features:` ... `211 End`, in vsftpd's order, with MLST (absent from vsftpd) and its
/// facts (`*` on those enabled by OPTS MLST). EPRT only with `port_enable`, EPSV and PASV
/// only with `pasv_enable`, AUTH TLS, PBSZ and PROT with `ssl_enable`, UTF8 with
/// `utf8_filesystem`.
pub fn feat(config: &FtpConfig, facts: FactSet) -> Reply {
    let (port_enable, pasv_enable, tls) =
        (config.port_enable, config.pasv_enable, config.ssl_enable);
    let mut lines = vec!["Features:".to_owned()];
    if tls {
        lines.push(" AUTH TLS".to_owned());
    }
    if port_enable {
        lines.push(" EPRT".to_owned());
    }
    if pasv_enable {
        lines.push(" EPSV".to_owned());
    }
    lines.push(" MDTM".to_owned());
    lines.push(format!(" MLST {}", facts.feature_list()));
    if pasv_enable {
        lines.push(" PASV".to_owned());
    }
    if tls {
        lines.extend([" PBSZ", " PROT"].map(str::to_owned));
    }
    lines.extend([" REST STREAM", " SIZE", " TVFS"].map(str::to_owned));
    if config.utf8_filesystem {
        lines.push(" UTF8".to_owned());
    }
    lines.push("End".to_owned());
    Reply::multi(211, lines)
}

/// RFC 3659's answer to `OPTS MLST`: `200 MLST OPTS type;size;`
pub fn mlst_options_set(facts: FactSet) -> Reply {
    Reply::new(200, format!("MLST OPTS {}", facts.enabled_list()))
}

/// `214-The following commands are recognized.` ... `214 Help OK.` vsftpd's table, plus the
/// MLSD and MLST ringd also serves.
pub fn help() -> Reply {
    Reply::multi(
        214,
        [
            "The following commands are recognized.",
            " ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD",
            " MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR",
            " RMD  RNFR RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP",
            " XCWD XMKD XPWD XRMD",
            "Help OK.",
        ],
    )
}

/// What `STAT` without an argument reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStatus {
    pub remote_ip: IpAddr,
    /// For anonymous sessions vsftpd shows `ftp_username` (`ftp`), not what the client typed.
    pub user: Vec<u8>,
    pub ascii: bool,
    /// Bytes per second, 0 for none (`anon_max_rate`/`local_max_rate`).
    pub max_rate: u64,
    /// `idle_session_timeout` in seconds, 0 for none.
    pub idle_timeout: u64,
    /// Sessions open when this one started; the line is left out when 0, as in vsftpd.
    pub clients_at_start: u64,
    /// TLS on the control connection (AUTH or implicit_ssl), and on data connections (PROT P).
    pub control_encrypted: bool,
    pub data_encrypted: bool,
}

/// `211-FTP server status:` ... `211 End of status`, vsftpd's lines, but the last names
/// ringd without a version (vsftpd: `vsFTPd 3.0.3 - secure, fast, stable`).
pub fn session_status(status: &SessionStatus) -> Reply {
    let mut lines: Vec<Vec<u8>> = vec![b"FTP server status:".to_vec()];
    lines.push(format!("     Connected to {}", status.remote_ip).into_bytes());
    let mut user_line = b"     Logged in as ".to_vec();
    user_line.extend_from_slice(&status.user);
    lines.push(user_line);
    lines.push(
        format!(
            "     TYPE: {}",
            if status.ascii { "ASCII" } else { "BINARY" }
        )
        .into_bytes(),
    );
    lines.push(match status.max_rate {
        0 => b"     No session bandwidth limit".to_vec(),
        rate => format!("     Session bandwidth limit in byte/s is {rate}").into_bytes(),
    });
    lines.push(match status.idle_timeout {
        0 => b"     No session timeout".to_vec(),
        seconds => format!("     Session timeout in seconds is {seconds}").into_bytes(),
    });
    lines.push(if status.control_encrypted {
        b"     Control connection is encrypted".to_vec()
    } else {
        b"     Control connection is plain text".to_vec()
    });
    lines.push(if status.data_encrypted {
        b"     Data connections will be encrypted".to_vec()
    } else {
        b"     Data connections will be plain text".to_vec()
    });
    if status.clients_at_start > 0 {
        lines.push(
            format!(
                "     At session startup, client count was {}",
                status.clients_at_start
            )
            .into_bytes(),
        );
    }
    lines.push(b"     ringd".to_vec());
    lines.push(b"End of status".to_vec());
    Reply::multi(211, lines)
}

/// `STAT path`: `213-Status follows:`, the `ls -la` lines (no CRLF), `213 End of status`.
pub fn status_listing(ls_lines: Vec<Vec<u8>>) -> Reply {
    let mut lines = Vec::with_capacity(ls_lines.len() + 2);
    lines.push(b"Status follows:".to_vec());
    lines.extend(ls_lines);
    lines.push(b"End of status".to_vec());
    Reply::multi(213, lines)
}

/// RFC 3659 MLST: `250-Listing path`, ` facts; path`, `250 End`.
pub fn mlst(path: &[u8], facts_line: &[u8]) -> Reply {
    let mut heading = b"Listing ".to_vec();
    heading.extend_from_slice(path);
    let mut line = vec![b' '];
    line.extend_from_slice(facts_line);
    Reply::multi(250, [heading, line, b"End".to_vec()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: impl Into<Reply>) -> String {
        let mut out = Vec::new();
        reply.into().encode(&mut out);
        String::from_utf8(out).expect("ASCII reply")
    }

    #[test]
    fn single_line() {
        assert_eq!(wire(LOGIN_SUCCESSFUL), "230 Login successful.\r\n");
        assert_eq!(
            wire(Reply::new(331, "Please specify the password.")),
            "331 Please specify the password.\r\n"
        );
    }

    #[test]
    fn fixed_reply_encodes_like_its_reply() {
        let mut direct = Vec::new();
        GOODBYE.encode(&mut direct);
        assert_eq!(String::from_utf8(direct).unwrap(), wire(GOODBYE.reply()));
    }

    #[test]
    fn seed_texts() {
        // As the seed course's vsftpd 3.0.3 sessions show them.
        assert_eq!(
            wire(SPECIFY_PASSWORD),
            "331 Please specify the password.\r\n"
        );
        assert_eq!(wire(LOGIN_INCORRECT), "530 Login incorrect.\r\n");
        assert_eq!(wire(LOGIN_PERMISSION_DENIED), "530 Permission denied.\r\n");
        assert_eq!(wire(GOODBYE), "221 Goodbye.\r\n");
        assert_eq!(
            wire(HERE_COMES_DIRECTORY_LISTING),
            "150 Here comes the directory listing.\r\n"
        );
        assert_eq!(wire(DIRECTORY_SEND_OK), "226 Directory send OK.\r\n");
        assert_eq!(
            wire(DIRECTORY_CHANGED),
            "250 Directory successfully changed.\r\n"
        );
        assert_eq!(
            wire(SWITCHING_TO_BINARY),
            "200 Switching to Binary mode.\r\n"
        );
        assert_eq!(wire(OK_TO_SEND_DATA), "150 Ok to send data.\r\n");
        assert_eq!(wire(TRANSFER_COMPLETE), "226 Transfer complete.\r\n");
        assert_eq!(
            wire(TOO_MANY_USERS),
            "421 There are too many connected users, please try later.\r\n"
        );
        assert_eq!(
            wire(TOO_MANY_FROM_ADDRESS),
            "421 There are too many connections from your internet address.\r\n"
        );
        assert_eq!(
            wire(current_directory(b"/root")),
            "257 \"/root\" is the current directory\r\n"
        );
        assert_eq!(
            wire(entering_passive(
                Ipv4Addr::new(192, 168, 10, 200),
                66 * 256 + 113
            )),
            "227 Entering Passive Mode (192,168,10,200,66,113).\r\n"
        );
        assert_eq!(
            wire(entering_extended_passive(45845)),
            "229 Entering Extended Passive Mode (|||45845|)\r\n"
        );
        assert_eq!(
            wire(opening_data_connection(false, b"server1.txt", 1_048_576)),
            "150 Opening BINARY mode data connection for server1.txt (1048576 bytes).\r\n"
        );
    }

    #[test]
    fn default_greeting_names_no_version() {
        assert_eq!(wire(greeting(None, None)), "220 (ringd)\r\n");
    }

    #[test]
    fn ftpd_banner_replaces_the_default() {
        assert_eq!(
            wire(greeting(None, Some(b"Welcome to blah FTP service."))),
            "220 Welcome to blah FTP service.\r\n"
        );
    }

    #[test]
    fn banner_file_wins_and_ends_with_a_bare_220() {
        let reply = greeting(
            Some(b"Authorized users only.\nAll access is logged.\n"),
            Some(b"ignored"),
        );
        assert_eq!(
            wire(reply),
            "220-Authorized users only.\r\n220-All access is logged.\r\n220 \r\n"
        );
    }

    #[test]
    fn empty_banner_file_counts_as_unset() {
        assert_eq!(wire(greeting(Some(b""), Some(b"hi"))), "220 hi\r\n");
        assert_eq!(wire(greeting(Some(b""), None)), "220 (ringd)\r\n");
    }

    #[test]
    fn banner_lines_keep_blank_lines_and_lose_windows_crs() {
        assert_eq!(
            wire(greeting(Some(b"a\r\n\r\nb"), None)),
            "220-a\r\n220-\r\n220-b\r\n220 \r\n"
        );
    }

    #[test]
    fn message_file_before_login_reply() {
        assert_eq!(
            wire(with_message(b"Welcome.\n", LOGIN_SUCCESSFUL)),
            "230-Welcome.\r\n230 Login successful.\r\n"
        );
        assert_eq!(
            wire(with_message(b"", DIRECTORY_CHANGED)),
            "250 Directory successfully changed.\r\n"
        );
    }

    #[test]
    fn features_framed_like_vsftpd() {
        let config = |text: &str| crate::config::vsftpd::parse_str(text, "test").unwrap();
        let expected = "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n \
                        MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\r\n PASV\r\n \
                        REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n";
        assert_eq!(wire(feat(&config(""), FactSet::ALL)), expected);
        // With ssl_enable, vsftpd's AUTH TLS first and PBSZ and PROT after PASV; UTF8 only
        // with utf8_filesystem, as vsftpd 3.0.3 lists it.
        let expected = "211-Features:\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n \
                        MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\r\n PASV\r\n \
                        PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n\
                        211 End\r\n";
        let tls = config("ssl_enable=YES\nutf8_filesystem=YES\n");
        assert_eq!(wire(feat(&tls, FactSet::ALL)), expected);
    }

    #[test]
    fn features_follow_port_and_pasv_enable() {
        let off = crate::config::vsftpd::parse_str("port_enable=NO\npasv_enable=NO\n", "test");
        let text = wire(feat(&off.unwrap(), FactSet::ALL));
        assert!(!text.contains("EPRT") && !text.contains("EPSV") && !text.contains("PASV"));
        assert!(text.starts_with("211-Features:\r\n MDTM\r\n"));
    }

    #[test]
    fn help_lists_every_command_in_vsftpds_columns() {
        let text = wire(help());
        assert!(text.starts_with(
            "214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE"
        ));
        assert!(text.ends_with("\r\n XCWD XMKD XPWD XRMD\r\n214 Help OK.\r\n"));
    }

    #[test]
    fn stat_without_argument() {
        let status = SessionStatus {
            remote_ip: "192.168.10.1".parse().unwrap(),
            user: b"ftp".to_vec(),
            ascii: false,
            max_rate: 0,
            idle_timeout: 300,
            clients_at_start: 1,
            control_encrypted: false,
            data_encrypted: false,
        };
        let expected = "211-FTP server status:\r\n     Connected to 192.168.10.1\r\n     Logged in as ftp\r\n     \
                        TYPE: BINARY\r\n     No session bandwidth limit\r\n     Session timeout in seconds is 300\r\n     \
                        Control connection is plain text\r\n     Data connections will be plain text\r\n     \
                        At session startup, client count was 1\r\n     ringd\r\n211 End of status\r\n";
        assert_eq!(wire(session_status(&status)), expected);
        let limited = SessionStatus {
            ascii: true,
            max_rate: 50_000,
            idle_timeout: 0,
            clients_at_start: 0,
            control_encrypted: true,
            data_encrypted: true,
            ..status
        };
        let text = wire(session_status(&limited));
        assert!(text.contains("     TYPE: ASCII\r\n     Session bandwidth limit in byte/s is 50000\r\n     No session timeout\r\n"));
        assert!(text.contains(
            "     Control connection is encrypted\r\n     Data connections will be encrypted\r\n"
        ));
        assert!(!text.contains("client count"));
    }

    #[test]
    fn stat_of_a_path_frames_ls_lines_raw() {
        let lines = vec![b"drwxr-xr-x    2 0        0               6 Jan 04 04:30 pub".to_vec()];
        assert_eq!(
            wire(status_listing(lines)),
            "213-Status follows:\r\ndrwxr-xr-x    2 0        0               6 Jan 04 04:30 pub\r\n213 End of status\r\n"
        );
    }

    #[test]
    fn raw_line_that_looks_like_the_end_is_indented() {
        assert_eq!(
            wire(Reply::multi(213, ["a", "213 sneaky", "213-fine", "z"])),
            "213-a\r\n 213 sneaky\r\n213-fine\r\n213 z\r\n"
        );
    }

    #[test]
    fn iac_is_doubled_and_newline_becomes_nul() {
        let mut out = Vec::new();
        current_directory(b"/caf\xff/a\nb").encode(&mut out);
        assert_eq!(
            out,
            b"257 \"/caf\xff\xff/a\0b\" is the current directory\r\n"
        );
    }

    #[test]
    fn quotes_in_paths_are_doubled() {
        assert_eq!(
            wire(current_directory(b"/say \"hi\"")),
            "257 \"/say \"\"hi\"\"\" is the current directory\r\n"
        );
        assert_eq!(
            wire(directory_created(b"/pub/\"x\"")),
            "257 \"/pub/\"\"x\"\"\" created\r\n"
        );
    }

    #[test]
    fn non_utf8_path_survives() {
        let mut out = Vec::new();
        opening_data_connection(true, b"caf\xe9.txt", 5).encode(&mut out);
        assert_eq!(
            out,
            b"150 Opening ASCII mode data connection for caf\xe9.txt (5 bytes).\r\n"
        );
    }

    #[test]
    fn passive_replies() {
        assert_eq!(
            wire(entering_passive(Ipv4Addr::UNSPECIFIED, 65535)),
            "227 Entering Passive Mode (0,0,0,0,255,255).\r\n"
        );
        assert_eq!(
            wire(entering_passive(Ipv4Addr::LOCALHOST, 5001)),
            "227 Entering Passive Mode (127,0,0,1,19,137).\r\n"
        );
    }

    #[test]
    fn numbers_in_replies() {
        assert_eq!(
            wire(restart_position(0)),
            "350 Restart position accepted (0).\r\n"
        );
        assert_eq!(
            wire(restart_position(123_456_789_012)),
            "350 Restart position accepted (123456789012).\r\n"
        );
        assert_eq!(wire(size(1603)), "213 1603\r\n");
        assert_eq!(
            wire(modification_time(1_594_730_280)),
            "213 20200714123800\r\n"
        );
        assert_eq!(
            wire(unique_file(b"report.txt.1")),
            "150 FILE: report.txt.1\r\n"
        );
    }

    #[test]
    fn umask_in_vsftpds_octal() {
        assert_eq!(
            wire(current_umask(0o022)),
            "200 Your current UMASK is 022\r\n"
        );
        assert_eq!(wire(umask_set(0o777)), "200 UMASK set to 0777\r\n");
        assert_eq!(wire(umask_set(0)), "200 UMASK set to 0\r\n");
    }

    #[test]
    fn site_help_depends_on_chmod() {
        assert_eq!(wire(site_help(true)), "214 CHMOD UMASK HELP\r\n");
        assert_eq!(wire(site_help(false)), "214 UMASK HELP\r\n");
    }

    #[test]
    fn mlst_reply() {
        assert_eq!(
            wire(mlst(b"/pub", b"type=dir;modify=20200714123800; /pub")),
            "250-Listing /pub\r\n type=dir;modify=20200714123800; /pub\r\n250 End\r\n"
        );
        assert_eq!(
            wire(mlst_options_set(FactSet::parse("Type;size;bogus;"))),
            "200 MLST OPTS type;size;\r\n"
        );
    }

    #[test]
    fn empty_reply_still_frames() {
        assert_eq!(wire(Reply::multi(220, Vec::<Vec<u8>>::new())), "220 \r\n");
    }

    #[test]
    fn codes_match_vsftpds_ftpcodes() {
        for (reply, code) in [
            (NOOP_OK, 200),
            (ALLO_IGNORED, 202),
            (NO_TRANSFER_TO_ABORT, 225),
            (ABORT_OK, 226),
            (USE_PORT_OR_PASV_FIRST, 425),
            (WRITE_NETWORK_FAILED, 426),
            (READ_LOCAL_FILE_FAILED, 451),
            (OPTION_NOT_UNDERSTOOD, 501),
            (REIN_NOT_IMPLEMENTED, 502),
            (RNFR_REQUIRED_FIRST, 503),
            (BAD_STRU, 504),
            (BAD_NETWORK_PROTOCOL, 522),
            (NO_PERMISSION, 550),
            (COULD_NOT_CREATE_FILE, 553),
        ] {
            assert_eq!(reply.code, code, "{}", reply.text);
        }
    }
}
