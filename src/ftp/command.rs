//! One control line to one typed command, arguments read exactly as vsftpd 3.0.3 reads them.
//!
//! vsftpd splits a line at its first space: the verb before it (case-insensitive), the
//! argument after it kept verbatim, further spaces included. It does not reject a missing
//! argument: `RETR` alone asks for the file named "" and fails like any missing file, so path
//! arguments here may be empty and the session answers as vsftpd does.
//!
//! vsftpd decides whether a command is allowed (`cmds_allowed`, `cmds_denied`, `port_enable`,
//! `pasv_enable`, EPSV ALL, `write_enable`...) from the verb alone, before reading the argument:
//! a session should check [`verb`] first and call [`parse`] only for commands it would run, so
//! that, say, a malformed PORT with `port_enable=NO` still gets `550 Permission denied.`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::listing;
use super::replies::{self, FixedReply};

/// TYPE's argument. vsftpd takes `I`, `L8` and `L 8` as binary, `A` and `A N` as ASCII.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferType {
    Ascii,
    Image,
}

/// EPSV's argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpsvArg {
    /// No argument: any protocol, the control connection's.
    None,
    /// `EPSV ALL`: from now on PORT and PASV get `550 Permission denied.` (vsftpd still
    /// takes EPRT).
    All,
    /// `1` (IPv4) or `2` (IPv6). vsftpd refuses `2` on an IPv4 control connection with
    /// `522 Bad network protocol.`; the session knows which it is.
    Protocol(u8),
}

/// SITE's sub-commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteCommand {
    /// `SITE CHMOD 755 file`: the mode, already masked to 0777 as vsftpd does (no setuid), and
    /// the path. An empty path means an argument was missing: `500 SITE CHMOD needs 2 arguments.`,
    /// but only once CHMOD is known to be enabled; otherwise `500 Unknown SITE command.`.
    Chmod(u32, Vec<u8>),
    /// `SITE UMASK` reports, `SITE UMASK 027` sets (masked to 0777).
    Umask(Option<u32>),
    Help,
    /// Anything else (`500 Unknown SITE command.`): the whole SITE argument.
    Other(Vec<u8>),
}

/// MDTM with a time, vsftpd's `mdtm_write`: `MDTM 20240101120000 file` sets the time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetModificationTime {
    /// The given time read as UTC. With `use_localtime=YES` vsftpd reads it as local time:
    /// the session subtracts the UTC offset.
    pub unix_time: i64,
    pub path: Vec<u8>,
}

/// A control-connection command. Aliases map to one variant: XPWD to `Pwd`, XCWD to `Cwd`,
/// XCUP to `Cdup`, XMKD to `Mkd`, XRMD to `Rmd`, P@SW to `Pasv` (a firewall-mangled PASV).
/// Arguments vsftpd ignores are not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// An empty line. vsftpd answers nothing, to work around NAT devices that send them.
    Empty,
    User(Vec<u8>),
    Pass(Vec<u8>),
    /// `502 ACCT not implemented.` after login.
    Acct,
    Cwd(Vec<u8>),
    Cdup,
    /// `502 SMNT not implemented.` after login.
    Smnt,
    Quit,
    /// `502 REIN not implemented.` after login.
    Rein,
    /// The session must still refuse addresses other than the client's and ports below 1024
    /// (`500 Illegal PORT command.`) unless `port_promiscuous`.
    Port(SocketAddrV4),
    /// As `Port`, answered with `500 Illegal EPRT command.`; an IPv6 address on an IPv4 control
    /// connection is `500 Bad EPRT protocol.`.
    Eprt(SocketAddr),
    Pasv,
    Epsv(EpsvArg),
    Type(TransferType),
    /// Only `F` is accepted (`200 Structure set to F.`).
    Stru,
    /// Only `S` is accepted (`200 Mode set to S.`).
    Mode,
    Retr(Vec<u8>),
    Stor(Vec<u8>),
    /// vsftpd's STOU takes an optional base name: the file is `name`, or `name.1`, `name.2`...
    /// if taken; with no name `STOU.1`, `STOU.2`...
    Stou(Vec<u8>),
    Appe(Vec<u8>),
    /// `202 ALLO command ignored.`
    Allo,
    /// vsftpd reads anything that is not 1 to 15 decimal digits as 0.
    Rest(u64),
    Rnfr(Vec<u8>),
    Rnto(Vec<u8>),
    Abor,
    Dele(Vec<u8>),
    Rmd(Vec<u8>),
    Mkd(Vec<u8>),
    Pwd,
    /// The raw argument, options included: see `listing::parse_list_args`.
    List(Vec<u8>),
    Nlst(Vec<u8>),
    Site(SiteCommand),
    Syst,
    /// `None`: the session's status (211); `Some(path)`: a listing on the control connection.
    Stat(Option<Vec<u8>>),
    /// vsftpd ignores HELP's argument.
    Help,
    Noop,
    Feat,
    /// `OPTS UTF8 ON` is ("UTF8", "ON"): the option upper-cased, then the rest of the line
    /// as sent (vsftpd compares the whole argument, case-insensitively, with
    /// `UTF8 ON`, so "UTF8  ON" is refused).
    Opts(String, String),
    Size(Vec<u8>),
    /// `path` is the whole argument. vsftpd first looks for a file of that name; only if there
    /// is none, and `mdtm_write=YES`, does it use `set` (present when the argument looks like
    /// `YYYYMMDD[HHMMSS[.sss]] name`).
    Mdtm {
        path: Vec<u8>,
        set: Option<SetModificationTime>,
    },
    /// RFC 3659 (not in vsftpd). `None` is the current directory.
    Mlst(Option<Vec<u8>>),
    Mlsd(Option<Vec<u8>>),
    /// TLS commands: without `ssl_enable` vsftpd answers `550 Permission denied.` after
    /// login and `530 Please login with USER and PASS.` before.
    /// RFC 4217's AUTH, its mechanism as given (`TLS`, `SSL`, ...).
    Auth(String),
    Pbsz(String),
    Prot(String),
    /// GET, POST, HEAD, OPTIONS or CONNECT: after login vsftpd 3.0.3 answers
    /// `500 HTTP protocol commands not allowed.` and closes the session.
    Http,
}

