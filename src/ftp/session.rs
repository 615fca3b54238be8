//! The FTP session state machine: command lines in, replies and data-channel actions out.
//!
//! It follows vsftpd 3.0.3's pre- and post-login dispatch: which commands exist before login,
//! which configuration options gate which commands, and the reply for each outcome. It makes no
//! system call and reads no clock: the I/O shell gives it the time and, once logged in, the
//! session's filesystem ([`SessionFs`], which runs every access with the session's
//! credentials), performs the [`Action`]s and reports back through `authenticated`,
//! `root_opened`, `passive_listening`, `file_locked` and `transfer_finished`. A session is
//! `BeforeLogin` until the root of its login is entered, then `LoggedIn`, which holds the user.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use protection::{protection_buffer, protection_level, Security};

use super::action::{
    Action, DataChannel, DataJob, DataTlsFailure, ListingReply, LockRequest, Transfer,
    TransferOutcome,
};
use super::command::{self, Command, CommandError, EpsvArg, SiteCommand, TransferType};
use super::context::SessionContext;
use super::filesystem::{
    is_staging_name, resolve, FileHandle, SessionFs, StagedUpload, Staging, WriteHow,
};
use super::listing::{self, EntryKind, FactSet, ListKind};
use super::listing_job::{Framing, ListFormat, ListingJob, ListingSettings};
use super::login::{
    self, AuthMethod, AuthOutcome, AuthRequest, LoginKind, LoginPlan, Oops, PlanContext,
};
use super::replies::{self, FixedReply, Reply, SessionStatus};
use super::telnet::LineError;
use super::transfer_log::{self, AccessMode, Direction, LogEvent, TransferRecord};
use crate::config::vsftpd::{self, FtpConfig};
use crate::ntp::packet::UnixTime;
use crate::sys::file_lock::FileLock;

/// Who is logged in, and what their commands changed about them.
struct User {
    /// The name STAT reports: `ftp_username` for anonymous sessions, as vsftpd does.
    shown_name: Vec<u8>,
    /// vsftpd's `is_anonymous`: an anonymous login, or a guest without
    /// virtual_use_local_privs.
    anonymous: bool,
    access: AccessMode,
    /// The password an anonymous user gave: xferlog's user field.
    anon_password: Vec<u8>,
    cwd: Vec<u8>,
    /// The working directory at login: what `~` names.
    home: Vec<u8>,
    umask: u32,
    messages_shown: HashSet<Vec<u8>>,
}

/// A login between PASS and `230`: verified by the shell, then its root opened.
struct PendingLogin {
    /// The name as given, then as verified.
    name: Vec<u8>,
    anonymous: bool,
    anon_password: Vec<u8>,
    /// Decided once the login is verified.
    plan: Option<LoginPlan>,
}

/// What the next transfer connects through, once PASV/EPSV or PORT/EPRT said so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataSetup {
    None,
    /// The shell is opening (or has opened) a listener; `extended` picks the 229 reply.
    Passive {
        extended: bool,
        ready: bool,
    },
    Active(SocketAddr),
}

/// Which reply a finished transfer gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TransferKind {
    Listing,
    /// A listing of a directory that could not be opened: nothing is sent, as in vsftpd.
    UnopenedListing,
    Download,
    Upload,
}

/// What a listing request produced.
enum Listing {
    /// `deny_file` refuses the path.
    Denied,
    /// The directory could not be opened.
    Unopened,
    Started(Box<ListingJob>),
}

pub struct Session {
    phase: Phase,
}

/// The commands after login are methods of `LoggedIn`, so none can run without a user.
// `LoggedIn` is not boxed: a session keeps room for it before login too, as it did when one
// struct held both phases; boxed, every logged-in session, which is most idle sessions, would
// carry room for `BeforeLogin` besides its allocation.
enum Phase {
    BeforeLogin(BeforeLogin),
    LoggedIn(LoggedIn),
}

/// A session until its `230`: USER, PASS, and the login the shell verifies and opens.
struct BeforeLogin {
    context: Arc<SessionContext>,
    /// The server's options, with the user's `user_config_dir` file applied once the login is
    /// verified.
    config: Arc<FtpConfig>,
    peer: SocketAddr,
    /// Not needed before login: kept for the logged-in phase.
    local: SocketAddr,
    /// `OPTS MLST` may come before login; the choice holds after it.
    facts: FactSet,
    security: Security,
    pending_user: Option<Vec<u8>>,
    /// Boxed: it exists only for the moment of a login.
    login: Option<Box<PendingLogin>>,
    login_failures: u32,
    /// Sessions open when this one was accepted, itself included (STAT's client count).
    clients_at_start: u32,
}

