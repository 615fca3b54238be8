//! tcp_wrappers host access control (hosts_access(5)): /etc/hosts.allow, then /etc/hosts.deny, else allow — parsed once, matched per connection without DNS.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::config::error::LineError;
use crate::config::source_file::{self, Expected, SourceFileError, NO_ORIGINAL_LIMIT};
use crate::wildcard;

/// libwrap and the resolver read these files line by line without a size limit: see
/// NO_ORIGINAL_LIMIT.
const HOSTS_ALLOW_FILE: Expected = Expected::named_by("hosts_allow_file", NO_ORIGINAL_LIMIT);
const HOSTS_DENY_FILE: Expected = Expected::named_by("hosts_deny_file", NO_ORIGINAL_LIMIT);
const PATTERN_FILE: Expected =
    Expected::described("a tcp_wrappers /path pattern file", NO_ORIGINAL_LIMIT);
const HOST_NAMES_FILE: Expected =
    Expected::described("the hosts file that names clients", NO_ORIGINAL_LIMIT);

/// Why the hosts files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    #[error(transparent)]
    File(#[from] SourceFileError),
    /// `line` is the first physical line of the (possibly continued) rule, from 1.
    #[error(transparent)]
    Syntax(LineError),
}

/// Client names by address, from a hosts(5) file: the only name source ringd uses.
#[derive(Clone, Debug, Default)]
pub struct HostTable {
    names: HashMap<IpAddr, String>,
}

impl HostTable {
    /// Parses hosts(5) text: address, canonical name, aliases; `#` comments. The first line
    /// for an address gives its name.
    pub fn parse(text: &str) -> HostTable {
        let mut names = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(addr), Some(name)) = (fields.next(), fields.next()) else {
                continue;
            };
            let addr = addr.split('%').next().unwrap_or(addr);
            if let Ok(addr) = addr.parse::<IpAddr>() {
                names
                    .entry(addr.to_canonical())
                    .or_insert_with(|| name.to_owned());
            }
        }
        HostTable { names }
    }

    /// Reads a hosts file; a missing one is empty.
    pub fn load(path: &Path) -> Result<HostTable, SourceFileError> {
        match source_file::read_text(path, HOST_NAMES_FILE) {
            Ok(text) => Ok(HostTable::parse(&text)),
            Err(e) if e.is_not_found() => Ok(HostTable::default()),
            Err(e) => Err(e),
        }
    }

    /// The name /etc/hosts gives `addr` (IPv4-mapped addresses as IPv4).
    pub fn name_of(&self, addr: IpAddr) -> Option<&str> {
        self.names.get(&addr.to_canonical()).map(String::as_str)
    }
}

/// The outcome of [`HostsAccess::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub allowed: bool,
    /// The rule that decided (file and line), or `None` when no rule matched (allowed).
    pub rule: Option<(&'a Path, usize)>,
    /// `setenv VSFTPD_LOAD_CONF file` of the deciding rule: vsftpd then loads that file as
    /// the session's configuration. What to do with it is the caller's choice.
    pub load_conf: Option<&'a Path>,
}

/// hosts.allow and hosts.deny, parsed.
///
/// What ringd implements, and where it differs from libwrap:
///
/// * Rules are `daemon_list : client_list [ : option : option ... ]`, lines joined by a
///   trailing backslash, `#` comments (an escaped `\#` is kept), the first matching rule of
///   hosts.allow grants, else the first of hosts.deny denies, else access is granted. A missing
///   file is an empty one. Keywords (`ALL`, `EXCEPT`, `LOCAL`, ...) and names compare
///   case-insensitively, as libwrap's `STR_EQ` does.
/// * Daemon patterns: `ALL`, names (`vsftpd`, `ringd`, globs, `.suffix`/`prefix.` forms),
///   `EXCEPT`, and `daemon@host` (matched against the server address when the caller gives
///   one, see [`HostsAccess::check`]; never otherwise). The server answers to all the names it
///   is given at once: `ALL EXCEPT vsftpd` does not apply to a server called as
///   `["vsftpd", "ringd"]`.
/// * Client patterns: `ALL`; exact addresses; `192.168.1.` prefixes; `n.n.n.n/m.m.m.m` and
///   `n.n.n.n/len`; `[v6addr]` and `[v6net]/len`; `*`/`?` wildcards; `EXCEPT` lists;
///   `/path` files of patterns (read at load); IPv4-mapped IPv6 clients match as IPv4.
/// * Host names without DNS: libwrap looks the client's name up per connection; ringd never
///   does. The client's name is the one /etc/hosts gives its address (the first name of the
///   first line listing it, as `gethostbyaddr` with the files source), read once at load.
///   So `localhost`, `.example.com`, `server1` and the like match clients listed in /etc/hosts
///   only, and a warning says so for each name pattern that no /etc/hosts entry matches.
///   `LOCAL` (libwrap: "a host name without a dot") therefore means addresses that /etc/hosts
///   maps to a dotless name: in practice the loopback addresses (`localhost`) and the
///   machine's own `127.0.1.1 hostname` line. `KNOWN` means "named in /etc/hosts", `UNKNOWN`
///   its opposite, and `PARANOID` (a name whose forward lookup disagrees) never matches.
/// * `@netgroup` (NIS) and `user@host` (ident lookups) are accepted but never match (except
///   `ALL@host`, which is `host`), with a warning.
/// * Options (the PROCESS_OPTIONS language Debian and Red Hat build libwrap with): `allow` and
///   `deny` decide, in either file; `twist` replaces the service, so ringd denies;
///   `setenv VSFTPD_LOAD_CONF file` is reported in the [`Verdict`] (vsftpd's per-host
///   configuration); `spawn`, other `setenv`s, `severity`, `banners`, `keepalive`, `linger`,
///   `nice`, `rfc931`, `umask`, `user` and `group` are accepted and ignored, with a warning.
///   An unknown option, a missing or extra value, or `allow`/`deny`/`twist` not last is an error.
/// * Errors (a missing `:`, an empty list, a bad net/mask, a bad option) name the file and line
///   and refuse the files, where libwrap would skip the line or deny at match time.
///
/// Files are read once by `load`; reload to pick up edits (libwrap rereads them per connection).
#[derive(Debug)]
pub struct HostsAccess {
    allow: Table,
    deny: Table,
    hosts: HostTable,
    warnings: Vec<String>,
}