/// Why a line is not a command to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not a verb ringd knows: `500 Unknown command.` after login, and before login, like
    /// every command but USER, PASS, QUIT, FEAT and OPTS, `530 Please login with USER and PASS.`.
    #[error("unknown command")]
    Unknown,
    /// A known verb with an argument vsftpd refuses, and vsftpd's reply for it (one of the
    /// `replies` constants). PORT and EPRT end any earlier PORT/PASV setup even when their
    /// argument is refused, as in vsftpd.
    #[error("{text}")]
    Syntax { code: u16, text: &'static str },
}

impl CommandError {
    const fn refused(reply: FixedReply) -> Self {
        CommandError::Syntax {
            code: reply.code,
            text: reply.text,
        }
    }

    /// The reply after login.
    pub fn reply(self) -> FixedReply {
        match self {
            CommandError::Unknown => replies::UNKNOWN_COMMAND,
            CommandError::Syntax { code, text } => FixedReply::new(code, text),
        }
    }
}

/// The upper-cased verb, as vsftpd compares it with `cmds_allowed`/`cmds_denied` and logs it:
/// everything before the first space. A line of one space is the verb " ", as in vsftpd.
pub fn verb(line: &[u8]) -> String {
    String::from_utf8_lossy(split_verb(line).0).to_ascii_uppercase()
}

fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    if line == b" " {
        return (line, b"");
    }
    split_once(line, b' ')
}

/// Splits at the first `separator`; without one, everything is the left part (vsftpd's
/// `str_split_char`).
fn split_once(text: &[u8], separator: u8) -> (&[u8], &[u8]) {
    match text.iter().position(|&byte| byte == separator) {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, b""),
    }
}

