//! The kinds of value a vsftpd.conf option takes: how each is read from `option=value` and shown by `ringd --check`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::*;

/// How one value type is read from `option=value` and written back by `ringd --check`.
pub(super) trait Kind {
    type Value;
    /// Read as vsftpd reads numbers, which skips blanks after `=`.
    const NUMERIC: bool = false;
    /// `value` is the bytes after the first `=`, trailing blanks removed; empty when the line
    /// has no `=` (vsftpd treats both alike).
    fn parse(value: &[u8]) -> Result<Self::Value, String>;
    fn show(value: &Self::Value) -> String;
    /// Something worth a comment in `ringd --check` about a value that was accepted.
    fn note(_value: &[u8], _parsed: &Self::Value) -> Option<String> {
        None
    }
}

/// YES/NO, as vsftpd: YES, TRUE, 1, NO, FALSE, 0 in any case.
pub(super) struct YesNo;
/// An unsigned number read as vsftpd reads every number ([`read_number`]).
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
/// Free bytes, in whatever encoding the file is written (an EUC-KR greeting reaches the client
/// as written), leading blanks dropped as vsftpd 3.0.3's greeting drops them
/// (`ftpd_banner=   Hello` greets with `220 Hello`); blanks inside are kept.
pub(super) struct Banner;
/// A `deny_file`/`hide_file` pattern, as bytes: file names are bytes, so is what matches them.
/// Empty means unset.
pub(super) struct Pattern;
/// A path with no default, as bytes: empty means unset.
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
    fn parse(value: &[u8]) -> Result<bool, String> {
        match value.to_ascii_uppercase().as_slice() {
            b"YES" | b"TRUE" | b"1" => Ok(true),
            b"NO" | b"FALSE" | b"0" => Ok(false),
            b"" => Err("expected YES or NO, found nothing".to_string()),
            _ => Err(format!("expected YES or NO, found `{}`", shown(value))),
        }
    }
    fn show(value: &bool) -> String {
        yes_no(*value)
    }
}

/// How vsftpd 3.0.3 reads a number (parseconf.c): a value whose first byte is `0` is octal,
/// read up to the first byte that is not an octal digit; any other is C's `atoi`: blanks
/// skipped, a sign, decimal digits up to the first byte that is not one, a negative number
/// wrapping round in vsftpd's unsigned variable. What it ignores is never an error there, so
/// it is none here: the number is what vsftpd would use, and `remark` says so when the value
/// was surely not meant that way.
pub(super) struct NumberReading {
    pub(super) value: u32,
    /// The digits that made the number, for notes that suggest a spelling.
    pub(super) digits: String,
    pub(super) remark: Option<String>,
}

/// C's `isspace` in the C locale, which `atoi` skips.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Reads `value` as vsftpd does (see [`NumberReading`]); only what vsftpd itself would refuse
/// (nothing at all) or a number beyond its 32 bits is an error; `what` names the expected
/// value in it.
pub(super) fn read_number(value: &[u8], what: &str) -> Result<NumberReading, String> {
    if value.is_empty() {
        return Err(format!("expected {what}, found nothing"));
    }
    let out_of_range = || {
        format!(
            "expected {what}, found `{}`, which is out of range",
            shown(value)
        )
    };
    if value[0] == b'0' {
        let digits_end = value
            .iter()
            .position(|byte| !(b'0'..=b'7').contains(byte))
            .unwrap_or(value.len());
        let digits = &value[..digits_end];
        let mut number: u64 = 0;
        for &digit in digits {
            number = number * 8 + u64::from(digit - b'0');
            if number > u64::from(u32::MAX) {
                return Err(out_of_range());
            }
        }
        let digits = String::from_utf8_lossy(digits).into_owned();
        let remark = (digits_end < value.len()).then(|| {
            format!(
                "a value starting with 0 is octal, and vsftpd reads it only up to the first \
                 byte that is not 0 to 7, ignoring `{}`: {digits} (decimal {number}) is used",
                shown(&value[digits_end..])
            )
        });
        return Ok(NumberReading {
            value: number as u32,
            digits,
            remark,
        });
    }
    let blanks = value.iter().take_while(|&&byte| is_c_space(byte)).count();
    let after_blanks = &value[blanks..];
    let (negative, unsigned) = match after_blanks.first() {
        Some(b'-') => (true, &after_blanks[1..]),
        Some(b'+') => (false, &after_blanks[1..]),
        _ => (false, after_blanks),
    };
    let digits_end = unsigned
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(unsigned.len());
    let digits = &unsigned[..digits_end];
    let mut magnitude: u64 = 0;
    for &digit in digits {
        magnitude = magnitude * 10 + u64::from(digit - b'0');
        if magnitude > u64::from(u32::MAX) {
            return Err(out_of_range());
        }
    }
    let number = if negative {
        (magnitude as u32).wrapping_neg()
    } else {
        magnitude as u32
    };
    let shown_value = shown(value);
    let remark = if digits.is_empty() {
        Some(format!(
            "`{shown_value}` is not a number; vsftpd reads it as 0, so 0 is used"
        ))
    } else if digits_end < unsigned.len() {
        Some(format!(
            "vsftpd reads the number up to the first byte that is not a digit, ignoring `{}`: \
             {number} is used",
            shown(&unsigned[digits_end..])
        ))
    } else if negative && magnitude != 0 {
        Some(format!(
            "a negative number wraps round in vsftpd's unsigned setting: {number} is used"
        ))
    } else {
        None
    };
    Ok(NumberReading {
        value: number,
        digits: String::from_utf8_lossy(digits).into_owned(),
        remark,
    })
}