impl HostsAccess {
    /// Reads the two files (a missing file is empty, as in tcp_wrappers) and /etc/hosts for
    /// client names.
    pub fn load(allow: &Path, deny: &Path) -> Result<HostsAccess, HostsError> {
        let hosts = HostTable::load(Path::new("/etc/hosts"))?;
        HostsAccess::load_with(allow, deny, hosts)
    }

    /// As [`HostsAccess::load`], with client names from `hosts` instead of /etc/hosts.
    pub fn load_with(
        allow: &Path,
        deny: &Path,
        hosts: HostTable,
    ) -> Result<HostsAccess, HostsError> {
        let mut warnings = Vec::new();
        let allow = Table::load(allow, HOSTS_ALLOW_FILE, &hosts, &mut warnings)?;
        let deny = Table::load(deny, HOSTS_DENY_FILE, &hosts, &mut warnings)?;
        Ok(HostsAccess {
            allow,
            deny,
            hosts,
            warnings,
        })
    }

    /// Parses the two files from text (`allow_path`/`deny_path` are only used in messages).
    pub fn parse(
        allow_path: &Path,
        allow: &str,
        deny_path: &Path,
        deny: &str,
        hosts: HostTable,
    ) -> Result<HostsAccess, HostsError> {
        let mut warnings = Vec::new();
        let allow = Table::parse(allow_path, allow, &hosts, &mut warnings)?;
        let deny = Table::parse(deny_path, deny, &hosts, &mut warnings)?;
        Ok(HostsAccess {
            allow,
            deny,
            hosts,
            warnings,
        })
    }

    /// Whether `client` may use a server known as `daemon_names` (e.g. `["vsftpd", "ringd"]`).
    pub fn permits(&self, daemon_names: &[&str], client: IpAddr) -> bool {
        self.check(daemon_names, client, None).allowed
    }

    /// The full decision; `server` is the local address the client connected to, for
    /// `daemon@host` patterns (which never match without it).
    pub fn check(
        &self,
        daemon_names: &[&str],
        client: IpAddr,
        server: Option<IpAddr>,
    ) -> Verdict<'_> {
        let client = Endpoint::new(client, &self.hosts);
        let server = server.map(|s| Endpoint::new(s, &self.hosts));
        let request = Request {
            daemons: daemon_names,
            client: &client,
            server: server.as_ref(),
        };
        for (table, grants) in [(&self.allow, true), (&self.deny, false)] {
            if let Some(rule) = table.rules.iter().find(|r| r.matches(&request)) {
                return Verdict {
                    allowed: rule.options.decision.unwrap_or(grants),
                    rule: Some((table.path.as_path(), rule.line)),
                    load_conf: rule.options.load_conf.as_deref(),
                };
            }
        }
        Verdict {
            allowed: true,
            rule: None,
            load_conf: None,
        }
    }

    /// Every file a rule names with `setenv VSFTPD_LOAD_CONF`, each once, in rule order: the
    /// per-host configurations to load with the service.
    pub fn load_conf_files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = Vec::new();
        for rule in self.allow.rules.iter().chain(&self.deny.rules) {
            if let Some(file) = rule.options.load_conf.as_deref() {
                if !files.contains(&file) {
                    files.push(file);
                }
            }
        }
        files
    }

    /// Things the files say that ringd accepts but does not do, or patterns that cannot match,
    /// as `file:line: message`: log them at start-up.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

#[derive(Debug)]
struct Table {
    path: PathBuf,
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    line: usize,
    daemons: List<DaemonPat>,
    clients: List<HostPat>,
    options: Options,
}

struct Request<'a> {
    daemons: &'a [&'a str],
    client: &'a Endpoint<'a>,
    server: Option<&'a Endpoint<'a>>,
}

impl Rule {
    fn matches(&self, req: &Request<'_>) -> bool {
        self.daemons.matches(&|p: &DaemonPat| {
            req.daemons.iter().any(|name| p.name.matches_str(name))
                && match &p.host {
                    None => true,
                    Some(host) => req.server.is_some_and(|s| host.matches(s)),
                }
        }) && self.clients.matches(&|p: &HostPat| p.matches(req.client))
    }
}

/// A pattern list with libwrap's `EXCEPT`: `a b EXCEPT c EXCEPT d` is `(a|b) && !(c && !d)`.
#[derive(Debug)]
struct List<P> {
    items: Vec<P>,
    except: Option<Box<List<P>>>,
}

impl<P> List<P> {
    fn parse(
        tokens: &[&str],
        parse: &mut dyn FnMut(&str) -> Result<P, String>,
    ) -> Result<List<P>, String> {
        let cut = tokens.iter().position(|t| t.eq_ignore_ascii_case("EXCEPT"));
        let (head, tail) = match cut {
            Some(i) => (&tokens[..i], Some(&tokens[i + 1..])),
            None => (tokens, None),
        };
        if head.is_empty() {
            return Err(if cut.is_some() {
                "EXCEPT without patterns before it".to_owned()
            } else {
                "empty list".to_owned()
            });
        }
        let items = head.iter().map(|t| parse(t)).collect::<Result<_, _>>()?;
        let except = match tail {
            None => None,
            Some([]) => return Err("EXCEPT without patterns after it".to_owned()),
            Some(rest) => Some(Box::new(List::parse(rest, parse)?)),
        };
        Ok(List { items, except })
    }