/// A logged-in session: its user, and what its commands set up for the next ones.
struct LoggedIn {
    context: Arc<SessionContext>,
    /// The options of this session: the server's, or with the user's `user_config_dir` file
    /// applied.
    config: Arc<FtpConfig>,
    peer: SocketAddr,
    local: SocketAddr,
    facts: FactSet,
    security: Security,
    user: User,
    data: DataSetup,
    epsv_all: bool,
    restart_offset: u64,
    rename_from: Option<Vec<u8>>,
    ascii: bool,
    clients_at_start: u32,
    transfer: Option<TransferKind>,
    /// Boxed: it is there only while an upload is in progress, and every idle session would
    /// otherwise carry room for it.
    upload: Option<Box<PendingUpload>>,
    /// Boxed: it is there only while a lock is awaited, and every idle session would
    /// otherwise carry room for it.
    awaiting_lock: Option<Box<AwaitingLock>>,
}

/// An upload in progress: where its data goes, and where it belongs when complete.
struct PendingUpload {
    /// An atomic upload, put in place by the filesystem when complete.
    staging: Option<Staging>,
    target: Vec<u8>,
}

/// A file transfer whose file the shell is locking (`lock_upload_files`): what to start once
/// it has the lock.
struct AwaitingLock {
    record: TransferRecord,
    start: FileTransfer,
}

/// A file transfer, ready to start once its file is open (and locked, if it is to be).
enum FileTransfer {
    Download {
        /// The name as the client gave it, for the 150 reply.
        name: Vec<u8>,
        offset: u64,
        ascii: bool,
    },
    Upload {
        opening: Reply,
        /// Empty the file first (STOR over an existing file, when that waits for the lock).
        truncate: bool,
        ascii: bool,
        sync: bool,
    },
}

fn say(reply: FixedReply) -> Vec<Action> {
    vec![Action::Reply(reply.reply())]
}

fn send(reply: Reply) -> Vec<Action> {
    vec![Action::Reply(reply)]
}

/// A user name or password as the account files and the login threads compare it (file names
/// stay bytes).
fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// vsftpd's fatal reply (`500 OOPS: ...`), then the end of the session.
fn oops(text: &str) -> Vec<Action> {
    vec![
        Action::Reply(Reply::new(500, format!("OOPS: {text}"))),
        Action::Close,
    ]
}

/// FEAT, the same before and after login.
fn features(config: &FtpConfig, facts: FactSet) -> Vec<Action> {
    send(replies::feat(config, facts))
}

/// OPTS, the same before and after login.
fn set_option(facts: &mut FactSet, option: &str, value: &str) -> Vec<Action> {
    // vsftpd takes exactly `UTF8 ON`: a bare `OPTS UTF8` is not understood.
    if option == "UTF8" && value.eq_ignore_ascii_case("ON") {
        return say(replies::ALWAYS_UTF8);
    }
    if option == "MLST" {
        *facts = FactSet::parse(value);
        return send(replies::mlst_options_set(*facts));
    }
    say(replies::OPTION_NOT_UNDERSTOOD)
}

impl Session {
    /// A session accepted from `peer` on `local`, when `clients_at_start` sessions were open
    /// (itself included).
    pub fn new(
        context: Arc<SessionContext>,
        peer: SocketAddr,
        local: SocketAddr,
        clients_at_start: u32,
    ) -> Session {
        Session {
            phase: Phase::BeforeLogin(BeforeLogin {
                config: Arc::clone(&context.config),
                context,
                peer,
                local,
                facts: FactSet::ALL,
                security: Security::default(),
                pending_user: None,
                login: None,
                login_failures: 0,
                clients_at_start,
            }),
        }
    }