/// [`read_number`] within `max`.
pub(super) fn parse_number(value: &[u8], max: u32, what: &str) -> Result<u32, String> {
    let reading = read_number(value, what)?;
    if reading.value > max {
        return Err(format!(
            "expected {what}, found `{}`, which is out of range",
            shown(value)
        ));
    }
    Ok(reading.value)
}

/// The remark [`read_number`] makes about a value it accepted.
fn number_remark(value: &[u8]) -> Option<String> {
    read_number(value, "")
        .ok()
        .and_then(|reading| reading.remark)
}

impl Kind for Number {
    const NUMERIC: bool = true;
    type Value = u32;
    fn parse(value: &[u8]) -> Result<u32, String> {
        parse_number(value, u32::MAX, "a number 0..4294967295")
    }
    fn show(value: &u32) -> String {
        value.to_string()
    }
    fn note(value: &[u8], _parsed: &u32) -> Option<String> {
        number_remark(value)
    }
}

impl Kind for Port {
    const NUMERIC: bool = true;
    type Value = u16;
    fn parse(value: &[u8]) -> Result<u16, String> {
        parse_number(value, u32::from(u16::MAX), "a port number 0..65535").map(|n| n as u16)
    }
    fn show(value: &u16) -> String {
        value.to_string()
    }
    fn note(value: &[u8], _parsed: &u16) -> Option<String> {
        number_remark(value)
    }
}

/// Umasks and modes: octal with a leading 0, as vsftpd; the error for an out-of-range decimal
/// explains the trap.
pub(super) fn parse_mode(value: &[u8], max: u32, what: &str) -> Result<u32, String> {
    let reading = read_number(value, what)?;
    let n = reading.value;
    if n <= max {
        return Ok(n);
    }
    let digits = reading.digits;
    if value.starts_with(b"0") {
        Err(format!(
            "expected {what}, found `{}`, above 0{max:o}",
            shown(value)
        ))
    } else {
        Err(format!(
            "expected {what}, found `{}`: without a leading 0 vsftpd reads it as decimal \
             {n}, which is octal 0{n:o}, above 0{max:o}; write 0{digits} for octal",
            shown(value)
        ))
    }
}

/// A mode or umask is meant in octal: say so when vsftpd reads it as decimal, and what else it
/// ignored.
pub(super) fn mode_note(value: &[u8], parsed: u32) -> Option<String> {
    let reading = read_number(value, "").ok()?;
    let decimal = (!value.starts_with(b"0") && parsed > 7).then(|| {
        format!(
            "no leading 0, so read as decimal {parsed} = octal 0{parsed:o}, as vsftpd does; \
             write {} if octal was meant",
            if reading.digits.starts_with('0') {
                reading.digits.clone()
            } else {
                format!("0{}", reading.digits)
            }
        )
    });
    match (decimal, reading.remark) {
        (Some(decimal), Some(remark)) => Some(format!("{remark}; {decimal}")),
        (decimal, remark) => decimal.or(remark),
    }
}