    fn matches(&self, f: &dyn Fn(&P) -> bool) -> bool {
        self.items.iter().any(f) && !self.except.as_ref().is_some_and(|e| e.matches(f))
    }
}

#[derive(Debug)]
struct DaemonPat {
    name: StrPat,
    host: Option<HostPat>,
}

/// A client (or server) as the patterns see it.
struct Endpoint<'a> {
    addr: IpAddr,
    addr_text: String,
    name: Option<&'a str>,
}

impl<'a> Endpoint<'a> {
    fn new(addr: IpAddr, hosts: &'a HostTable) -> Endpoint<'a> {
        let addr = addr.to_canonical();
        Endpoint {
            addr,
            addr_text: addr.to_string(),
            name: hosts.name_of(addr),
        }
    }
}

#[derive(Debug)]
enum HostPat {
    All,
    Known,
    Unknown,
    Local,
    Paranoid,
    Net4 {
        net: u32,
        mask: u32,
    },
    Net6 {
        net: u128,
        mask: u128,
    },
    Str(StrPat),
    /// The patterns of a `/file`.
    Any(Vec<HostPat>),
    /// Netgroups, ident-based `user@host`: warned about at load.
    Never,
}

impl HostPat {
    fn matches(&self, who: &Endpoint<'_>) -> bool {
        match self {
            HostPat::All => true,
            HostPat::Known => who.name.is_some(),
            HostPat::Unknown => who.name.is_none(),
            HostPat::Local => who.name.is_some_and(|n| !n.contains('.')),
            HostPat::Paranoid | HostPat::Never => false,
            HostPat::Net4 { net, mask } => match who.addr {
                IpAddr::V4(a) => u32::from(a) & mask == *net,
                IpAddr::V6(_) => false,
            },
            HostPat::Net6 { net, mask } => match who.addr {
                IpAddr::V6(a) => u128::from(a) & mask == *net & mask,
                IpAddr::V4(_) => false,
            },
            HostPat::Str(p) => {
                p.matches_addr(who.addr, &who.addr_text)
                    || (p.names && who.name.is_some_and(|n| p.matches_str(n)))
            }
            HostPat::Any(list) => list.iter().any(|p| p.matches(who)),
        }
    }
}

/// libwrap's `string_match`: `.suffix`, `prefix.`, exact (case-insensitive), `[v6]`, globs.
#[derive(Debug)]
struct StrPat {
    kind: StrKind,
    /// Also tried against host names: the token is not made of digits, dots and slashes only
    /// (libwrap's `NOT_INADDR`).
    names: bool,
}

#[derive(Debug)]
enum StrKind {
    All,
    Suffix(String),
    Prefix(String),
    Exact(String),
    V6(Ipv6Addr),
    Glob(String),
}

impl StrPat {
    fn new(token: &str) -> Result<StrPat, String> {
        let names = token
            .bytes()
            .any(|b| !(b.is_ascii_digit() || b == b'.' || b == b'/'));
        let kind = if token.eq_ignore_ascii_case("ALL") {
            StrKind::All
        } else if let Some(rest) = token.strip_prefix('[') {
            let not_v6 = || format!("{token:?} is not an IPv6 address in brackets");
            let inner = rest.strip_suffix(']').ok_or_else(not_v6)?;
            let inner = inner.split('%').next().unwrap_or(inner);
            StrKind::V6(inner.parse().map_err(|_| not_v6())?)
        } else if token.starts_with('.') {
            StrKind::Suffix(token.to_ascii_lowercase())
        } else if token.ends_with('.') {
            StrKind::Prefix(token.to_ascii_lowercase())
        } else if token.contains(['*', '?']) {
            StrKind::Glob(token.to_ascii_lowercase())
        } else {
            StrKind::Exact(token.to_ascii_lowercase())
        };
        let names = names && !matches!(kind, StrKind::V6(_));
        Ok(StrPat { kind, names })
    }

    fn matches_addr(&self, addr: IpAddr, text: &str) -> bool {
        match (&self.kind, addr) {
            (StrKind::V6(p), IpAddr::V6(a)) => *p == a,
            (StrKind::V6(_), IpAddr::V4(_)) => false,
            _ => self.matches_str(text),
        }
    }

    fn matches_str(&self, s: &str) -> bool {
        let s = s.as_bytes();
        match &self.kind {
            StrKind::All => true,
            StrKind::Suffix(p) => {
                s.len() > p.len() && s[s.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            StrKind::Prefix(p) => {
                s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            StrKind::Exact(p) => s.eq_ignore_ascii_case(p.as_bytes()),
            StrKind::V6(_) => false,
            StrKind::Glob(p) => wildcard::matches(p.as_bytes(), &s.to_ascii_lowercase()),
        }
    }
}

#[derive(Debug, Default)]
struct Options {
    /// `allow` (true), `deny`/`twist` (false), or the file's default.
    decision: Option<bool>,
    load_conf: Option<PathBuf>,
}

/// Collects what a file says, with its path for messages.
struct Parser<'a> {
    path: &'a Path,
    hosts: &'a HostTable,
    warnings: &'a mut Vec<String>,
    line: usize,
    /// Nesting of `/file` patterns, to stop a file that names itself.
    depth: usize,
}

impl Table {
    fn load(
        path: &Path,
        expected: Expected,
        hosts: &HostTable,
        warnings: &mut Vec<String>,
    ) -> Result<Table, HostsError> {
        match source_file::read_text(path, expected) {
            Ok(text) => Table::parse(path, &text, hosts, warnings),
            Err(e) if e.is_not_found() => Ok(Table {
                path: path.to_owned(),
                rules: Vec::new(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn parse(
        path: &Path,
        text: &str,
        hosts: &HostTable,
        warnings: &mut Vec<String>,
    ) -> Result<Table, HostsError> {
        let mut parser = Parser {
            path,
            hosts,
            warnings,
            line: 0,
            depth: 0,
        };
        let mut rules = Vec::new();
        for (line, text) in logical_lines(text) {
            parser.line = line;
            let text = strip_comment(&text);
            if text.trim().is_empty() {
                continue;
            }
            let rule = parser.rule(text).map_err(|message| {
                HostsError::Syntax(LineError {
                    file: path.to_owned(),
                    line,
                    message,
                })
            })?;
            rules.push(rule);
        }
        Ok(Table {
            path: path.to_owned(),
            rules,
        })
    }
}

/// Lines with backslash-newline continuations joined (the backslash and newline removed, as
/// libwrap's xgets does), each with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                out.push((start, std::mem::take(&mut current)));
            }
        }
    }
    if !current.is_empty() {
        out.push((start, current));
    }
    out
}

/// Cuts the line at the first `#` that is not preceded by a backslash.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1] != b'\\') {
            return &line[..i];
        }
    }
    line
}

/// libwrap's `split_at`: the text before and after the first `delim` outside `[...]`.
fn split_at(s: &str, delim: char) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if c == delim && depth == 0 => return Some((&s[..i], &s[i + c.len_utf8()..])),
            _ => {}
        }
    }
    None
}