    /// The session's opening: with `implicit_ssl`, the TLS handshake, then the 220 greeting
    /// (or the banner file as a multi-line 220).
    pub fn greeting(&mut self) -> Vec<Action> {
        let mut actions = match &mut self.phase {
            Phase::BeforeLogin(before_login) => before_login.implicit_tls(),
            Phase::LoggedIn(_) => Vec::new(),
        };
        let context = match &self.phase {
            Phase::BeforeLogin(before_login) => &before_login.context,
            Phase::LoggedIn(logged_in) => &logged_in.context,
        };
        actions.extend(send(context.greeting.clone()));
        self.with_protocol_log(self.protocol_log_start(None), actions)
    }

    /// `idle_session_timeout` passed without a command.
    pub fn idle_timeout(&mut self) -> Vec<Action> {
        let actions = vec![Action::Reply(replies::IDLE_TIMEOUT.reply()), Action::Close];
        self.with_protocol_log(self.protocol_log_start(None), actions)
    }

    /// The options this session runs with (the server's, or its user's once logged in).
    pub fn config_handle(&self) -> Arc<FtpConfig> {
        Arc::clone(match &self.phase {
            Phase::BeforeLogin(before_login) => &before_login.config,
            Phase::LoggedIn(logged_in) => &logged_in.config,
        })
    }

    /// One line from the control connection, already stripped of Telnet sequences; `now` is
    /// the wall-clock time, `fs` the session's filesystem (unused before login).
    pub fn on_line(
        &mut self,
        line: Result<Vec<u8>, LineError>,
        now: UnixTime,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                return self.with_protocol_log(self.protocol_log_start(None), say(error.reply()))
            }
        };
        let start = self.protocol_log_start(Some(&line));
        let actions = match &mut self.phase {
            Phase::BeforeLogin(before_login) => before_login.on_line(&line),
            Phase::LoggedIn(logged_in) => logged_in.on_line(&line, now, fs),
        };
        self.with_protocol_log(start, actions)
    }

    /// The shell verified the login it was asked to (`Action::Authenticate`).
    pub fn authenticated(&mut self, outcome: AuthOutcome) -> Vec<Action> {
        let start = self.protocol_log_start(None);
        let actions = match &mut self.phase {
            Phase::BeforeLogin(before_login) => before_login.authenticated(outcome),
            // Only PASS before login asks for a verification: there is no login to decide.
            Phase::LoggedIn(_) => Vec::new(),
        };
        self.with_protocol_log(start, actions)
    }

    /// The shell opened the root it was asked to (`Action::OpenRoot`), or could not (`false`);
    /// from now on `fs` is the session's filesystem.
    pub fn root_opened(&mut self, opened: bool, fs: &dyn SessionFs) -> Vec<Action> {
        let start = self.protocol_log_start(None);
        // Only a login asks for the root, once: a logged-in session has entered it already.
        let Phase::BeforeLogin(before_login) = &mut self.phase else {
            return Vec::new();
        };
        let actions = match before_login.enter_root(opened, fs) {
            Ok((logged_in, welcome)) => {
                self.phase = Phase::LoggedIn(logged_in);
                welcome
            }
            Err(refusal) => refusal,
        };
        self.with_protocol_log(start, actions)
    }

    /// The shell opened the passive listener on `port` (or could not: `None`).
    pub fn passive_listening(&mut self, port: Option<u16>) -> Vec<Action> {
        let start = self.protocol_log_start(None);
        let actions = match &mut self.phase {
            Phase::LoggedIn(logged_in) => logged_in.passive_listening(port),
            // PASV and EPSV, which ask for a listener, are refused before login: no client
            // waits for this reply.
            Phase::BeforeLogin(_) => Vec::new(),
        };
        self.with_protocol_log(start, actions)
    }

    /// The shell has locked `file` for the transfer waiting for it, or gave up after
    /// `data_connection_timeout` (`locked` false).
    pub fn file_locked(
        &mut self,
        file: FileHandle,
        locked: bool,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let start = self.protocol_log_start(None);
        let actions = match &mut self.phase {
            Phase::LoggedIn(logged_in) => logged_in.file_locked(file, locked, fs),
            // Only transfers, refused before login, ask for a lock: no transfer waits for it,
            // and the file is closed unread.
            Phase::BeforeLogin(_) => Vec::new(),
        };
        self.with_protocol_log(start, actions)
    }

    /// The shell finished (or failed) the transfer it was asked for.
    pub fn transfer_finished(
        &mut self,
        outcome: TransferOutcome,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let start = self.protocol_log_start(None);
        let actions = match &mut self.phase {
            Phase::LoggedIn(logged_in) => logged_in.transfer_finished(outcome, fs),
            // Transfers are refused before login: no client waits for this reply.
            Phase::BeforeLogin(_) => Vec::new(),
        };
        self.with_protocol_log(start, actions)
    }

    /// The session ends (closed, timed out, or ringd stops): an atomic upload still in
    /// progress is removed, never left behind half written.
    pub fn end(&mut self, fs: &dyn SessionFs) {
        // Before login nothing can have been uploaded.
        if let Phase::LoggedIn(logged_in) = &mut self.phase {
            logged_in.abandon_upload(fs);
        }
    }
}

