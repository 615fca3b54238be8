//! The kinds of value a vsftpd.conf option takes: how each is read from `option=value` and shown by `ringd --check`.

use super::*;

/// How one value type is read from `option=value` and written back by `ringd --check`.
pub(super) trait Kind {
    type Value;
    /// `value` is what follows the first `=`, trailing blanks removed; empty when the line has no
    /// `=` (vsftpd treats both alike).
    fn parse(value: &str) -> Result<Self::Value, String>;
    fn show(value: &Self::Value) -> String;
    /// Something worth a comment in `ringd --check` about a value that was accepted.
    fn note(_value: &str, _parsed: &Self::Value) -> Option<String> {
        None
    }
}

/// YES/NO, as vsftpd: YES, TRUE, 1, NO, FALSE, 0 in any case.
pub(super) struct YesNo;
/// An unsigned number: decimal, or octal when it starts with 0, as vsftpd reads every number.
pub(super) struct Number;
/// A TCP port, read like a number.
pub(super) struct Port;
/// A umask, 0..0777, read like a number (write it with a leading 0).
pub(super) struct Umask;
/// A file mode, 0..07777, read like a number (write it with a leading 0).
pub(super) struct Mode;
/// A string vsftpd gives a default to: an empty value is refused.
pub(super) struct Text;
/// A path vsftpd gives a default to: an empty value is refused.
pub(super) struct File;
/// A string with no default: empty means unset.
pub(super) struct OptText;
/// Free text whose leading blanks are dropped, as vsftpd 3.0.3's greeting drops them
/// (`ftpd_banner=   Hello` greets with `220 Hello`); blanks inside are kept.
pub(super) struct Banner;
/// A path with no default: empty means unset.
pub(super) struct OptFile;
/// A comma-separated list of FTP command names.
pub(super) struct Commands;
/// An IPv4 address, or unset.
pub(super) struct V4;
/// An IPv6 address, or unset.
pub(super) struct V6;
/// `sendfile` or `splice`, in any case.
pub(super) struct ZeroCopy;
/// A comma-separated list of addresses and `ADDRESS/PREFIX-LENGTH` subnets, IPv4 or IPv6.
pub(super) struct Subnets;

pub(super) fn yes_no(value: bool) -> String {
    if value { "YES" } else { "NO" }.to_string()
}

impl Kind for YesNo {
    type Value = bool;
    fn parse(value: &str) -> Result<bool, String> {
        match value.to_ascii_uppercase().as_str() {
            "YES" | "TRUE" | "1" => Ok(true),
            "NO" | "FALSE" | "0" => Ok(false),
            "" => Err("expected YES or NO, found nothing".to_string()),
            _ => Err(format!("expected YES or NO, found `{value}`")),
        }
    }
    fn show(value: &bool) -> String {
        yes_no(*value)
    }
}

/// vsftpd's number syntax, strictly: digits only; a leading 0 means octal.
pub(super) fn parse_number(value: &str, max: u32, what: &str) -> Result<u32, String> {
    if value.is_empty() {
        return Err(format!("expected {what}, found nothing"));
    }
    let parsed = match value.strip_prefix('0') {
        Some(octal) => {
            if !octal.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(format!(
                    "expected {what}; a number that starts with 0 is octal (as in vsftpd) and \
                     takes only the digits 0 to 7, found `{value}`"
                ));
            }
            u64::from_str_radix(if octal.is_empty() { "0" } else { octal }, 8)
        }
        None => {
            if !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("expected {what}, found `{value}`"));
            }
            value.parse::<u64>()
        }
    };
    match parsed {
        Ok(n) if n <= u64::from(max) => Ok(n as u32),
        _ => Err(format!(
            "expected {what}, found `{value}`, which is out of range"
        )),
    }
}

impl Kind for Number {
    type Value = u32;
    fn parse(value: &str) -> Result<u32, String> {
        parse_number(value, u32::MAX, "a number 0..4294967295")
    }
    fn show(value: &u32) -> String {
        value.to_string()
    }
}