fn tokens(list: &str) -> Vec<&str> {
    list.split([',', ' ', '\t', '\r', '\n'])
        .filter(|t| !t.is_empty())
        .collect()
}

impl Parser<'_> {
    fn warn(&mut self, message: String) {
        self.warnings
            .push(format!("{}:{}: {message}", self.path.display(), self.line));
    }

    fn rule(&mut self, text: &str) -> Result<Rule, String> {
        let (daemons, rest) = split_at(text, ':').ok_or("missing \":\" separator")?;
        let (clients, options) = match split_at(rest, ':') {
            Some((clients, options)) => (clients, Some(options)),
            None => (rest, None),
        };
        let daemons = List::parse(&tokens(daemons), &mut |t| self.daemon(t))
            .map_err(|e| format!("daemon list: {e}"))?;
        let clients = List::parse(&tokens(clients), &mut |t| self.host(t))
            .map_err(|e| format!("client list: {e}"))?;
        let options = match options {
            Some(text) => self.options(text)?,
            None => Options::default(),
        };
        Ok(Rule {
            line: self.line,
            daemons,
            clients,
            options,
        })
    }

    fn daemon(&mut self, token: &str) -> Result<DaemonPat, String> {
        // As libwrap: an `@` after the first character separates daemon and server host.
        match token.get(1..).and_then(|t| t.find('@')) {
            Some(at) => {
                let (name, host) = (&token[..at + 1], &token[at + 2..]);
                Ok(DaemonPat {
                    name: StrPat::new(name)?,
                    host: Some(self.host(host)?),
                })
            }
            None => Ok(DaemonPat {
                name: StrPat::new(token)?,
                host: None,
            }),
        }
    }

    fn host(&mut self, token: &str) -> Result<HostPat, String> {
        if token.is_empty() {
            return Err("empty host pattern".to_owned());
        }
        if let Some(at) = token.get(1..).and_then(|t| t.find('@')) {
            let (user, host) = (&token[..at + 1], &token[at + 2..]);
            let host = self.host(host)?;
            if user.eq_ignore_ascii_case("ALL") {
                return Ok(host);
            }
            self.warn(format!(
                "{token:?} needs an ident (RFC 931) lookup of the user, which ringd does not do: it never matches"
            ));
            return Ok(HostPat::Never);
        }
        if token.starts_with('@') {
            self.warn(format!(
                "{token:?} is a NIS netgroup, which ringd does not support: it never matches"
            ));
            return Ok(HostPat::Never);
        }
        if token.starts_with('/') {
            return self.host_file(token);
        }
        for (keyword, pat) in [
            ("ALL", HostPat::All),
            ("KNOWN", HostPat::Known),
            ("UNKNOWN", HostPat::Unknown),
            ("LOCAL", HostPat::Local),
            ("PARANOID", HostPat::Paranoid),
        ] {
            if token.eq_ignore_ascii_case(keyword) {
                return Ok(pat);
            }
        }
        if let Some((net, mask)) = split_at(token, '/') {
            return self.net_mask(token, net, mask);
        }
        let pat = StrPat::new(token)?;
        if pat.names
            && token.bytes().any(|b| b.is_ascii_alphabetic())
            && !self.hosts.names.values().any(|n| pat.matches_str(n))
        {
            self.warn(format!(
                "{token:?} is a host name pattern and ringd does no DNS lookups: it matches only clients that /etc/hosts names, and none does now"
            ));
        }
        Ok(HostPat::Str(pat))
    }

    fn net_mask(&mut self, token: &str, net: &str, mask: &str) -> Result<HostPat, String> {
        let bad = || format!("bad net/mask {token:?}");
        if let Some(inner) = net.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            let net: Ipv6Addr = inner.parse().map_err(|_| bad())?;
            let len: u32 = mask.parse().map_err(|_| bad())?;
            if len > 128 {
                return Err(bad());
            }
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            return Ok(HostPat::Net6 {
                net: u128::from(net),
                mask,
            });
        }
        let net = u32::from(net.parse::<Ipv4Addr>().map_err(|_| bad())?);
        let mask = if let Ok(mask) = mask.parse::<Ipv4Addr>() {
            u32::from(mask)
        } else {
            let len: u32 = mask.parse().map_err(|_| bad())?;
            if len > 32 {
                return Err(bad());
            }
            if len == 0 {
                0
            } else {
                u32::MAX << (32 - len)
            }
        };
        if net & !mask != 0 {
            self.warn(format!(
                "{token:?} has host bits set in the network: tcp_wrappers never matches it (write the network address)"
            ));
        }
        Ok(HostPat::Net4 { net, mask })
    }

    /// A `/path` pattern: the whitespace-separated patterns in that file, read now.
    fn host_file(&mut self, path: &str) -> Result<HostPat, String> {
        if self.depth >= 4 {
            return Err(format!("{path:?}: pattern files nested too deeply"));
        }
        let text = match source_file::read_text(Path::new(path), PATTERN_FILE) {
            Ok(text) => text,
            Err(e) => {
                self.warn(format!(
                    "cannot read pattern file {path:?} ({e}): it matches nothing"
                ));
                return Ok(HostPat::Any(Vec::new()));
            }
        };
        self.depth += 1;
        let result = text
            .split_whitespace()
            .map(|t| self.host(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("in pattern file {path:?}: {e}"));
        self.depth -= 1;
        Ok(HostPat::Any(result?))
    }

    fn options(&mut self, text: &str) -> Result<Options, String> {
        let fields = option_fields(text);
        let mut options = Options::default();
        for (i, field) in fields.iter().enumerate() {
            let field = field.trim();
            let key_end = field
                .find(|c: char| c.is_whitespace() || c == '=')
                .unwrap_or(field.len());
            let key = &field[..key_end];
            let mut value = field[key_end..].trim_start();
            if let Some(v) = value.strip_prefix('=') {
                value = v.trim_start();
            }
            let value = (!value.is_empty()).then_some(value);
            if key.is_empty() {
                return Err("missing option name".to_owned());
            }
            let key_lc = key.to_ascii_lowercase();
            // (needs a value, may take a value, must be last)
            let (needs, takes, last) = match key_lc.as_str() {
                "allow" | "deny" => (false, false, true),
                "twist" => (true, true, true),
                "spawn" | "setenv" | "severity" | "banners" | "linger" | "umask" | "user"
                | "group" => (true, true, false),
                "nice" | "rfc931" => (false, true, false),
                "keepalive" => (false, false, false),
                _ => return Err(format!("bad option name: {key:?}")),
            };
            if needs && value.is_none() {
                return Err(format!("option {key:?} requires a value"));
            }
            if !takes && value.is_some() {
                return Err(format!("option {key:?} requires no value"));
            }
            if last && i + 1 != fields.len() {
                return Err(format!("option {key:?} must be at the end"));
            }
            match key_lc.as_str() {
                "allow" => options.decision = Some(true),
                "deny" => options.decision = Some(false),
                "twist" => {
                    options.decision = Some(false);
                    self.warn(
                        "option \"twist\" runs a command instead of the service: ringd refuses the client instead".to_owned(),
                    );
                }
                "setenv" => {
                    let value = value.unwrap_or_default();
                    let (name, val) = value
                        .split_once(char::is_whitespace)
                        .map(|(n, v)| (n, v.trim()))
                        .unwrap_or((value, ""));
                    if name == "VSFTPD_LOAD_CONF" && !val.is_empty() {
                        options.load_conf = Some(PathBuf::from(val));
                    } else {
                        self.warn(format!(
                            "option \"setenv {name}\" is ignored by ringd (only VSFTPD_LOAD_CONF is used)"
                        ));
                    }
                }
                _ => self.warn(format!("option {key:?} is ignored by ringd")),
            }
        }
        Ok(options)
    }
}