impl BeforeLogin {
    fn on_line(&mut self, line: &[u8]) -> Vec<Action> {
        match command::parse(line) {
            // vsftpd (and ProFTPD) ignore empty lines: some NAT devices send them.
            Ok(Command::Empty) => Vec::new(),
            Ok(Command::User(name)) => self.handle_user(name),
            Ok(Command::Pass(password)) => self.handle_pass(password),
            Ok(Command::Quit) => vec![Action::Reply(replies::GOODBYE.reply()), Action::Close],
            Ok(Command::Feat) => features(&self.config, self.facts),
            Ok(Command::Opts(option, value)) => set_option(&mut self.facts, &option, &value),
            Ok(Command::Auth(mechanism)) if self.config.ssl_enable && !self.security.control => {
                self.start_tls(&mechanism)
            }
            Ok(Command::Pbsz(_)) if self.config.ssl_enable => protection_buffer(self.security),
            Ok(Command::Prot(level)) if self.config.ssl_enable => {
                protection_level(&mut self.security, &level)
            }
            _ => say(replies::PLEASE_LOGIN),
        }
    }
}

impl LoggedIn {
    fn on_line(&mut self, line: &[u8], now: UnixTime, fs: &dyn SessionFs) -> Vec<Action> {
        let verb = command::verb(line);
        if !self.permitted_by_command_lists(&verb) {
            return say(replies::NO_PERMISSION);
        }
        // vsftpd decides from the verb whether the configuration allows a command before it
        // looks at the argument.
        if !self.verb_enabled(&verb) {
            return say(replies::NO_PERMISSION);
        }
        match command::parse(line) {
            Ok(command) => self.dispatch(command, now, fs),
            Err(error @ CommandError::Syntax { .. }) => {
                if matches!(verb.as_str(), "PORT" | "EPRT") {
                    self.data = DataSetup::None;
                }
                say(error.reply())
            }
            Err(error) => say(error.reply()),
        }
    }

    fn permitted_by_command_lists(&self, verb: &str) -> bool {
        let config = &self.config;
        if !config.cmds_allowed.is_empty() && !config.cmds_allowed.iter().any(|c| c == verb) {
            return false;
        }
        !config.cmds_denied.iter().any(|c| c == verb)
    }

    /// The configuration switches that turn commands off, as vsftpd applies them.
    fn verb_enabled(&self, verb: &str) -> bool {
        let config = &self.config;
        let anonymous = self.user.anonymous;
        let upload = config.write_enable && (config.anon_upload_enable || !anonymous);
        let mkdir = config.write_enable && (config.anon_mkdir_write_enable || !anonymous);
        let other_write = config.write_enable && (config.anon_other_write_enable || !anonymous);
        match verb {
            "PASV" | "P@SW" => config.pasv_enable && !self.epsv_all,
            "EPSV" => config.pasv_enable,
            "PORT" => config.port_enable && !self.epsv_all,
            "EPRT" => config.port_enable,
            "RETR" => config.download_enable,
            "LIST" | "NLST" | "MLSD" => config.dirlist_enable,
            "STOR" | "STOU" => upload,
            "MKD" | "XMKD" => mkdir,
            "RMD" | "XRMD" | "DELE" | "RNFR" | "RNTO" | "APPE" => other_write,
            "SITE" => !anonymous,
            "PBSZ" | "PROT" => config.ssl_enable,
            _ => true,
        }
    }

    /// A path as vsftpd's logs show it: the argument, made absolute with the working directory.
    fn log_path(&self, arg: &[u8]) -> Vec<u8> {
        transfer_log::vsftpd_log_path(&self.user.cwd, arg)
    }