impl Kind for Umask {
    const NUMERIC: bool = true;
    type Value = u32;
    fn parse(value: &[u8]) -> Result<u32, String> {
        parse_mode(value, 0o777, "a umask such as 022")
    }
    fn show(value: &u32) -> String {
        format!("0{value:o}")
    }
    fn note(value: &[u8], parsed: &u32) -> Option<String> {
        mode_note(value, *parsed)
    }
}

impl Kind for Mode {
    const NUMERIC: bool = true;
    type Value = u32;
    fn parse(value: &[u8]) -> Result<u32, String> {
        parse_mode(value, 0o7777, "a file mode such as 0644")
    }
    fn show(value: &u32) -> String {
        format!("0{value:o}")
    }
    fn note(value: &[u8], parsed: &u32) -> Option<String> {
        mode_note(value, *parsed)
    }
}

/// A value as `ringd --check` and errors show it: as written when it is UTF-8; otherwise
/// (an EUC-KR banner, a Latin-1 path) every byte outside ASCII as `\xNN`, since showing the
/// bytes that happen to form UTF-8 characters would show text nobody wrote. A backslash is
/// doubled in that form so the two cannot be confused.
pub fn shown(value: &[u8]) -> String {
    if let Ok(text) = std::str::from_utf8(value) {
        return text.to_string();
    }
    let mut out = String::with_capacity(value.len() * 2);
    for &byte in value {
        match byte {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out
}

/// A text value as a `String`: these options (user, service and host names, tokens) are
/// matched against names the system gives as text, so bytes that are not UTF-8 become U+FFFD.
fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

fn path(value: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(value))
}

fn show_path(path: &Path) -> String {
    shown(path.as_os_str().as_bytes())
}

pub(super) fn required(value: &[u8]) -> Result<&[u8], String> {
    if value.is_empty() {
        Err("expected a value, found nothing; remove the line to keep vsftpd's default".to_string())
    } else {
        Ok(value)
    }
}

impl Kind for Text {
    type Value = String;
    fn parse(value: &[u8]) -> Result<String, String> {
        required(value).map(text)
    }
    fn show(value: &String) -> String {
        value.clone()
    }
}

impl Kind for File {
    type Value = PathBuf;
    fn parse(value: &[u8]) -> Result<PathBuf, String> {
        required(value).map(path)
    }
    fn show(value: &PathBuf) -> String {
        show_path(value)
    }
}

impl Kind for OptText {
    type Value = Option<String>;
    fn parse(value: &[u8]) -> Result<Option<String>, String> {
        Ok((!value.is_empty()).then(|| text(value)))
    }
    fn show(value: &Option<String>) -> String {
        value.clone().unwrap_or_default()
    }
}

impl Kind for Banner {
    type Value = Option<Vec<u8>>;
    fn parse(value: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Pattern::parse(value.trim_ascii_start())
    }
    fn show(value: &Option<Vec<u8>>) -> String {
        Pattern::show(value)
    }
}

impl Kind for Pattern {
    type Value = Option<Vec<u8>>;
    fn parse(value: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok((!value.is_empty()).then(|| value.to_vec()))
    }
    fn show(value: &Option<Vec<u8>>) -> String {
        value.as_deref().map(shown).unwrap_or_default()
    }
}

impl Kind for OptFile {
    type Value = Option<PathBuf>;
    fn parse(value: &[u8]) -> Result<Option<PathBuf>, String> {
        Ok((!value.is_empty()).then(|| path(value)))
    }
    fn show(value: &Option<PathBuf>) -> String {
        value.as_deref().map(show_path).unwrap_or_default()
    }
}

impl Kind for Commands {
    type Value = Vec<String>;
    fn parse(value: &[u8]) -> Result<Vec<String>, String> {
        let value = &text(value);
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
    fn note(value: &[u8], _parsed: &Vec<String>) -> Option<String> {
        value.iter().any(u8::is_ascii_lowercase).then(|| {
            "command names upper-cased (vsftpd compares them exactly and would never match a \
             lower-case name)"
                .to_string()
        })
    }
}

impl Kind for V4 {
    type Value = Option<Ipv4Addr>;
    fn parse(value: &[u8]) -> Result<Option<Ipv4Addr>, String> {
        let value = &text(value);
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
    fn parse(value: &[u8]) -> Result<Option<Ipv6Addr>, String> {
        let value = &text(value);
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
    fn parse(value: &[u8]) -> Result<ZeroCopyMethod, String> {
        let value = &text(value);
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
    fn parse(value: &[u8]) -> Result<Vec<Subnet>, String> {
        text(value)
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
