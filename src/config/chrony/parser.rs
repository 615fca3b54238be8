//! The chrony.conf parser: directives to settings, across `include` and `confdir` files.

use super::*;

/// Settings under construction while the main file and its includes are read.
pub(super) struct Parser {
    pub(super) config: NtpConfig,
    /// Where the last `ratelimit` and `noclientlog` were: chronyd refuses the pair only once
    /// the whole file is read, so the check runs at the end.
    pub(super) ratelimit_at: Option<(String, usize)>,
    pub(super) noclientlog_at: Option<(String, usize)>,
}

impl Parser {
    pub(super) fn new(origin: &str) -> Self {
        Parser {
            config: NtpConfig::with_defaults(origin),
            ratelimit_at: None,
            noclientlog_at: None,
        }
    }

    pub(super) fn parse(mut self, text: &str, file: &str) -> Result<NtpConfig, ConfigError> {
        self.read_lines(text, file, 1)?;
        self.finish()
    }

    pub(super) fn read_lines(
        &mut self,
        text: &str,
        file: &str,
        depth: usize,
    ) -> Result<(), ConfigError> {
        for directive in directives(text, file) {
            self.apply(&directive, depth)?;
        }
        Ok(())
    }

    pub(super) fn apply(&mut self, d: &Directive, depth: usize) -> Result<(), ConfigError> {
        let name = d.name.to_ascii_lowercase();
        match name.as_str() {
            "port" => self.config.port = d.single("a port number 0..65535")?,
            "bindaddress" => {
                let addr: IpAddr = d.single("an IPv4 or IPv6 address (not a host name)")?;
                if !self.config.bind_addresses.contains(&addr) {
                    self.config.bind_addresses.push(addr);
                }
            }
            "allow" | "deny" => {
                let (all, subnets) = parse_allow_deny(d)?;
                for subnet in subnets {
                    self.config.access.set(subnet, name == "allow", all);
                }
            }
            "local" => self.config.local = Some(parse_local(d)?),
            "ratelimit" => {
                // Like chronyd, a later `ratelimit` changes only the options it names.
                let current = self.config.ratelimit.unwrap_or_default();
                let (settings, warnings) = parse_ratelimit(d, current)?;
                self.config.ratelimit = Some(settings);
                self.warn_all(d, warnings);
                self.ratelimit_at = Some((d.file.to_string(), d.line));
            }
            "clientloglimit" => self.config.client_log_limit = d.single("a size in bytes")?,
            "user" => self.config.user = Some(d.single("a user name")?),
            "noclientlog" => {
                d.no_arguments()?;
                self.config.no_client_log = true;
                self.noclientlog_at = Some((d.file.to_string(), d.line));
            }
            // A path is chronyd's Unix command socket, ringd's control socket; an address
            // (chronyd's UDP command port, which ringd lacks) stays deferred below.
            "bindcmdaddress" if d.args.first().is_some_and(|arg| arg.starts_with('/')) => {
                self.config.control_socket = Some(d.single("a socket path")?);
            }
            "include" => {
                let pattern: String =
                    d.single("a file name or a pattern with `*` in the file name")?;
                let paths = expand_include_pattern(&pattern).map_err(|message| d.error(message))?;
                for path in paths {
                    self.read_included(d, &path, INCLUDED_FILE, depth)?;
                }
            }
            "confdir" => {
                for path in directory_files(d, "*.conf")? {
                    self.read_included(d, &path, CONFDIR_FILE, depth)?;
                }
            }
            "sourcedir" => {
                for path in directory_files(d, "*.sources")? {
                    self.read_sources_file(&path);
                }
            }
            _ if chrony_upstream::DIRECTIVES.contains(&name.as_str()) => {
                let warnings = chrony_upstream::apply(&mut self.config.upstream, &name, d)?;
                self.warn_all(d, warnings);
            }
            _ if chrony_auth::DIRECTIVES.contains(&name.as_str()) => {
                chrony_auth::apply(&mut self.config.auth, &name, d)?;
            }
            _ if chrony_logs::DIRECTIVES.contains(&name.as_str()) => {
                for option in chrony_logs::apply(&mut self.config.logs, &name, d)? {
                    self.defer(d, format!("log {option}"));
                }
            }
            _ if NOT_ACTED_ON_DIRECTIVES.contains(&name.as_str()) => {
                self.defer(d, name);
            }
            _ if LATER_CHRONY_DIRECTIVES.contains(&name.as_str()) => {
                return Err(d.error(
                    "a directive of chrony 4.4 or later, which chronyd 4.3 refuses too; \
                     remove it or comment it out (see docs/ntp-config.md)",
                ));
            }
            _ if crate::config::error::quotable_name(d.name, MAX_QUOTED_NAME) => {
                return Err(d.error(
                    "unknown directive; ringd reads chrony.conf directives \
                     (see docs/ntp-config.md)",
                ));
            }
            _ => {
                return Err(ConfigError::Unquoted(LineError {
                    file: d.file.into(),
                    line: d.line,
                    message: "not a chrony configuration line (contents not shown)".to_string(),
                }));
            }
        }
        Ok(())
    }