    fn resolve(&self, arg: &[u8]) -> Vec<u8> {
        resolve(&self.user.cwd, arg)
    }

    /// The path a command's argument names; `None` for an empty one, which names no file
    /// (vsftpd passes `""` to the system call, which finds none): `RNFR` with nothing after it
    /// must not rename the working directory.
    fn path_argument(&self, arg: &[u8]) -> Option<Vec<u8>> {
        (!arg.is_empty()).then(|| self.resolve(arg))
    }

    /// `deny_file`, tested as vsftpd tests a command's path ([`listing::caught_by_filter`]),
    /// and more: vsftpd tests the path as typed, so `{secret}` let `dir/secret` through; here
    /// every component and every tail after a `/` (for patterns such as `private/*`) is
    /// tested. Nor may a command touch one of a staged upload's hidden files.
    fn denied(&self, vpath: &[u8]) -> bool {
        let parts = vpath
            .split(|&byte| byte == b'/')
            .filter(|part| !part.is_empty());
        if parts.clone().any(is_staging_name) {
            return true;
        }
        let Some(pattern) = &self.config.deny_file else {
            return false;
        };
        let tails = (0..vpath.len())
            .filter(|&at| vpath[at] == b'/')
            .map(|at| &vpath[at + 1..]);
        parts
            .chain(tails)
            .any(|candidate| listing::caught_by_filter(pattern, candidate))
    }

    /// vsftpd's `~`: in the commands vsftpd resolves it for, a path that is `~` or starts
    /// with `~/` has the login directory put in its place, joined as vsftpd joins it (`~/x`
    /// at home `/` is `//x`). MDTM is not among them: vsftpd looks its file up before.
    fn resolve_tilde(&self, command: Command) -> Command {
        let home = |arg: Vec<u8>| match arg.as_slice() {
            [b'~'] | [b'~', b'/', ..] => {
                let mut path = self.user.home.clone();
                path.extend_from_slice(&arg[1..]);
                path
            }
            _ => arg,
        };
        // LIST, NLST and STAT: the path comes after the flags, if any.
        let listed = |args: Vec<u8>| match args.strip_prefix(b"-") {
            Some(rest) => match rest.iter().position(|&byte| byte == b' ') {
                Some(space) => {
                    let mut resolved = args[..space + 2].to_vec();
                    resolved.extend(home(rest[space + 1..].to_vec()));
                    resolved
                }
                None => args,
            },
            None => home(args),
        };
        match command {
            Command::Cwd(arg) => Command::Cwd(home(arg)),
            Command::Retr(arg) => Command::Retr(home(arg)),
            Command::Stor(arg) => Command::Stor(home(arg)),
            Command::Appe(arg) => Command::Appe(home(arg)),
            Command::Stou(arg) => Command::Stou(home(arg)),
            Command::Mkd(arg) => Command::Mkd(home(arg)),
            Command::Rmd(arg) => Command::Rmd(home(arg)),
            Command::Dele(arg) => Command::Dele(home(arg)),
            Command::Rnfr(arg) => Command::Rnfr(home(arg)),
            Command::Rnto(arg) => Command::Rnto(home(arg)),
            Command::Size(arg) => Command::Size(home(arg)),
            Command::Site(SiteCommand::Chmod(mode, arg)) => {
                Command::Site(SiteCommand::Chmod(mode, home(arg)))
            }
            Command::List(args) => Command::List(listed(args)),
            Command::Nlst(args) => Command::Nlst(listed(args)),
            Command::Stat(Some(args)) => Command::Stat(Some(listed(args))),
            other => other,
        }
    }