impl Kind for Port {
    type Value = u16;
    fn parse(value: &str) -> Result<u16, String> {
        parse_number(value, u32::from(u16::MAX), "a port number 0..65535").map(|n| n as u16)
    }
    fn show(value: &u16) -> String {
        value.to_string()
    }
}

/// Umasks and modes: octal with a leading 0, as vsftpd; the error for an out-of-range decimal
/// explains the trap.
pub(super) fn parse_mode(value: &str, max: u32, what: &str) -> Result<u32, String> {
    let n = parse_number(value, u32::MAX, what)?;
    if n <= max {
        return Ok(n);
    }
    if value.starts_with('0') {
        Err(format!("expected {what}, found `{value}`, above 0{max:o}"))
    } else {
        Err(format!(
            "expected {what}, found `{value}`: without a leading 0 vsftpd reads it as decimal \
             {n}, which is octal 0{n:o}, above 0{max:o}; write 0{value} for octal"
        ))
    }
}

pub(super) fn decimal_mode_note(value: &str, parsed: u32) -> Option<String> {
    (!value.starts_with('0') && parsed > 7).then(|| {
        format!(
            "no leading 0, so read as decimal {parsed} = octal 0{parsed:o}, as vsftpd does; \
             write 0{value} if octal was meant"
        )
    })
}

impl Kind for Umask {
    type Value = u32;
    fn parse(value: &str) -> Result<u32, String> {
        parse_mode(value, 0o777, "a umask such as 022")
    }
    fn show(value: &u32) -> String {
        format!("0{value:o}")
    }
    fn note(value: &str, parsed: &u32) -> Option<String> {
        decimal_mode_note(value, *parsed)
    }
}

impl Kind for Mode {
    type Value = u32;
    fn parse(value: &str) -> Result<u32, String> {
        parse_mode(value, 0o7777, "a file mode such as 0644")
    }
    fn show(value: &u32) -> String {
        format!("0{value:o}")
    }
    fn note(value: &str, parsed: &u32) -> Option<String> {
        decimal_mode_note(value, *parsed)
    }
}

pub(super) fn required(value: &str) -> Result<&str, String> {
    if value.is_empty() {
        Err("expected a value, found nothing; remove the line to keep vsftpd's default".to_string())
    } else {
        Ok(value)
    }
}

impl Kind for Text {
    type Value = String;
    fn parse(value: &str) -> Result<String, String> {
        required(value).map(str::to_string)
    }
    fn show(value: &String) -> String {
        value.clone()
    }
}

impl Kind for File {
    type Value = PathBuf;
    fn parse(value: &str) -> Result<PathBuf, String> {
        required(value).map(PathBuf::from)
    }
    fn show(value: &PathBuf) -> String {
        value.display().to_string()
    }
}

impl Kind for OptText {
    type Value = Option<String>;
    fn parse(value: &str) -> Result<Option<String>, String> {
        Ok((!value.is_empty()).then(|| value.to_string()))
    }
    fn show(value: &Option<String>) -> String {
        value.clone().unwrap_or_default()
    }
}

impl Kind for Banner {
    type Value = Option<String>;
    fn parse(value: &str) -> Result<Option<String>, String> {
        OptText::parse(value.trim_start())
    }
    fn show(value: &Option<String>) -> String {
        OptText::show(value)
    }
}

impl Kind for OptFile {
    type Value = Option<PathBuf>;
    fn parse(value: &str) -> Result<Option<PathBuf>, String> {
        Ok((!value.is_empty()).then(|| PathBuf::from(value)))
    }
    fn show(value: &Option<PathBuf>) -> String {
        value
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    }
}