/// Reads one line from [`telnet::LineReader`](super::telnet::LineReader).
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    if line.is_empty() {
        return Ok(Command::Empty);
    }
    let (verb, arg) = split_verb(line);
    let mut upper = [0u8; 8];
    // No verb ringd knows is longer than 7 bytes.
    if verb.len() > upper.len() {
        return Err(CommandError::Unknown);
    }
    let upper = &mut upper[..verb.len()];
    upper.copy_from_slice(verb);
    upper.make_ascii_uppercase();
    let path = || arg.to_vec();
    let optional_path = || (!arg.is_empty()).then(|| arg.to_vec());
    let command = match &*upper {
        b"USER" => Command::User(path()),
        b"PASS" => Command::Pass(path()),
        b"ACCT" => Command::Acct,
        b"CWD" | b"XCWD" => Command::Cwd(path()),
        b"CDUP" | b"XCUP" => Command::Cdup,
        b"SMNT" => Command::Smnt,
        b"QUIT" => Command::Quit,
        b"REIN" => Command::Rein,
        b"PORT" => {
            Command::Port(parse_port(arg).ok_or(CommandError::refused(replies::ILLEGAL_PORT))?)
        }
        b"EPRT" => Command::Eprt(parse_eprt(arg)?),
        b"PASV" | b"P@SW" => Command::Pasv,
        b"EPSV" => Command::Epsv(parse_epsv(arg)?),
        b"TYPE" => Command::Type(parse_type(arg)?),
        b"STRU" if arg.eq_ignore_ascii_case(b"F") => Command::Stru,
        b"STRU" => return Err(CommandError::refused(replies::BAD_STRU)),
        b"MODE" if arg.eq_ignore_ascii_case(b"S") => Command::Mode,
        b"MODE" => return Err(CommandError::refused(replies::BAD_MODE)),
        b"RETR" => Command::Retr(path()),
        b"STOR" => Command::Stor(path()),
        b"STOU" => Command::Stou(path()),
        b"APPE" => Command::Appe(path()),
        b"ALLO" => Command::Allo,
        b"REST" => Command::Rest(parse_restart_offset(arg)),
        b"RNFR" => Command::Rnfr(path()),
        b"RNTO" => Command::Rnto(path()),
        b"ABOR" => Command::Abor,
        b"DELE" => Command::Dele(path()),
        b"RMD" | b"XRMD" => Command::Rmd(path()),
        b"MKD" | b"XMKD" => Command::Mkd(path()),
        b"PWD" | b"XPWD" => Command::Pwd,
        b"LIST" => Command::List(path()),
        b"NLST" => Command::Nlst(path()),
        b"SITE" => Command::Site(parse_site(arg)),
        b"SYST" => Command::Syst,
        b"STAT" => Command::Stat(optional_path()),
        b"HELP" => Command::Help,
        b"NOOP" => Command::Noop,
        b"FEAT" => Command::Feat,
        b"OPTS" => {
            let (name, value) = split_once(arg, b' ');
            Command::Opts(
                String::from_utf8_lossy(name).to_ascii_uppercase(),
                String::from_utf8_lossy(value).into_owned(),
            )
        }
        b"SIZE" => Command::Size(path()),
        b"MDTM" => Command::Mdtm {
            path: path(),
            set: parse_mdtm_set(arg),
        },
        b"MLST" => Command::Mlst(optional_path()),
        b"MLSD" => Command::Mlsd(optional_path()),
        b"AUTH" => Command::Auth(String::from_utf8_lossy(arg).into_owned()),
        b"PBSZ" => Command::Pbsz(String::from_utf8_lossy(arg).into_owned()),
        b"PROT" => Command::Prot(String::from_utf8_lossy(arg).into_owned()),
        b"GET" | b"POST" | b"HEAD" | b"OPTIONS" | b"CONNECT" => Command::Http,
        _ => return Err(CommandError::Unknown),
    };
    Ok(command)
}

/// C's atoi, which vsftpd uses for numbers in PORT, EPRT and EPSV: leading white space, a sign,
/// then digits up to the first non-digit; nothing readable is 0. Saturates instead of
/// overflowing, so huge numbers stay out of every range checked.
fn atoi(text: &[u8]) -> i64 {
    let text = match text
        .iter()
        .position(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
    {
        Some(start) => &text[start..],
        None => return 0,
    };
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude =
        digits
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .fold(0i64, |value, digit| {
                value
                    .saturating_mul(10)
                    .saturating_add(i64::from(digit - b'0'))
            });
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// vsftpd's `parse_uchar_string_sep`: exactly `N` fields of 0..=255 separated by `separator`
/// (each read with atoi, so `1, 2` is fine and an empty field is 0); a separator after the
/// last field is tolerated.
fn parse_bytes<const N: usize>(text: &[u8], separator: u8) -> Option<[u8; N]> {
    let mut values = [0u8; N];
    let mut rest = text;
    for (index, value) in values.iter_mut().enumerate() {
        let (field, right) = split_once(rest, separator);
        let is_last = index == N - 1;
        if right.is_empty() != is_last {
            return None;
        }
        *value = u8::try_from(atoi(field)).ok()?;
        rest = right;
    }
    Some(values)
}

/// `PORT h1,h2,h3,h4,p1,p2`.
fn parse_port(arg: &[u8]) -> Option<SocketAddrV4> {
    let [h1, h2, h3, h4, p1, p2] = parse_bytes::<6>(arg, b',')?;
    Some(SocketAddrV4::new(
        Ipv4Addr::new(h1, h2, h3, h4),
        u16::from_be_bytes([p1, p2]),
    ))
}

/// `EPRT |1|132.235.1.2|6275|` or `EPRT |2|1080::8:800:200C:417A|5282|` (RFC 2428), read the
/// way vsftpd does: the final `|` may be missing, an IPv6 zone (`%eth0`) is ignored.
fn parse_eprt(arg: &[u8]) -> Result<SocketAddr, CommandError> {
    const BAD: CommandError = CommandError::refused(replies::BAD_EPRT);
    let (before, rest) = split_once(arg, b'|');
    if !before.is_empty() {
        return Err(BAD);
    }
    let (protocol, rest) = split_once(rest, b'|');
    let protocol = atoi(protocol);
    if protocol != 1 && protocol != 2 {
        return Err(CommandError::refused(replies::BAD_EPRT_PROTOCOL));
    }
    let (address, rest) = split_once(rest, b'|');
    let (port, after) = split_once(rest, b'|');
    if !after.is_empty() || port.is_empty() {
        return Err(BAD);
    }
    let port = u16::try_from(atoi(port)).map_err(|_| BAD)?;
    if protocol == 1 {
        let [a, b, c, d] = parse_bytes::<4>(address, b'.').ok_or(BAD)?;
        Ok(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(a, b, c, d),
            port,
        )))
    } else {
        let (address, _zone) = split_once(address, b'%');
        let address: Ipv6Addr = std::str::from_utf8(address)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or(BAD)?;
        Ok(SocketAddr::V6(SocketAddrV6::new(address, port, 0, 0)))
    }
}