    fn dispatch(&mut self, command: Command, now: UnixTime, fs: &dyn SessionFs) -> Vec<Action> {
        let command = self.resolve_tilde(command);
        match command {
            Command::Empty => Vec::new(),
            Command::Quit => vec![Action::Reply(replies::GOODBYE.reply()), Action::Close],
            Command::User(name) => self.user_after_login(&name),
            Command::Pass(_) => say(replies::ALREADY_LOGGED_IN),
            Command::Http => vec![
                Action::Reply(replies::HTTP_NOT_ALLOWED.reply()),
                Action::Close,
            ],
            Command::Pwd => send(replies::current_directory(&self.user.cwd)),
            Command::Cwd(arg) => self.change_directory(&arg, fs),
            Command::Cdup => self.change_directory(b"..", fs),
            Command::Pasv => self.start_passive(false),
            Command::Epsv(arg) => self.handle_epsv(arg),
            Command::Port(addr) => self.set_active(
                SocketAddr::V4(addr),
                replies::PORT_OK,
                replies::ILLEGAL_PORT,
            ),
            Command::Eprt(addr) if addr.is_ipv6() && self.local.is_ipv4() => {
                self.data = DataSetup::None;
                say(replies::BAD_EPRT_PROTOCOL)
            }
            Command::Eprt(addr) => self.set_active(addr, replies::EPRT_OK, replies::ILLEGAL_EPRT),
            Command::Retr(arg) => self.retrieve(&arg, now, fs),
            Command::Stor(arg) => self.store(&arg, false, fs),
            Command::Appe(arg) => self.store(&arg, true, fs),
            Command::Stou(base) => self.store_unique(&base, fs),
            Command::List(args) => self.list(&args, ListFormat::Long, now, fs),
            Command::Nlst(args) => self.list(&args, ListFormat::Names, now, fs),
            Command::Mlsd(arg) => self.list(
                arg.as_deref().unwrap_or_default(),
                ListFormat::Machine,
                now,
                fs,
            ),
            Command::Mlst(arg) => self.machine_list_one(arg.as_deref().unwrap_or_default(), fs),
            Command::Type(TransferType::Ascii) => {
                self.ascii = true;
                say(replies::SWITCHING_TO_ASCII)
            }
            Command::Type(TransferType::Image) => {
                self.ascii = false;
                say(replies::SWITCHING_TO_BINARY)
            }
            Command::Stru => say(replies::STRUCTURE_F),
            Command::Mode => say(replies::MODE_S),
            Command::Allo => say(replies::ALLO_IGNORED),
            Command::Rein => say(replies::REIN_NOT_IMPLEMENTED),
            Command::Acct => say(replies::ACCT_NOT_IMPLEMENTED),
            Command::Smnt => say(replies::SMNT_NOT_IMPLEMENTED),
            Command::Noop => say(replies::NOOP_OK),
            Command::Syst => say(replies::SYSTEM_TYPE),
            Command::Help => send(replies::help()),
            Command::Feat => features(&self.config, self.facts),
            Command::Opts(option, value) => set_option(&mut self.facts, &option, &value),
            Command::Stat(None) => send(self.status()),
            Command::Stat(Some(_)) if !self.config.dirlist_enable => say(replies::NO_PERMISSION),
            Command::Stat(Some(arg)) => self.status_of(&arg, now, fs),
            Command::Abor => say(replies::NO_TRANSFER_TO_ABORT),
            Command::Rest(offset) => {
                self.restart_offset = offset;
                send(replies::restart_position(offset))
            }
            Command::Size(arg) => self.size(&arg, fs),
            Command::Mdtm { path, set } => self.modification_time(&path, set, fs),
            Command::Mkd(arg) => self.make_directory(&arg, fs),
            Command::Rmd(arg) => self.remove_directory(&arg, fs),
            Command::Dele(arg) => self.delete(&arg, fs),
            Command::Rnfr(arg) => self.rename_from(&arg, fs),
            Command::Rnto(arg) => self.rename_to(&arg, fs),
            Command::Site(site) => self.site(site, fs),
            Command::Pbsz(_) => protection_buffer(self.security),
            Command::Prot(level) => protection_level(&mut self.security, &level),
            // vsftpd has no AUTH after login: TLS starts before USER.
            Command::Auth(_) => say(replies::UNKNOWN_COMMAND),
        }
    }

    fn status(&self) -> Reply {
        let config = &self.config;
        let user = &self.user;
        replies::session_status(&SessionStatus {
            remote_ip: self.peer.ip(),
            user: user.shown_name.clone(),
            ascii: self.ascii,
            max_rate: u64::from(if user.anonymous {
                config.anon_max_rate
            } else {
                config.local_max_rate
            }),
            idle_timeout: u64::from(config.idle_session_timeout),
            clients_at_start: u64::from(self.clients_at_start),
            control_encrypted: self.security.control,
            data_encrypted: self.security.data,
        })
    }
}

mod data_channel;
mod file_ops;
mod listings;
mod login_steps;
mod protection;
mod protocol_log;
mod transfers;

#[cfg(test)]
mod byte_names;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
