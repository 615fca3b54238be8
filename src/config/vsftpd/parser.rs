//! The vsftpd.conf parser: lines to options, with vsftpd's syntax and ringd's file:line errors.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;

use super::*;

/// Settings under construction while a file is read.
pub(super) struct Parser<'a> {
    pub(super) file: &'a str,
    pub(super) config: FtpConfig,
    /// The line each option was last set on, for the checks across options.
    pub(super) lines: HashMap<&'static str, usize>,
    pub(super) one_process_model: bool,
    /// Options whose line was refused: checks across options leave them out, since their
    /// value is not the one the file meant.
    refused: HashSet<&'static str>,
    /// Every error so far, in file order.
    pub(super) errors: Vec<ConfigError>,
}

impl<'a> Parser<'a> {
    /// Reads over `config`; `file` names the file in errors.
    pub(super) fn new(file: &'a str, config: FtpConfig) -> Parser<'a> {
        Parser {
            file,
            config,
            lines: HashMap::new(),
            one_process_model: false,
            refused: HashSet::new(),
            errors: Vec::new(),
        }
    }

    /// Every line of `text`, each error kept for the end: one run tells them all.
    pub(super) fn read(&mut self, text: &[u8]) {
        for (index, line) in text.split(|&byte| byte == b'\n').enumerate() {
            if let Err(error) = self.line(index + 1, line) {
                self.errors.push(error);
            }
        }
    }

    pub(super) fn error(
        &self,
        line: usize,
        option: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            line,
            directive: option.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn note(
        &mut self,
        line: usize,
        option: &str,
        value: &[u8],
        note: impl Into<String>,
    ) {
        self.config.notes.push(OptionNote {
            line,
            option: option.to_string(),
            value: shown(value),
            note: note.into(),
        });
    }

    /// One line of the file. As vsftpd: lines split at `\n`, `#` in the first column starts a
    /// comment, blanks before the option name are skipped, the value is every byte after the
    /// first `=`, in whatever encoding the file has. Unlike vsftpd, trailing blanks (and a CR)
    /// are removed first.
    pub(super) fn line(&mut self, number: usize, written_line: &[u8]) -> Result<(), ConfigError> {
        let line = written_line.trim_ascii_end();
        if line.is_empty() || line.starts_with(b"#") {
            return Ok(());
        }
        let body = line.trim_ascii_start();
        if body.starts_with(b"#") {
            return Err(self.error(
                number,
                "#",
                "a comment must start in the first column (vsftpd reads an indented `#` line \
                 as an option); remove the blanks before `#`",
            ));
        }
        let (key, value) = match body.iter().position(|&byte| byte == b'=') {
            Some(at) => (&body[..at], &body[at + 1..]),
            None => (body, &b""[..]),
        };
        let written = key.trim_ascii_end();
        let known = std::str::from_utf8(written)
            .ok()
            .and_then(|written| known_name(spelled_as_fedora(written)));
        let Some(name) = known else {
            return Err(self.unknown(number, &String::from_utf8_lossy(written)));
        };
        if written.len() != key.len() {
            return Err(self.error(
                number,
                name,
                format!(
                    "blank before `=` (vsftpd reads `{}` as an unknown option); write \
                     `{name}={}`",
                    shown(key),
                    shown(value.trim_ascii_start())
                ),
            ));
        }
        let numeric = FtpConfig::is_numeric(name)
            || RECOGNISED
                .iter()
                .any(|option| option.name == name && matches!(option.typed, Typed::Number(_)));
        // Only blanks after `=` is a value to vsftpd, which reads it as the number 0.
        let value = match written_line.iter().position(|&byte| byte == b'=') {
            Some(at) if numeric && value.is_empty() => &written_line[at + 1..],
            _ => value,
        };
        let blank_first = value.first().is_some_and(u8::is_ascii_whitespace);
        if name != "ftpd_banner" && !numeric && blank_first {
            return Err(self.error(
                number,
                name,
                format!(
                    "blank after `=` (vsftpd keeps it as part of the value); write `{name}={}`",
                    shown(value.trim_ascii_start())
                ),
            ));
        }
        let set = self.set(number, name, value);
        if set.is_err() {
            self.refused.insert(name);
        }
        set
    }

    /// `name=value` on line `number`, `name` being an option vsftpd or ringd knows.
    fn set(&mut self, number: usize, name: &'static str, value: &[u8]) -> Result<(), ConfigError> {
        let previous = self.lines.insert(name, number);
        match self.config.set_supported(name, value) {
            Some(Ok(note)) => {
                if let Some(note) = note {
                    self.note(number, name, value, note);
                }
                if let Some(previous) = previous {
                    self.note(
                        number,
                        name,
                        value,
                        format!("overrides line {previous}: the last value wins, as in vsftpd"),
                    );
                }
                Ok(())
            }
            Some(Err(message)) => Err(self.error(number, name, message)),
            None => self.recognised(number, name, value),
        }
    }

    pub(super) fn unknown(&self, number: usize, name: &str) -> ConfigError {
        let lower = name.to_ascii_lowercase();
        let hint = match known_name(&lower) {
            Some(known) if lower != name => {
                format!(" (option names are lower case: `{known}`)")
            }
            _ => String::new(),
        };
        if !name.is_empty()
            && !crate::config::error::quotable_name(&name.replace(' ', "_"), MAX_QUOTED_OPTION)
        {
            return ConfigError::Unquoted(LineError {
                file: self.file.into(),
                line: number,
                message: "not a vsftpd.conf line (contents not shown)".to_string(),
            });
        }
        let shown = if name.is_empty() { "(no name)" } else { name };
        self.error(number, shown, format!("{UNKNOWN_OPTION}{hint}"))
    }

    /// An option vsftpd knows that is not parsed into `FtpConfig`: check its value's type, then
    /// accept it with a note or refuse it as not supported yet.
    pub(super) fn recognised(
        &mut self,
        number: usize,
        name: &str,
        value: &[u8],
    ) -> Result<(), ConfigError> {
        let option = RECOGNISED
            .iter()
            .find(|option| option.name == name)
            .expect("known_name returned a recognised option");
        let (is_default, default) = match option.typed {
            Typed::Bool(default) => {
                let parsed = YesNo::parse(value).map_err(|m| self.error(number, name, m))?;
                (parsed == default, yes_no(default))
            }
            Typed::Number(default) => {
                let parsed = Number::parse(value).map_err(|m| self.error(number, name, m))?;
                (parsed == default, default.to_string())
            }
            Typed::Text(default) => (
                (!value.is_empty()).then_some(value) == default.map(str::as_bytes),
                default.unwrap_or("").to_string(),
            ),
        };
        if name == "one_process_model" {
            self.one_process_model = YesNo::parse(value) == Ok(true);
        }
        match option.treatment {
            Treatment::ByDesign(reason) => {
                self.note(
                    number,
                    name,
                    value,
                    format!("accepted, no effect: {reason}"),
                );
                Ok(())
            }
            Treatment::Tls(instead) => {
                self.note(number, name, value, format!("not acted on: {instead}"));
                Ok(())
            }
            Treatment::Never(_) if is_default => Ok(()),
            Treatment::Never(instead) => Err(self.error(
                number,
                name,
                format!("{instead}, never an older protocol; remove the line or set {name}=NO"),
            )),
            Treatment::NotYet(feature) if is_default => {
                self.note(
                    number,
                    name,
                    value,
                    format!("{NOT_YET} ({feature}); accepted at vsftpd's default"),
                );
                Ok(())
            }
            Treatment::NotYet(feature) => {
                let fix = if default.is_empty() {
                    "remove the line".to_string()
                } else {
                    format!("remove the line or set {name}={default}, vsftpd's default")
                };
                Err(self.error(number, name, format!("{NOT_YET} ({feature}); {fix}")))
            }
        }
    }

    /// The line of whichever of `options` was set last, and its name, for errors about a
    /// combination.
    pub(super) fn last_set(&self, options: &[&'static str]) -> (usize, &'static str) {
        options
            .iter()
            .filter_map(|&option| self.lines.get(option).map(|&line| (line, option)))
            .max()
            .unwrap_or((0, options[0]))
    }

    /// An error about a combination of `options`, unless one of them was refused already.
    pub(super) fn combination_error(&mut self, options: &[&'static str], message: String) {
        if options.iter().any(|option| self.refused.contains(option)) {
            return;
        }
        let (line, option) = self.last_set(options);
        let error = self.error(line, option, message);
        self.errors.push(error);
    }

    /// What vsftpd checks across options at start-up, and ringd's own checks of that kind.
    pub(super) fn check(&mut self) {
        let c = self.config.clone();
        if c.listen && c.listen_ipv6 {
            self.combination_error(
                &["listen", "listen_ipv6"],
                "listen=YES and listen_ipv6=YES together: vsftpd refuses this (\"run two copies \
                 of vsftpd for IPv4 and IPv6\"); set one of them to NO"
                    .to_string(),
            );
        }
        if !c.listen && !c.listen_ipv6 {
            self.combination_error(
                &["listen", "listen_ipv6"],
                "listen=NO and listen_ipv6=NO: vsftpd would then expect to be started by inetd, \
                 which ringd does not support; set listen=YES (IPv4) or listen_ipv6=YES (IPv6)"
                    .to_string(),
            );
        }
        if c.proxy_protocol && c.proxy_protocol_from.is_empty() {
            self.combination_error(
                &["proxy_protocol", "proxy_protocol_from"],
                "proxy_protocol=YES without proxy_protocol_from: any client could then claim any \
                 address; list the load balancers' addresses, e.g. proxy_protocol_from=10.0.0.5"
                    .to_string(),
            );
        }
        if !c.anonymous_enable && !c.local_enable {
            self.combination_error(
                &["anonymous_enable", "local_enable"],
                "anonymous_enable=NO and local_enable=NO: nobody could log in (vsftpd refuses \
                 this: \"both local and anonymous access disabled!\"); set one of them to YES"
                    .to_string(),
            );
        }
        if self.one_process_model && c.local_enable {
            self.combination_error(
                &["one_process_model", "local_enable"],
                "one_process_model=YES with local_enable=YES: vsftpd refuses this \
                 (\"'one_process_model' is anonymous only\"); remove one_process_model, which \
                 ringd does not need"
                    .to_string(),
            );
        }
        if c.ssl_enable && !c.ssl_tlsv1_2 && !c.ssl_tlsv1_3 {
            self.combination_error(
                &["ssl_tlsv1_2", "ssl_tlsv1_3"],
                "ssl_tlsv1_2=NO and ssl_tlsv1_3=NO with ssl_enable=YES: no TLS version would be \
                 left to serve (ringd serves TLS 1.2 and 1.3 only); set one of them to YES"
                    .to_string(),
            );
        }
        let (min, max) = (c.pasv_min_port, c.pasv_max_port);
        if max != 0 && max < PASV_FLOOR {
            self.combination_error(
                &["pasv_max_port"],
                format!(
                    "{max} is below {PASV_FLOOR}: vsftpd never opens passive ports below \
                     {PASV_FLOOR} and would silently ignore this; use {PASV_FLOOR}..65535, or 0 \
                     for no upper limit"
                ),
            );
        }
        if max != 0 && min > max {
            self.combination_error(
                &["pasv_min_port", "pasv_max_port"],
                format!(
                    "pasv_min_port={min} is above pasv_max_port={max} (vsftpd would silently \
                     ignore pasv_max_port; its default pasv_min_port is 5001); set \
                     pasv_max_port to at least {min} or lower pasv_min_port"
                ),
            );
        }
        if (1..PASV_FLOOR).contains(&min) {
            let line = self.lines.get("pasv_min_port").copied().unwrap_or(0);
            self.note(
                line,
                "pasv_min_port",
                min.to_string().as_bytes(),
                format!("passive ports start at {PASV_FLOOR}, as in vsftpd"),
            );
        }
        if let (false, Some(&line)) = (self.config.use_sendfile, self.lines.get("zero_copy_method"))
        {
            let method = ZeroCopy::show(&self.config.zero_copy_method);
            self.note(
                line,
                "zero_copy_method",
                method.as_bytes(),
                "no effect with use_sendfile=NO: transfers copy through memory",
            );
        }
        if let Some(address) = self.config.pasv_address.clone() {
            if !self.config.pasv_addr_resolve && address.parse::<Ipv4Addr>().is_err() {
                self.combination_error(
                    &["pasv_address"],
                    format!(
                        "expected an IPv4 address such as 192.0.2.1, found `{address}` (vsftpd \
                         would answer PASV with \"500 OOPS: invalid pasv_address\"); for a host \
                         name also set pasv_addr_resolve=YES"
                    ),
                );
            }
        }
    }
}

impl Parser<'_> {
    /// vsftpd starts with an `anon_root` that does not exist and fails each anonymous login
    /// (`500 OOPS: cannot change directory:...`): ringd starts too, and `--check` and the
    /// start-up log name the line and the directory to create.
    pub(super) fn note_missing_anon_root(&mut self) {
        let Some(root) = self.config.anon_root.clone() else {
            return;
        };
        if !self.config.anonymous_enable || root.is_dir() {
            return;
        }
        let line = self.lines.get("anon_root").copied().unwrap_or(0);
        let shown = shown(root.as_os_str().as_bytes());
        self.note(
            line,
            "anon_root",
            root.as_os_str().as_bytes(),
            format!(
                "no such directory: every anonymous login would fail, as in vsftpd (\"500 OOPS: \
                 cannot change directory:{shown}\"); create it (mkdir -p {shown}) or correct \
                 the path"
            ),
        );
    }
}

/// vsftpd 3.0.5 names its TLS version switches without the inner underscore that Fedora's and
/// openSUSE's 3.0.3 patches (and so most files in use) have: both spellings are the same option.
fn spelled_as_fedora(name: &str) -> &str {
    match name {
        "ssl_tlsv11" => "ssl_tlsv1_1",
        "ssl_tlsv12" => "ssl_tlsv1_2",
        "ssl_tlsv13" => "ssl_tlsv1_3",
        other => other,
    }
}

/// The option's name as a static string if vsftpd 3.0.3 or ringd knows it (names are
/// case-sensitive, as in vsftpd).
pub(super) fn known_name(name: &str) -> Option<&'static str> {
    SUPPORTED
        .iter()
        .copied()
        .chain(RECOGNISED.iter().map(|option| option.name))
        .find(|&known| known == name)
}