impl Kind for Commands {
    type Value = Vec<String>;
    fn parse(value: &str) -> Result<Vec<String>, String> {
        let mut commands = Vec::new();
        if value.is_empty() {
            return Ok(commands);
        }
        let items: Vec<&str> = value.split(',').collect();
        for (index, item) in items.iter().enumerate() {
            let item = item.trim();
            if item.is_empty() {
                if index > 0 && index == items.len() - 1 {
                    continue; // one trailing comma
                }
                return Err(format!(
                    "empty entry in `{value}` (vsftpd stops reading the list there); remove \
                     the extra comma"
                ));
            }
            if !item.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!(
                    "expected a comma-separated list of FTP commands such as PASV,RETR,QUIT, \
                     found `{item}`"
                ));
            }
            commands.push(item.to_ascii_uppercase());
        }
        Ok(commands)
    }
    fn show(value: &Vec<String>) -> String {
        value.join(",")
    }
    fn note(value: &str, _parsed: &Vec<String>) -> Option<String> {
        value.bytes().any(|b| b.is_ascii_lowercase()).then(|| {
            "command names upper-cased (vsftpd compares them exactly and would never match a \
             lower-case name)"
                .to_string()
        })
    }
}

impl Kind for V4 {
    type Value = Option<Ipv4Addr>;
    fn parse(value: &str) -> Result<Option<Ipv4Addr>, String> {
        if value.is_empty() {
            return Ok(None);
        }
        value.parse().map(Some).map_err(|_| {
            format!(
                "expected an IPv4 address such as 192.0.2.1, found `{value}` (IPv6 addresses go \
                 in listen_address6)"
            )
        })
    }
    fn show(value: &Option<Ipv4Addr>) -> String {
        value.map(|a| a.to_string()).unwrap_or_default()
    }
}

impl Kind for V6 {
    type Value = Option<Ipv6Addr>;
    fn parse(value: &str) -> Result<Option<Ipv6Addr>, String> {
        if value.is_empty() {
            return Ok(None);
        }
        value.parse().map(Some).map_err(|_| {
            format!(
                "expected an IPv6 address such as 2001:db8::1, found `{value}` (IPv4 addresses \
                 go in listen_address)"
            )
        })
    }
    fn show(value: &Option<Ipv6Addr>) -> String {
        value.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// How binary transfers avoid copying file data through ringd (`zero_copy_method`, used while
/// `use_sendfile=YES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroCopyMethod {
    /// Downloads with sendfile(2) from the file to the socket, on the session's shard; uploads
    /// copy, since sendfile only writes to sockets.
    Sendfile,
    /// Both directions with io_uring splice operations through a pipe.
    Splice,
}

impl Kind for ZeroCopy {
    type Value = ZeroCopyMethod;
    fn parse(value: &str) -> Result<ZeroCopyMethod, String> {
        match value.to_ascii_lowercase().as_str() {
            "sendfile" => Ok(ZeroCopyMethod::Sendfile),
            "splice" => Ok(ZeroCopyMethod::Splice),
            "" => Err(format!(
                "expected sendfile or splice, found nothing; remove the line to keep the \
                 default, zero_copy_method={}",
                ZeroCopy::show(&DEFAULT_ZERO_COPY)
            )),
            "copy" | "none" => Err(format!(
                "expected sendfile or splice, found `{value}`; to copy through memory instead \
                 of zero-copy, remove this line and set use_sendfile=NO"
            )),
            _ => Err(format!(
                "expected sendfile or splice, found `{value}`; write zero_copy_method=sendfile \
                 or zero_copy_method=splice"
            )),
        }
    }
    fn show(value: &ZeroCopyMethod) -> String {
        match value {
            ZeroCopyMethod::Sendfile => "sendfile",
            ZeroCopyMethod::Splice => "splice",
        }
        .to_string()
    }
}

impl Kind for Subnets {
    type Value = Vec<Subnet>;
    fn parse(value: &str) -> Result<Vec<Subnet>, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::parse)
            .collect()
    }
    fn show(value: &Vec<Subnet>) -> String {
        let items: Vec<String> = value.iter().map(Subnet::to_string).collect();
        items.join(",")
    }
}