/// The `:`-separated option fields, with backslash escapes removed (`\:` is a colon), as
/// libwrap's `get_field`.
fn option_fields(text: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' => fields.push(String::new()),
            '\\' => match chars.next() {
                Some(next) => fields.last_mut().unwrap().push(next),
                None => fields.last_mut().unwrap().push('\\'),
            },
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAEMONS: &[&str] = &["vsftpd", "ringd"];

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/ftp")
            .join(name)
    }

    fn test_hosts() -> HostTable {
        HostTable::load(&data("hosts")).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rules(allow: &str, deny: &str) -> HostsAccess {
        HostsAccess::parse(
            Path::new("hosts.allow"),
            allow,
            Path::new("hosts.deny"),
            deny,
            test_hosts(),
        )
        .unwrap()
    }

    fn syntax(allow: &str) -> (usize, String) {
        match HostsAccess::parse(
            Path::new("hosts.allow"),
            allow,
            Path::new("hosts.deny"),
            "",
            test_hosts(),
        ) {
            Err(HostsError::Syntax(LineError { line, message, .. })) => (line, message),
            Err(other) => panic!("not a syntax error: {other}"),
            Ok(_) => panic!("accepted: {allow:?}"),
        }
    }

    #[test]
    fn seed_allow_local_and_one_host_deny_all() {
        // The seed's pair: `vsftpd: LOCAL, 172.16.9.1XX` allowed, `vsftpd: ALL` denied.
        let access =
            HostsAccess::load_with(&data("hosts.allow"), &data("hosts.deny"), test_hosts())
                .unwrap();
        assert!(access.permits(DAEMONS, ip("172.16.9.100")));
        assert!(access.permits(DAEMONS, ip("127.0.0.1"))); // localhost: LOCAL
        assert!(access.permits(DAEMONS, ip("::1")));
        assert!(access.permits(DAEMONS, ip("127.0.1.1"))); // `server1`: LOCAL
        assert!(access.permits(DAEMONS, ip("::ffff:172.16.9.100")));
        assert!(!access.permits(DAEMONS, ip("172.16.9.252")));
        assert!(!access.permits(DAEMONS, ip("192.168.10.200"))); // server1.example.com has a dot
        assert!(!access.permits(DAEMONS, ip("2001:db8::1")));
        // Other daemons are not concerned.
        assert!(access.permits(&["sshd"], ip("172.16.9.252")));
        assert!(access.permits(&["vsftpd"], ip("127.0.0.1")));
        // The seed's files name vsftpd: a server known only as ringd is not concerned, which is
        // why ringd passes both names.
        assert!(access.permits(&["ringd"], ip("10.0.0.1")));
        let v = access.check(DAEMONS, ip("10.0.0.1"), None);
        assert_eq!(
            v.rule.map(|(p, l)| (p.ends_with("hosts.deny"), l)),
            Some((true, 9))
        );
        let v = access.check(DAEMONS, ip("172.16.9.100"), None);
        assert_eq!(
            v.rule.map(|(p, l)| (p.ends_with("hosts.allow"), l)),
            Some((true, 6))
        );
        assert!(access.warnings().is_empty(), "{:?}", access.warnings());
    }

    #[test]
    fn seed_examples() {
        let access = HostsAccess::load_with(
            &data("hosts.allow.examples"),
            &data("missing-hosts.deny"),
            test_hosts(),
        )
        .unwrap();
        let allowed = |who: &str| access.permits(DAEMONS, ip(who));
        // ALL: localhost, .yahoo.com
        assert!(allowed("127.0.0.1"));
        assert!(allowed("::1"));
        assert!(allowed("198.51.100.11")); // www.yahoo.com in the host table
                                           // vsftpd: 192.168.0.2, 192.168.0.3, 192.168.1., 172.16.
        assert!(allowed("192.168.0.2"));
        assert!(allowed("192.168.0.3"));
        assert!(allowed("192.168.1.77"));
        assert!(allowed("172.16.200.1"));
        assert!(!access.permits(&["sshd"], ip("172.16.200.1")));
        // ALL: .daum.net EXCEPT killer.daum.net
        assert!(allowed("203.0.113.8"));
        assert!(!allowed("203.0.113.7"));
        // ALL EXCEPT in.ftpd: .paran.com EXCEPT cafe.paran.com
        assert!(allowed("198.51.100.10"));
        assert!(!allowed("198.51.100.9"));
        assert!(!access.permits(&["in.ftpd"], ip("198.51.100.10")));
        // ALL: 192.168.0.0/24, 192.168.1.0/255.255.255.0
        assert!(allowed("192.168.0.200"));
        // ALL: ALL: DENY
        assert!(!allowed("10.1.2.3"));
        assert!(!allowed("172.17.0.1"));
        assert!(!allowed("2001:db8::1"));
        let v = access.check(DAEMONS, ip("10.1.2.3"), None);
        assert_eq!(v.rule.map(|(_, l)| l), Some(8));
        assert!(!v.allowed);
    }

    #[test]
    fn missing_files_allow_everything() {
        let access = HostsAccess::load_with(
            Path::new("/nonexistent/hosts.allow"),
            Path::new("/nonexistent/hosts.deny"),
            HostTable::default(),
        )
        .unwrap();
        assert!(access.permits(DAEMONS, ip("192.0.2.1")));
        assert_eq!(access.check(DAEMONS, ip("::1"), None).rule, None);
        assert!(HostsAccess::load(
            Path::new("/nonexistent/hosts.allow"),
            Path::new("/nonexistent/hosts.deny")
        )
        .is_ok());
        let err = HostsAccess::load_with(
            Path::new("/"),
            Path::new("/nonexistent"),
            HostTable::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/ is a directory; hosts_allow_file must name a regular file of at most 16777216 bytes"
        );
        let err = HostsAccess::load_with(
            Path::new("/nonexistent"),
            Path::new("/dev/zero"),
            HostTable::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero is a character device; hosts_deny_file must name a regular file of at \
             most 16777216 bytes"
        );
        assert!(matches!(
            HostTable::load(Path::new("/dev/zero")),
            Err(SourceFileError::NotRegular { .. })
        ));
    }

    #[test]
    fn address_forms() {
        let access = rules(
            "vsftpd: 10.0.0.1 [2001:db8::7] 10.1. 10.2.0.0/16 10.3.0.0/255.255.0.0 [2001:db8:1::]/48 10.4.*.1? 10.5.0.?\n",
            "ALL: ALL\n",
        );
        let allowed = |who: &str| access.permits(&["vsftpd"], ip(who));
        for yes in [
            "10.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::7",
            "10.1.9.9",
            "10.2.255.1",
            "10.3.1.1",
            "2001:db8:1:ffff::1",
            "10.4.77.12",
            "10.5.0.9",
        ] {
            assert!(allowed(yes), "{yes}");
        }
        for no in [
            "10.0.0.10",
            "2001:db8::8",
            "10.10.1.1", // "10.1." is a prefix of components, not of digits
            "10.20.0.1",
            "10.4.77.2",
            "10.5.0.10",
            "2001:db8:2::1",
            "::10.0.0.1",
        ] {
            assert!(!allowed(no), "{no}");
        }
    }

    #[test]
    fn net_mask_edges() {
        let access = rules(
            "a: 0.0.0.0/0\nb: [::]/0\nc: 192.168.1.5/24\nd: 10.0.0.0/8 : deny\n",
            "",
        );
        assert!(access.permits(&["a"], ip("203.0.113.1")));
        // In hosts.allow only, with nothing denied: test the rules by their verdicts.
        assert!(access.check(&["a"], ip("203.0.113.1"), None).rule.is_some());
        assert!(access.check(&["a"], ip("2001:db8::1"), None).rule.is_none());
        assert!(access.check(&["b"], ip("2001:db8::1"), None).rule.is_some());
        // Host bits set: never matches, as tcp_wrappers, with a warning.
        assert!(access.check(&["c"], ip("192.168.1.5"), None).rule.is_none());
        assert!(access.warnings().iter().any(|w| w.contains("host bits")));
        assert!(!access.permits(&["d"], ip("10.9.9.9")));
        for bad in [
            "x: 10.0.0.0/33",
            "x: 10.0.0/8",
            "x: 10.0.0.0/255.255.0.0.0",
            "x: [2001:db8::]/129",
            "x: [zz::]/64",
            "x: 10.0.0.0/abc",
            "x: [::1",
        ] {
            let (line, msg) = syntax(bad);
            assert_eq!(line, 1, "{bad}");
            assert!(
                msg.contains("bad net/mask") || msg.contains("IPv6") || msg.contains("separator"),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn names_come_from_the_host_table() {
        let access = rules(
            "vsftpd: localhost server1 .example.com KNOWN@never\nin.ftpd: KNOWN\nftpd: UNKNOWN\nx: PARANOID\n",
            "",
        );
        let allow_rule =
            |d: &str, who: &str| access.check(&[d], ip(who), None).rule.map(|(_, line)| line);
        assert_eq!(allow_rule("vsftpd", "127.0.0.1"), Some(1));
        assert_eq!(allow_rule("vsftpd", "::1"), Some(1));
        assert_eq!(allow_rule("vsftpd", "127.0.1.1"), Some(1)); // server1
        assert_eq!(allow_rule("vsftpd", "192.168.10.200"), Some(1)); // .example.com
        assert_eq!(allow_rule("vsftpd", "192.0.2.1"), None);
        assert_eq!(allow_rule("in.ftpd", "203.0.113.7"), Some(2));
        assert_eq!(allow_rule("in.ftpd", "192.0.2.1"), None);
        assert_eq!(allow_rule("ftpd", "192.0.2.1"), Some(3));
        assert_eq!(allow_rule("ftpd", "127.0.0.1"), None);
        assert_eq!(allow_rule("x", "127.0.0.1"), None);
        assert!(access.warnings().iter().any(|w| w.contains("ident")));
        // A name nobody in the table has draws a warning.
        let access = rules("vsftpd: .nowhere.example badhost\n", "");
        assert_eq!(access.warnings().len(), 2, "{:?}", access.warnings());
        assert!(access.warnings()[0].starts_with("hosts.allow:1: \".nowhere.example\""));
        assert!(access.warnings()[0].contains("no DNS"));
    }

    #[test]
    fn except_lists() {
        let access = rules(
            "ALL EXCEPT vsftpd: ALL\nvsftpd: 10. EXCEPT 10.0.0.0/8 EXCEPT 10.1.1.1\n",
            "ALL: ALL\n",
        );
        // The first rule does not apply to a server called vsftpd (in any of its names).
        assert!(access.permits(&["sshd"], ip("192.0.2.1")));
        assert!(!access.permits(&["vsftpd"], ip("192.0.2.1")));
        assert!(!access.permits(DAEMONS, ip("192.0.2.1")));
        // 10. EXCEPT (10.0.0.0/8 EXCEPT 10.1.1.1): only 10.1.1.1 is left.
        assert!(access.permits(&["vsftpd"], ip("10.1.1.1")));
        assert!(!access.permits(&["vsftpd"], ip("10.1.1.2")));
        for bad in [
            "EXCEPT vsftpd: ALL",
            "vsftpd: ALL EXCEPT",
            "vsftpd: EXCEPT x",
            "vsftpd: ALL EXCEPT EXCEPT x",
        ] {
            let (_, msg) = syntax(bad);
            assert!(msg.contains("EXCEPT"), "{bad}: {msg}");
        }
    }

    #[test]
    fn options_allow_deny_and_others() {
        let access = rules(
            "vsftpd: 10.0.0.1: DENY\n\
             vsftpd: 10.0.0.2: spawn (/bin/echo %a \\: connected) &: allow\n\
             vsftpd: 10.0.0.3: twist /bin/echo go away\n\
             vsftpd: 10.0.0.4: setenv VSFTPD_LOAD_CONF /etc/vsftpd/special.conf\n\
             vsftpd: 10.0.0.5: severity auth.info : keepalive : nice 5 : setenv = TZ UTC : rfc931\n",
            "vsftpd: 10.0.0.6 10.0.0.7: allow\nvsftpd: ALL: setenv VSFTPD_LOAD_CONF /etc/deny.conf\n",
        );
        let check = |who: &str| access.check(DAEMONS, ip(who), None);
        assert!(!check("10.0.0.1").allowed);
        assert!(check("10.0.0.2").allowed);
        assert!(!check("10.0.0.3").allowed);
        let v = check("10.0.0.4");
        assert!(v.allowed);
        assert_eq!(v.load_conf, Some(Path::new("/etc/vsftpd/special.conf")));
        assert!(check("10.0.0.5").allowed);
        assert!(check("10.0.0.6").allowed);
        let v = check("10.0.0.9");
        assert!(!v.allowed);
        assert_eq!(v.load_conf, Some(Path::new("/etc/deny.conf")));
        assert_eq!(
            access.load_conf_files(),
            [
                Path::new("/etc/vsftpd/special.conf"),
                Path::new("/etc/deny.conf")
            ]
        );
        assert_eq!(v.rule, Some((Path::new("hosts.deny"), 2)));
        let w = access.warnings().join("\n");
        for expect in [
            "\"spawn\"",
            "\"twist\"",
            "\"severity\"",
            "\"keepalive\"",
            "\"nice\"",
            "setenv TZ",
            "\"rfc931\"",
        ] {
            assert!(w.contains(expect), "{expect} not in {w}");
        }
        for (bad, expect) in [
            ("vsftpd: ALL: frobnicate", "bad option name"),
            ("vsftpd: ALL: deny: spawn x", "must be at the end"),
            ("vsftpd: ALL: allow yes", "requires no value"),
            ("vsftpd: ALL: spawn", "requires a value"),
            ("vsftpd: ALL: twist", "requires a value"),
            ("vsftpd: ALL: : allow", "missing option name"),
        ] {
            let (_, msg) = syntax(bad);
            assert!(msg.contains(expect), "{bad}: {msg}");
        }
    }

    #[test]
    fn daemon_at_host_needs_the_server_address() {
        let access = rules(
            "vsftpd@192.0.2.10: ALL: deny\nvsftpd@[2001:db8::10]: ALL: deny\n",
            "",
        );
        assert!(access.permits(DAEMONS, ip("198.51.100.1")));
        assert!(
            !access
                .check(DAEMONS, ip("198.51.100.1"), Some(ip("192.0.2.10")))
                .allowed
        );
        assert!(
            !access
                .check(DAEMONS, ip("198.51.100.1"), Some(ip("2001:db8::10")))
                .allowed
        );
        assert!(
            access
                .check(DAEMONS, ip("198.51.100.1"), Some(ip("192.0.2.11")))
                .allowed
        );
    }

    #[test]
    fn file_syntax() {
        // Continuations, comments, CRLF, case-insensitive keywords, commas and blanks.
        let access = rules(
            "# comment\n\
             \n\
             \x20  # indented comment\n\
             VSFTPD ,sshd:\\\n 10.0.0.1,\\\n\t10.0.0.2 # trailing comment\r\n\
             vsftpd: all except 10.0.0.3: Deny\n",
            "",
        );
        assert_eq!(
            access
                .check(&["vsftpd"], ip("10.0.0.2"), None)
                .rule
                .map(|(_, l)| l),
            Some(4)
        );
        assert!(access.permits(&["vsftpd"], ip("10.0.0.3")));
        assert!(!access.permits(&["vsftpd"], ip("10.0.0.4")));
        // Errors name the file and the rule's first line.
        let (line, msg) = syntax("vsftpd: ALL\n\nno separator here\n");
        assert_eq!((line, msg.as_str()), (3, "missing \":\" separator"));
        let (line, msg) = syntax("a: b\nvsftpd \\\n: \n");
        assert_eq!(line, 2);
        assert!(msg.contains("client list: empty list"), "{msg}");
        let (_, msg) = syntax(": ALL");
        assert!(msg.contains("daemon list: empty list"), "{msg}");
        let err = HostsAccess::parse(
            Path::new("/etc/hosts.allow"),
            "x",
            Path::new("/etc/hosts.deny"),
            "",
            HostTable::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/hosts.allow:1: missing \":\" separator"
        );
        let err = HostsAccess::parse(
            Path::new("/etc/hosts.allow"),
            "",
            Path::new("/etc/hosts.deny"),
            "ok: ALL\nbad\n",
            HostTable::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/hosts.deny:2: missing \":\" separator"
        );
    }

    #[test]
    fn netgroups_and_pattern_files() {
        let dir = crate::test_dirs::TempDir::new("hosts-access");
        let list = dir.join("clients");
        std::fs::write(&list, "10.0.0.1\n  10.9. [2001:db8::5]\n").unwrap();
        let allow = format!(
            "vsftpd: {}\nvsftpd: @trusted\nvsftpd: {}/missing\n",
            list.display(),
            dir.path().display()
        );
        let access = rules(&allow, "vsftpd: ALL\n");
        assert!(access.permits(DAEMONS, ip("10.0.0.1")));
        assert!(access.permits(DAEMONS, ip("10.9.3.4")));
        assert!(access.permits(DAEMONS, ip("2001:db8::5")));
        assert!(!access.permits(DAEMONS, ip("10.0.0.2")));
        let w = access.warnings().join("\n");
        assert!(
            w.contains("netgroup") && w.contains("cannot read pattern file"),
            "{w}"
        );
        // A device is not read (it would never end): it matches nothing, with a warning.
        let access = rules("vsftpd: /dev/zero\n", "vsftpd: ALL\n");
        assert!(!access.permits(DAEMONS, ip("10.0.0.1")));
        let w = access.warnings().join("\n");
        assert!(
            w.contains("/dev/zero is a character device; a tcp_wrappers /path pattern file"),
            "{w}"
        );
        std::fs::write(&list, "10.0.0.0/99\n").unwrap();
        let (_, msg) = syntax(&format!("vsftpd: {}\n", list.display()));
        assert!(
            msg.contains("in pattern file") && msg.contains("bad net/mask"),
            "{msg}"
        );
        // A file that names itself stops.
        std::fs::write(&list, list.display().to_string()).unwrap();
        let (_, msg) = syntax(&format!("vsftpd: {}\n", list.display()));
        assert!(msg.contains("nested too deeply"), "{msg}");
    }

    #[test]
    fn host_table() {
        let t = HostTable::parse(
            "# c\n127.0.0.1 localhost # comment\n127.0.0.1 other\nfe80::1%eth0 linklocal\n::ffff:192.0.2.9 mapped\nbogus line\n10.0.0.1\n",
        );
        assert_eq!(t.name_of(ip("127.0.0.1")), Some("localhost"));
        assert_eq!(t.name_of(ip("fe80::1")), Some("linklocal"));
        assert_eq!(t.name_of(ip("192.0.2.9")), Some("mapped"));
        assert_eq!(t.name_of(ip("::ffff:127.0.0.1")), Some("localhost"));
        assert_eq!(t.name_of(ip("10.0.0.1")), None);
        assert!(HostTable::load(Path::new("/nonexistent/hosts")).is_ok());
    }

    #[test]
    fn shareable_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<HostsAccess>();
    }

    #[test]
    fn helpers() {
        assert_eq!(split_at("[::1]:x:y", ':'), Some(("[::1]", "x:y")));
        assert_eq!(split_at("abc", ':'), None);
        assert_eq!(strip_comment("a \\# b # c"), "a \\# b ");
        assert_eq!(option_fields("a \\: b: c"), ["a : b", " c"]);
        assert_eq!(
            logical_lines("a\\\nb\nc\\\n"),
            [(1, "ab".to_owned()), (3, "c".to_owned())]
        );
        assert_eq!(tokens(" a, b\tc ,,d "), ["a", "b", "c", "d"]);
    }
}