fn parse_epsv(arg: &[u8]) -> Result<EpsvArg, CommandError> {
    if arg.is_empty() {
        return Ok(EpsvArg::None);
    }
    if arg.eq_ignore_ascii_case(b"ALL") {
        return Ok(EpsvArg::All);
    }
    match atoi(arg) {
        1 => Ok(EpsvArg::Protocol(1)),
        2 => Ok(EpsvArg::Protocol(2)),
        _ => Err(CommandError::refused(replies::BAD_NETWORK_PROTOCOL)),
    }
}

fn parse_type(arg: &[u8]) -> Result<TransferType, CommandError> {
    let is = |accepted: &[u8]| arg.eq_ignore_ascii_case(accepted);
    if is(b"I") || is(b"L8") || is(b"L 8") {
        Ok(TransferType::Image)
    } else if is(b"A") || is(b"A N") {
        Ok(TransferType::Ascii)
    } else {
        Err(CommandError::refused(replies::UNRECOGNISED_TYPE))
    }
}

/// vsftpd's `vsf_sysutil_a_to_filesize_t`: decimal digits only, at most 15 of them
/// (petabytes), anything else 0.
fn parse_restart_offset(arg: &[u8]) -> u64 {
    if arg.len() > 15 || !arg.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    arg.iter()
        .fold(0, |value, digit| value * 10 + u64::from(digit - b'0'))
}

/// vsftpd's `vsf_sysutil_octal_to_uint`: the leading octal digits, the rest ignored.
fn parse_octal(text: &[u8]) -> u32 {
    text.iter()
        .take_while(|byte| matches!(byte, b'0'..=b'7'))
        .fold(0u32, |value, digit| {
            value.wrapping_shl(3).wrapping_add(u32::from(digit - b'0'))
        })
}

fn parse_site(arg: &[u8]) -> SiteCommand {
    let (sub_command, rest) = split_once(arg, b' ');
    if sub_command.eq_ignore_ascii_case(b"CHMOD") {
        let (mode, path) = split_once(rest, b' ');
        SiteCommand::Chmod(parse_octal(mode) & 0o777, path.to_vec())
    } else if sub_command.eq_ignore_ascii_case(b"UMASK") {
        SiteCommand::Umask((!rest.is_empty()).then(|| parse_octal(rest) & 0o777))
    } else if sub_command.eq_ignore_ascii_case(b"HELP") {
        SiteCommand::Help
    } else {
        SiteCommand::Other(arg.to_vec())
    }
}