    fn warn_all(&mut self, d: &Directive, messages: Vec<String>) {
        for message in messages {
            self.config.warnings.push(ConfigWarning {
                file: d.file.to_string(),
                line: d.line,
                directive: d.name.to_ascii_lowercase(),
                message,
            });
        }
    }

    /// A `sourcedir`'s `*.sources` file: its `server`, `pool` and `peer` lines. As chronyd
    /// does, a file that cannot be read or a line that cannot be used is skipped, not fatal;
    /// ringd says so in a warning.
    fn read_sources_file(&mut self, path: &Path) {
        let file = path.display().to_string();
        let text = match source_file::read_text(path, SOURCES_FILE) {
            Ok(text) => text,
            Err(err) => {
                self.config.warnings.push(ConfigWarning {
                    file: file.clone(),
                    line: 0,
                    directive: "sourcedir".to_string(),
                    message: format!("skipped, as chronyd skips it: {err}"),
                });
                return;
            }
        };
        for d in directives(&text, &file) {
            let kind = d.name.to_ascii_lowercase();
            let result = match kind.as_str() {
                "server" | "pool" => chrony_upstream::apply(&mut self.config.upstream, &kind, &d),
                "peer" => {
                    self.defer(&d, kind);
                    Ok(Vec::new())
                }
                _ => Err(d.error("not a server, pool or peer line")),
            };
            match result {
                Ok(warnings) => self.warn_all(&d, warnings),
                Err(err) => self.config.warnings.push(ConfigWarning {
                    file: file.clone(),
                    line: d.line,
                    directive: "sourcedir".to_string(),
                    message: format!("line skipped, as chronyd skips it: {err}"),
                }),
            }
        }
    }

    fn defer(&mut self, d: &Directive, name: String) {
        self.config.deferred.push(DeferredDirective {
            file: d.file.to_string(),
            line: d.line,
            name,
            text: [&[d.name][..], &d.args].concat().join(" "),
        });
    }

    pub(super) fn read_included(
        &mut self,
        d: &Directive,
        path: &Path,
        expected: Expected,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(d.error(format!(
                "cannot include {}: files nest more than {MAX_INCLUDE_DEPTH} deep \
                 (does a file include itself?)",
                path.display()
            )));
        }
        let text =
            source_file::read_text(path, expected).map_err(|err| d.error(err.to_string()))?;
        self.read_lines(&text, &path.display().to_string(), depth + 1)
    }

    pub(super) fn finish(mut self) -> Result<NtpConfig, ConfigError> {
        if let (Some((file, line)), Some((other_file, other_line))) =
            (self.ratelimit_at, self.noclientlog_at)
        {
            return Err(ConfigError::Invalid {
                file,
                line,
                directive: "ratelimit".to_string(),
                message: format!(
                    "Rate limiting cannot be enabled with noclientlog (at {other_file}:{other_line}); \
                     remove one of the two"
                ),
            });
        }
        if self.config.bind_addresses.is_empty() {
            self.config.bind_addresses =
                vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()];
        }
        Ok(self.config)
    }
}

/// The directives of `text`, read from `file`: a name and its arguments per line, blank lines
/// and comments skipped.
fn directives<'a>(text: &'a str, file: &'a str) -> impl Iterator<Item = Directive<'a>> {
    text.lines().enumerate().filter_map(move |(index, line)| {
        let mut words = line.split_whitespace();
        let name = words.next()?;
        // As chrony: a comment is a line whose first non-blank character is one of these.
        if name.starts_with(['#', '!', ';', '%']) {
            return None;
        }
        Some(Directive {
            file,
            line: index + 1,
            name,
            args: words.collect(),
        })
    })
}