/// The `time name` form of MDTM, recognised as vsftpd does: a digit first, and the first space
/// after 8 (date) or 14 (date and time) characters, or later with a `.` at 14 (fractions,
/// ignored). Unlike vsftpd, which reads `2024ab01` as best it can, the date and time must be
/// digits.
fn parse_mdtm_set(arg: &[u8]) -> Option<SetModificationTime> {
    let space = arg.iter().position(|&byte| byte == b' ')?;
    let shape_ok = space == 8 || space == 14 || (space > 15 && arg[14] == b'.');
    if !arg.first()?.is_ascii_digit() || !shape_ok {
        return None;
    }
    let digits = &arg[..space.min(14)];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| digits.get(range).map_or(0, atoi);
    let unix_time = listing::unix_time_from_civil(
        number(0..4),
        number(4..6),
        number(6..8),
        number(8..10),
        number(10..12),
        number(12..14),
    );
    Some(SetModificationTime {
        unix_time,
        path: arg[space + 1..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap_or_else(|error| panic!("{line:?}: {error:?}"))
    }

    fn syntax(line: &str) -> FixedReply {
        match parse(line.as_bytes()) {
            Err(error @ CommandError::Syntax { .. }) => error.reply(),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn bytes(text: &str) -> Vec<u8> {
        text.as_bytes().to_vec()
    }

    fn port(a: u8, b: u8, c: u8, d: u8, port: u16) -> Command {
        Command::Port(SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port))
    }

    #[test]
    fn verbs_are_case_insensitive_and_arguments_verbatim() {
        assert_eq!(ok("user Anonymous"), Command::User(bytes("Anonymous")));
        assert_eq!(
            ok("PASS  two  spaces "),
            Command::Pass(bytes(" two  spaces "))
        );
        assert_eq!(ok("RETR my file.txt"), Command::Retr(bytes("my file.txt")));
        assert_eq!(ok("Stor x"), Command::Stor(bytes("x")));
    }

    #[test]
    fn missing_arguments_are_empty_paths() {
        for (line, command) in [
            ("USER", Command::User(Vec::new())),
            ("PASS", Command::Pass(Vec::new())),
            ("CWD", Command::Cwd(Vec::new())),
            ("RETR", Command::Retr(Vec::new())),
            ("STOR", Command::Stor(Vec::new())),
            ("STOU", Command::Stou(Vec::new())),
            ("APPE", Command::Appe(Vec::new())),
            ("RNFR", Command::Rnfr(Vec::new())),
            ("RNTO", Command::Rnto(Vec::new())),
            ("DELE", Command::Dele(Vec::new())),
            ("RMD", Command::Rmd(Vec::new())),
            ("MKD", Command::Mkd(Vec::new())),
            ("LIST", Command::List(Vec::new())),
            ("NLST", Command::Nlst(Vec::new())),
            ("SIZE", Command::Size(Vec::new())),
            ("STAT", Command::Stat(None)),
            ("MLST", Command::Mlst(None)),
            ("MLSD", Command::Mlsd(None)),
            (
                "MDTM",
                Command::Mdtm {
                    path: Vec::new(),
                    set: None,
                },
            ),
        ] {
            assert_eq!(ok(line), command, "{line}");
        }
    }

    #[test]
    fn every_rfc959_command() {
        assert_eq!(ok("ACCT x"), Command::Acct);
        assert_eq!(ok("CWD /pub"), Command::Cwd(bytes("/pub")));
        assert_eq!(ok("CDUP"), Command::Cdup);
        assert_eq!(ok("SMNT /"), Command::Smnt);
        assert_eq!(ok("QUIT"), Command::Quit);
        assert_eq!(ok("REIN"), Command::Rein);
        assert_eq!(ok("PASV"), Command::Pasv);
        assert_eq!(ok("STRU F"), Command::Stru);
        assert_eq!(ok("MODE s"), Command::Mode);
        assert_eq!(ok("STOU report"), Command::Stou(bytes("report")));
        assert_eq!(ok("APPE log"), Command::Appe(bytes("log")));
        assert_eq!(ok("ALLO 1000"), Command::Allo);
        assert_eq!(ok("RNFR a"), Command::Rnfr(bytes("a")));
        assert_eq!(ok("RNTO b"), Command::Rnto(bytes("b")));
        assert_eq!(ok("ABOR"), Command::Abor);
        assert_eq!(ok("DELE a"), Command::Dele(bytes("a")));
        assert_eq!(ok("RMD d"), Command::Rmd(bytes("d")));
        assert_eq!(ok("MKD d"), Command::Mkd(bytes("d")));
        assert_eq!(ok("PWD"), Command::Pwd);
        assert_eq!(ok("LIST -la pub"), Command::List(bytes("-la pub")));
        assert_eq!(ok("NLST *.txt"), Command::Nlst(bytes("*.txt")));
        assert_eq!(ok("SYST"), Command::Syst);
        assert_eq!(ok("STAT pub"), Command::Stat(Some(bytes("pub"))));
        assert_eq!(ok("HELP SITE"), Command::Help);
        assert_eq!(ok("NOOP"), Command::Noop);
    }

    #[test]
    fn extension_commands() {
        assert_eq!(ok("FEAT"), Command::Feat);
        assert_eq!(ok("SIZE a.iso"), Command::Size(bytes("a.iso")));
        assert_eq!(ok("MLST pub"), Command::Mlst(Some(bytes("pub"))));
        assert_eq!(ok("MLSD"), Command::Mlsd(None));
        assert_eq!(ok("PBSZ 0"), Command::Pbsz("0".into()));
        assert_eq!(ok("PROT P"), Command::Prot("P".into()));
    }

    #[test]
    fn x_aliases() {
        assert_eq!(ok("XPWD"), Command::Pwd);
        assert_eq!(ok("XCWD pub"), Command::Cwd(bytes("pub")));
        assert_eq!(ok("XCUP"), Command::Cdup);
        assert_eq!(ok("XMKD d"), Command::Mkd(bytes("d")));
        assert_eq!(ok("XRMD d"), Command::Rmd(bytes("d")));
        assert_eq!(ok("P@SW"), Command::Pasv);
    }

    #[test]
    fn verb_is_what_cmds_allowed_compares() {
        assert_eq!(verb(b"xpwd"), "XPWD");
        assert_eq!(verb(b"retr a b"), "RETR");
        assert_eq!(verb(b""), "");
        assert_eq!(verb(b" "), " ");
        assert_eq!(verb(b" NOOP"), "");
        assert_eq!(verb(b"caf\xe9 x"), "CAF\u{FFFD}");
    }

    #[test]
    fn empty_and_odd_lines() {
        assert_eq!(ok(""), Command::Empty);
        assert_eq!(parse(b" "), Err(CommandError::Unknown));
        assert_eq!(parse(b"  "), Err(CommandError::Unknown));
        assert_eq!(parse(b" NOOP"), Err(CommandError::Unknown));
        assert_eq!(parse(b"NOOP\t"), Err(CommandError::Unknown));
        assert_eq!(
            parse(b"LPRT 4,4,1,2,3,4,2,0,20"),
            Err(CommandError::Unknown)
        );
        assert_eq!(parse(b"AUTH TLS"), Ok(Command::Auth("TLS".into())));
        assert_eq!(parse(b"SUPERLONGVERB x"), Err(CommandError::Unknown));
        assert_eq!(parse(b"\xff\xfe"), Err(CommandError::Unknown));
        assert_eq!(CommandError::Unknown.reply(), replies::UNKNOWN_COMMAND);
    }

    #[test]
    fn http_verbs_are_recognised() {
        for line in [
            "GET / HTTP/1.1",
            "post /x",
            "HEAD /",
            "OPTIONS *",
            "CONNECT a:443",
        ] {
            assert_eq!(ok(line), Command::Http, "{line}");
        }
    }

    #[test]
    fn port_in_range() {
        assert_eq!(ok("PORT 192,168,10,1,4,1"), port(192, 168, 10, 1, 1025));
        assert_eq!(ok("PORT 0,0,0,0,0,0"), port(0, 0, 0, 0, 0));
        assert_eq!(
            ok("PORT 255,255,255,255,255,255"),
            port(255, 255, 255, 255, 65535)
        );
    }

    #[test]
    fn port_read_with_atoi_like_vsftpd() {
        assert_eq!(ok("PORT 127, 0, 0, 1, 19, 137"), port(127, 0, 0, 1, 5001));
        assert_eq!(ok("PORT 127,,0,1,19,137"), port(127, 0, 0, 1, 5001));
        assert_eq!(ok("PORT 127,0,0,1,19,137,"), port(127, 0, 0, 1, 5001));
        assert_eq!(ok("PORT 127,0,0,1x,19,137"), port(127, 0, 0, 1, 5001));
    }

    #[test]
    fn port_errors() {
        for line in [
            "PORT",
            "PORT 1,2,3,4,5",
            "PORT 1,2,3,4,5,",
            "PORT 1,2,3,4,5,6,7",
            "PORT 256,0,0,1,4,1",
            "PORT 1,2,3,4,5,256",
            "PORT -1,2,3,4,5,6",
            "PORT 1,2,3,4,99999999999999999999999,6",
            "PORT 1.2.3.4.5.6",
        ] {
            assert_eq!(syntax(line), replies::ILLEGAL_PORT, "{line}");
        }
        assert_eq!(replies::ILLEGAL_PORT.code, 500);
    }

    #[test]
    fn eprt_forms() {
        assert_eq!(
            ok("EPRT |1|132.235.1.2|6275|"),
            Command::Eprt("132.235.1.2:6275".parse().unwrap())
        );
        assert_eq!(
            ok("EPRT |2|1080::8:800:200C:417A|5282|"),
            Command::Eprt("[1080::8:800:200c:417a]:5282".parse().unwrap())
        );
        assert_eq!(
            ok("EPRT |2|::1|50000|"),
            Command::Eprt("[::1]:50000".parse().unwrap())
        );
        assert_eq!(
            ok("EPRT |2|fe80::1%eth0|50000|"),
            Command::Eprt("[fe80::1]:50000".parse().unwrap())
        );
        assert_eq!(
            ok("EPRT |2|::ffff:10.0.0.1|21|"),
            Command::Eprt("[::ffff:10.0.0.1]:21".parse().unwrap())
        );
        // vsftpd accepts a missing final delimiter.
        assert_eq!(
            ok("EPRT |1|10.0.0.1|2000"),
            Command::Eprt("10.0.0.1:2000".parse().unwrap())
        );
    }

    #[test]
    fn eprt_errors() {
        for line in [
            "EPRT x|1|1.2.3.4|5|",
            "EPRT |1|1.2.3|5|",
            "EPRT |1|1.2.3.4.5|5|",
            "EPRT |1|1.2.3.256|5|",
            "EPRT |1|1.2.3.4||",
            "EPRT |1|1.2.3.4|5|6|",
            "EPRT |1|1.2.3.4|65536|",
            "EPRT |1|1.2.3.4|-1|",
            "EPRT |2|1.2.3.4|5|",
            "EPRT |2|::g|5|",
            "EPRT |1|1.2.3.4|",
        ] {
            assert_eq!(syntax(line), replies::BAD_EPRT, "{line}");
        }
        for line in [
            "EPRT",
            "EPRT |3|1.2.3.4|5|",
            "EPRT |0|1.2.3.4|5|",
            "EPRT ||1.2.3.4|5|",
        ] {
            assert_eq!(syntax(line), replies::BAD_EPRT_PROTOCOL, "{line}");
        }
    }

    #[test]
    fn epsv_arguments() {
        assert_eq!(ok("EPSV"), Command::Epsv(EpsvArg::None));
        assert_eq!(ok("EPSV all"), Command::Epsv(EpsvArg::All));
        assert_eq!(ok("EPSV 1"), Command::Epsv(EpsvArg::Protocol(1)));
        assert_eq!(ok("EPSV 2"), Command::Epsv(EpsvArg::Protocol(2)));
        for line in ["EPSV 3", "EPSV 0", "EPSV x", "EPSV  "] {
            assert_eq!(syntax(line), replies::BAD_NETWORK_PROTOCOL, "{line}");
        }
    }

    #[test]
    fn type_variants() {
        for line in ["TYPE I", "type i", "TYPE L8", "TYPE l 8"] {
            assert_eq!(ok(line), Command::Type(TransferType::Image), "{line}");
        }
        for line in ["TYPE A", "TYPE a n"] {
            assert_eq!(ok(line), Command::Type(TransferType::Ascii), "{line}");
        }
        for line in ["TYPE", "TYPE E", "TYPE A T", "TYPE L 7", "TYPE I "] {
            assert_eq!(syntax(line), replies::UNRECOGNISED_TYPE, "{line}");
        }
    }

    #[test]
    fn stru_and_mode_accept_only_f_and_s() {
        assert_eq!(ok("STRU f"), Command::Stru);
        assert_eq!(syntax("STRU R"), replies::BAD_STRU);
        assert_eq!(syntax("STRU"), replies::BAD_STRU);
        assert_eq!(syntax("MODE B"), replies::BAD_MODE);
        assert_eq!(syntax("MODE"), replies::BAD_MODE);
    }

    #[test]
    fn rest_like_vsftpd() {
        assert_eq!(ok("REST 100"), Command::Rest(100));
        assert_eq!(ok("REST 0"), Command::Rest(0));
        assert_eq!(
            ok("REST 999999999999999"),
            Command::Rest(999_999_999_999_999)
        );
        // Too big, signed, spaced or not a number: vsftpd restarts at 0.
        for line in [
            "REST 1000000000000000",
            "REST -5",
            "REST +5",
            "REST  5",
            "REST 5x",
            "REST",
        ] {
            assert_eq!(ok(line), Command::Rest(0), "{line}");
        }
    }

    #[test]
    fn site_commands() {
        assert_eq!(
            ok("SITE CHMOD 755 run.sh"),
            Command::Site(SiteCommand::Chmod(0o755, bytes("run.sh")))
        );
        assert_eq!(
            ok("site chmod 0644 my file"),
            Command::Site(SiteCommand::Chmod(0o644, bytes("my file")))
        );
        // No setuid through CHMOD; digits 8 and 9 end the number.
        assert_eq!(
            ok("SITE CHMOD 4755 x"),
            Command::Site(SiteCommand::Chmod(0o755, bytes("x")))
        );
        assert_eq!(
            ok("SITE CHMOD 78 x"),
            Command::Site(SiteCommand::Chmod(0o7, bytes("x")))
        );
        assert_eq!(
            ok("SITE CHMOD abc x"),
            Command::Site(SiteCommand::Chmod(0, bytes("x")))
        );
        assert_eq!(
            ok("SITE CHMOD 755"),
            Command::Site(SiteCommand::Chmod(0o755, Vec::new()))
        );
        assert_eq!(
            ok("SITE CHMOD"),
            Command::Site(SiteCommand::Chmod(0, Vec::new()))
        );
        assert_eq!(ok("SITE UMASK"), Command::Site(SiteCommand::Umask(None)));
        assert_eq!(
            ok("SITE UMASK 027"),
            Command::Site(SiteCommand::Umask(Some(0o27)))
        );
        assert_eq!(
            ok("SITE umask 77777"),
            Command::Site(SiteCommand::Umask(Some(0o777)))
        );
        assert_eq!(ok("SITE HELP"), Command::Site(SiteCommand::Help));
        assert_eq!(
            ok("SITE EXEC ls"),
            Command::Site(SiteCommand::Other(bytes("EXEC ls")))
        );
        assert_eq!(ok("SITE"), Command::Site(SiteCommand::Other(Vec::new())));
    }

    #[test]
    fn opts_keeps_the_value_as_sent() {
        assert_eq!(
            ok("OPTS utf8 on"),
            Command::Opts("UTF8".into(), "on".into())
        );
        assert_eq!(
            ok("OPTS UTF8  ON"),
            Command::Opts("UTF8".into(), " ON".into())
        );
        assert_eq!(
            ok("OPTS MLST type;size;"),
            Command::Opts("MLST".into(), "type;size;".into())
        );
        assert_eq!(ok("OPTS"), Command::Opts(String::new(), String::new()));
    }

    #[test]
    fn mdtm_read() {
        assert_eq!(
            ok("MDTM notes.txt"),
            Command::Mdtm {
                path: bytes("notes.txt"),
                set: None
            }
        );
        // A plain name with a space stays a plain name.
        assert_eq!(
            ok("MDTM my notes.txt"),
            Command::Mdtm {
                path: bytes("my notes.txt"),
                set: None
            }
        );
    }

    #[test]
    fn mdtm_with_a_time() {
        let set = |line: &str| match ok(line) {
            Command::Mdtm {
                set: Some(set),
                path,
            } => {
                assert_eq!(path, line.as_bytes()[5..].to_vec());
                set
            }
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            set("MDTM 20200714123800 a b.txt"),
            SetModificationTime {
                unix_time: 1_594_730_280,
                path: bytes("a b.txt")
            }
        );
        assert_eq!(set("MDTM 20200714 a").unix_time, 1_594_684_800);
        assert_eq!(set("MDTM 20200714123800.123 a").unix_time, 1_594_730_280);
        // Month 13 carries into the next year, as mktime does.
        assert_eq!(set("MDTM 20191301 a").unix_time, 1_577_836_800);
    }

    #[test]
    fn mdtm_time_shapes_vsftpd_does_not_take() {
        for line in [
            "MDTM 2020071412 a",
            "MDTM 202007141238001 a",
            "MDTM x0200714123800 a",
            "MDTM 2020ab14123800 a",
            "MDTM 202007141238000x a",
        ] {
            match ok(line) {
                Command::Mdtm { set: None, .. } => {}
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn atoi_matches_c() {
        assert_eq!(atoi(b"42"), 42);
        assert_eq!(atoi(b"  -7x"), -7);
        assert_eq!(atoi(b"+3"), 3);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"x1"), 0);
        assert_eq!(atoi(b"\t\n12"), 12);
        assert_eq!(atoi(b"99999999999999999999999999"), i64::MAX);
    }

    #[test]
    fn non_utf8_arguments_survive() {
        assert_eq!(
            ok_bytes(b"RETR caf\xe9.txt"),
            Command::Retr(b"caf\xe9.txt".to_vec())
        );
        assert_eq!(ok_bytes(b"MKD \xff"), Command::Mkd(b"\xff".to_vec()));
    }

    fn ok_bytes(line: &[u8]) -> Command {
        parse(line).expect("parses")
    }

    #[test]
    fn error_display() {
        assert_eq!(
            CommandError::refused(replies::ILLEGAL_PORT).to_string(),
            "Illegal PORT command."
        );
        assert_eq!(
            CommandError::refused(replies::BAD_MODE).reply(),
            replies::BAD_MODE
        );
    }
}
