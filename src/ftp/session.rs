//! The FTP session state machine: command lines in, replies and data-channel actions out.
//!
//! It follows vsftpd 3.0.3's pre- and post-login dispatch: which commands exist before login,
//! which configuration options gate which commands, and the reply for each outcome. It makes no
//! system call and reads no clock: the I/O shell gives it the time and, once logged in, the
//! session's filesystem ([`SessionFs`], which runs every access with the session's
//! credentials), performs the [`Action`]s and reports back through `authenticated`,
//! `root_opened`, `passive_listening`, `file_locked` and `transfer_finished`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::action::{
    Action, DataChannel, DataJob, ListingReply, LockRequest, Transfer, TransferOutcome,
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

struct LoggedIn {
    /// The name STAT reports: `ftp_username` for anonymous sessions, as vsftpd does.
    shown_name: Vec<u8>,
    /// vsftpd's `is_anonymous`: an anonymous login, or a guest without
    /// virtual_use_local_privs.
    anonymous: bool,
    access: AccessMode,
    /// The password an anonymous user gave: xferlog's user field.
    anon_password: Vec<u8>,
    cwd: String,
    umask: u32,
    messages_shown: HashSet<String>,
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
    context: Arc<SessionContext>,
    /// The options of this session: the server's, or with the user's `user_config_dir` file
    /// applied once logged in.
    config: Arc<FtpConfig>,
    peer: SocketAddr,
    local: SocketAddr,
    pending_user: Option<Vec<u8>>,
    /// Boxed: it exists only for the moment of a login.
    login: Option<Box<PendingLogin>>,
    user: Option<LoggedIn>,
    login_failures: u32,
    data: DataSetup,
    epsv_all: bool,
    restart_offset: u64,
    rename_from: Option<String>,
    ascii: bool,
    facts: FactSet,
    transfer: Option<TransferKind>,
    upload: Option<PendingUpload>,
    /// Boxed: it is there only while a lock is awaited, and every idle session would
    /// otherwise carry room for it.
    awaiting_lock: Option<Box<AwaitingLock>>,
}

/// An upload in progress: where its data goes, and where it belongs when complete.
struct PendingUpload {
    /// An atomic upload, put in place by the filesystem when complete.
    staging: Option<Staging>,
    target: String,
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

/// FTP paths as the filesystem takes them. Names that are not UTF-8 are read lossily: RFC 2640
/// clients send UTF-8.
fn text(path: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(path)
}

/// vsftpd's fatal reply (`500 OOPS: ...`), then the end of the session.
fn oops(text: &str) -> Vec<Action> {
    vec![
        Action::Reply(Reply::new(500, format!("OOPS: {text}"))),
        Action::Close,
    ]
}

impl Session {
    pub fn new(context: Arc<SessionContext>, peer: SocketAddr, local: SocketAddr) -> Session {
        Session {
            config: Arc::clone(&context.config),
            context,
            peer,
            local,
            pending_user: None,
            login: None,
            user: None,
            login_failures: 0,
            data: DataSetup::None,
            epsv_all: false,
            restart_offset: 0,
            rename_from: None,
            ascii: false,
            facts: FactSet::ALL,
            transfer: None,
            upload: None,
            awaiting_lock: None,
        }
    }

    /// The 220 greeting (or the banner file as a multi-line 220).
    pub fn greeting(&self) -> Vec<Action> {
        send(self.context.greeting.clone())
    }

    /// `idle_session_timeout` passed without a command.
    pub fn idle_timeout(&mut self) -> Vec<Action> {
        vec![Action::Reply(replies::IDLE_TIMEOUT.reply()), Action::Close]
    }

    /// The options this session runs with (the server's, or its user's once logged in).
    pub fn config_handle(&self) -> Arc<FtpConfig> {
        Arc::clone(&self.config)
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
            Err(error) => return say(error.reply()),
        };
        if self.user.is_none() {
            self.before_login(&line)
        } else {
            self.after_login(&line, now, fs)
        }
    }

    /// The session ends (closed, timed out, or ringd stops): an atomic upload still in
    /// progress is removed, never left behind half written.
    pub fn end(&mut self, fs: &dyn SessionFs) {
        if let Some(PendingUpload {
            staging: Some(staging),
            ..
        }) = self.upload.take()
        {
            fs.discard_upload(staging);
        }
    }

    fn before_login(&mut self, line: &[u8]) -> Vec<Action> {
        match command::parse(line) {
            // vsftpd (and ProFTPD) ignore empty lines: some NAT devices send them.
            Ok(Command::Empty) => Vec::new(),
            Ok(Command::User(name)) => self.handle_user(name),
            Ok(Command::Pass(password)) => self.handle_pass(password),
            Ok(Command::Quit) => vec![Action::Reply(replies::GOODBYE.reply()), Action::Close],
            Ok(Command::Feat) => send(self.feat()),
            Ok(Command::Opts(option, value)) => self.handle_opts(&option, &value),
            _ => say(replies::PLEASE_LOGIN),
        }
    }

    fn feat(&self) -> Reply {
        let config = &self.config;
        replies::feat(config.port_enable, config.pasv_enable, self.facts)
    }

    fn is_anonymous_name(&self, name: &[u8]) -> bool {
        self.config.anonymous_enable
            && (name.eq_ignore_ascii_case(b"ftp") || name.eq_ignore_ascii_case(b"anonymous"))
    }

    fn handle_user(&mut self, name: Vec<u8>) -> Vec<Action> {
        let config = &self.config;
        let anonymous = self.is_anonymous_name(&name);
        self.pending_user = None;
        if !config.local_enable && !anonymous {
            return say(replies::ANONYMOUS_ONLY);
        }
        if config.userlist_enable {
            let listed = self.context.user_list.contains(&text(&name));
            if listed == config.userlist_deny {
                return self.login_failed(replies::LOGIN_PERMISSION_DENIED);
            }
        }
        self.pending_user = Some(name);
        if anonymous && config.no_anon_password {
            return self.handle_pass(b"<no password>".to_vec());
        }
        say(replies::SPECIFY_PASSWORD)
    }

    /// A refused login: vsftpd's delay first, then the reply, and the session ends after
    /// `max_login_fails` refusals.
    fn login_failed(&mut self, refusal: FixedReply) -> Vec<Action> {
        let mut actions = Vec::new();
        let delay = self.config.delay_failed_login;
        if delay > 0 {
            actions.push(Action::Pause(Duration::from_secs(u64::from(delay))));
        }
        actions.push(Action::Reply(refusal.reply()));
        self.login_failures += 1;
        let max = self.config.max_login_fails;
        // vsftpd closes once `++fails >= max_login_fails`, so 0 closes on the first failure.
        if self.login_failures >= max {
            actions.push(Action::Close);
        }
        actions
    }

    /// A refused password: vsftpd logs `FAIL LOGIN` first, then waits (the verifier's own
    /// delay, such as PAM's, and then `delay_failed_login`) and refuses.
    fn password_refused(&mut self, name: Vec<u8>, verifier_delay: Duration) -> Vec<Action> {
        let mut actions = vec![Action::Log(Box::new(LogEvent::Login {
            ok: false,
            remote_ip: self.peer.ip(),
            user: name,
            anon_password: None,
        }))];
        if !verifier_delay.is_zero() {
            actions.push(Action::Pause(verifier_delay));
        }
        actions.extend(self.login_failed(replies::LOGIN_INCORRECT));
        actions
    }

    fn handle_pass(&mut self, password: Vec<u8>) -> Vec<Action> {
        let Some(name) = self.pending_user.take() else {
            return say(replies::LOGIN_WITH_USER_FIRST);
        };
        let context = Arc::clone(&self.context);
        let config = &context.config;
        let anonymous = self.is_anonymous_name(&name);
        if anonymous {
            let password_text = text(&password);
            let banned = config.deny_email_enable && context.banned_emails.contains(&password_text);
            let not_listed =
                config.secure_email_list_enable && !context.secure_emails.contains(&password_text);
            if banned || not_listed {
                return self.password_refused(name, Duration::ZERO);
            }
            self.login = Some(Box::new(PendingLogin {
                name: name.clone(),
                anonymous: true,
                anon_password: password,
                plan: None,
            }));
            // vsftpd reads the anonymous user's options file under ftp_username's name.
            return match &config.user_config_dir {
                Some(dir) => vec![Action::Authenticate(Box::new(AuthRequest {
                    user: config.ftp_username.clone(),
                    password: Vec::new(),
                    method: AuthMethod::Nothing,
                    remote_ip: self.peer.ip(),
                    user_config_dir: Some(dir.clone()),
                }))],
                None => self.login_verified(config.ftp_username.clone(), None, None),
            };
        }
        let name_text = text(&name).into_owned();
        if !login::plausible(&name, &password) || context.ftpusers.contains(&name_text) {
            return self.password_refused(name, Duration::ZERO);
        }
        let method = if context.virtual_users.is_some() {
            AuthMethod::VirtualUser
        } else {
            AuthMethod::SystemAccount {
                service: config.pam_service_name.clone(),
                check_shell: config.check_shell,
            }
        };
        self.login = Some(Box::new(PendingLogin {
            name,
            anonymous: false,
            anon_password: Vec::new(),
            plan: None,
        }));
        vec![Action::Authenticate(Box::new(AuthRequest {
            user: name_text,
            password,
            method,
            remote_ip: self.peer.ip(),
            user_config_dir: config.user_config_dir.clone(),
        }))]
    }

    /// The shell verified the login it was asked to (`Action::Authenticate`).
    pub fn authenticated(&mut self, outcome: AuthOutcome) -> Vec<Action> {
        let Some(pending) = self.login.as_ref() else {
            return Vec::new();
        };
        match outcome {
            AuthOutcome::Refused { delay } => {
                let name = pending.name.clone();
                self.login = None;
                self.password_refused(name, delay)
            }
            AuthOutcome::Accepted {
                user,
                account,
                user_config,
            } => self.login_verified(user, account, user_config),
        }
    }

    /// A login the shell verified (or an anonymous one): apply the user's options, decide
    /// where the session lives, and ask the shell to open it.
    fn login_verified(
        &mut self,
        user: String,
        account: Option<login::Account>,
        user_config: Option<Result<String, String>>,
    ) -> Vec<Action> {
        let Some(mut pending) = self.login.take() else {
            return Vec::new();
        };
        if let Some(per_user) = user_config {
            let applied = per_user.and_then(|text| {
                let origin = self
                    .config
                    .user_config_dir
                    .as_ref()
                    .map(|dir| dir.join(&user).display().to_string())
                    .unwrap_or_default();
                vsftpd::apply_user_options(&self.config, &text, &origin)
                    .map_err(|error| error.to_string())
            });
            match applied {
                Ok(config) => self.config = Arc::new(config),
                Err(error) => return oops(&error),
            }
        }
        let context = Arc::clone(&self.context);
        let server = PlanContext {
            anonymous_root: context.anonymous_root(),
            guest_home: context.guest_home(),
            chroot_list: &context.chroot_list,
        };
        let kind = match (&account, pending.anonymous) {
            (_, true) => LoginKind::Anonymous,
            (Some(account), false) => LoginKind::SystemAccount {
                name: &user,
                account,
            },
            (None, false) => LoginKind::VirtualUser { name: &user },
        };
        let plan = match login::plan(&self.config, kind, &server) {
            Ok(plan) => plan,
            Err(Oops(text)) => return oops(&text),
        };
        if !pending.anonymous {
            pending.name = user.into_bytes();
        }
        let open = plan.open.clone();
        pending.plan = Some(plan);
        self.login = Some(pending);
        vec![Action::OpenRoot(Box::new(open))]
    }

    /// The shell opened the root it was asked to (`Action::OpenRoot`), or could not (`false`);
    /// from now on `fs` is the session's filesystem.
    pub fn root_opened(&mut self, opened: bool, fs: &dyn SessionFs) -> Vec<Action> {
        let Some(pending) = self.login.take() else {
            return Vec::new();
        };
        let Some(plan) = pending.plan else {
            return Vec::new();
        };
        if !opened {
            return oops(&format!(
                "cannot change directory:{}",
                plan.open.root.display()
            ));
        }
        let cwd = match &plan.fallback_cwd {
            // Not jailed: local_root if it can be entered, else the home, as vsftpd does.
            Some(home) if !fs.is_dir(&plan.cwd) => {
                if !fs.is_dir(home) {
                    return oops(&format!("cannot change directory:{home}"));
                }
                home.clone()
            }
            None if plan.cwd != "/" && !fs.is_dir(&plan.cwd) => {
                return oops(&format!("cannot change directory:{}", plan.cwd));
            }
            _ => plan.cwd.clone(),
        };
        let umask = if plan.anonymous_privileges {
            self.config.anon_umask
        } else {
            self.config.local_umask
        };
        self.user = Some(LoggedIn {
            shown_name: plan.shown_name,
            anonymous: plan.anonymous_privileges,
            access: plan.access,
            anon_password: pending.anon_password.clone(),
            cwd: cwd.clone(),
            umask,
            messages_shown: HashSet::new(),
        });
        let message = self.directory_message(&cwd, fs);
        let user = self.user();
        vec![
            Action::Log(Box::new(LogEvent::Login {
                ok: true,
                remote_ip: self.peer.ip(),
                user: user.shown_name.clone(),
                anon_password: pending.anonymous.then_some(pending.anon_password),
            })),
            Action::Reply(replies::with_message(&message, replies::LOGIN_SUCCESSFUL)),
        ]
    }

    /// The `message_file` of `dir`, once per directory per session, as vsftpd shows it.
    fn directory_message(&mut self, dir: &str, fs: &dyn SessionFs) -> Vec<u8> {
        let config = Arc::clone(&self.config);
        let Some(user) = self.user.as_mut() else {
            return Vec::new();
        };
        if !config.dirmessage_enable || !user.messages_shown.insert(dir.to_string()) {
            return Vec::new();
        }
        let path = resolve(dir, &config.message_file.to_string_lossy());
        fs.read_small(&path, replies::MESSAGE_FILE_MAX_BYTES)
            .unwrap_or_default()
    }

    fn handle_opts(&mut self, option: &str, value: &str) -> Vec<Action> {
        if option == "UTF8" && (value.eq_ignore_ascii_case("ON") || value.is_empty()) {
            return say(replies::ALWAYS_UTF8);
        }
        if option == "MLST" {
            self.facts = FactSet::parse(value);
            return send(replies::mlst_options_set(self.facts));
        }
        say(replies::OPTION_NOT_UNDERSTOOD)
    }

    fn permitted_by_command_lists(&self, verb: &str) -> bool {
        let config = &self.config;
        if !config.cmds_allowed.is_empty() && !config.cmds_allowed.iter().any(|c| c == verb) {
            return false;
        }
        !config.cmds_denied.iter().any(|c| c == verb)
    }

    fn after_login(&mut self, line: &[u8], now: UnixTime, fs: &dyn SessionFs) -> Vec<Action> {
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

    /// The configuration switches that turn commands off, as vsftpd applies them.
    fn verb_enabled(&self, verb: &str) -> bool {
        let config = &self.config;
        let anonymous = self.user.as_ref().is_some_and(|u| u.anonymous);
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
            "PBSZ" | "PROT" => false,
            _ => true,
        }
    }

    fn user(&self) -> &LoggedIn {
        self.user.as_ref().expect("logged in")
    }

    fn user_mut(&mut self) -> &mut LoggedIn {
        self.user.as_mut().expect("logged in")
    }

    /// A path as vsftpd's logs show it: the argument, made absolute with the working directory.
    fn log_path(&self, arg: &[u8]) -> Vec<u8> {
        transfer_log::vsftpd_log_path(self.user().cwd.as_bytes(), arg)
    }

    fn resolve(&self, arg: &[u8]) -> String {
        resolve(&self.user().cwd, &text(arg))
    }

    /// The path a command's argument names; `None` for an empty one, which names no file
    /// (vsftpd passes `""` to the system call, which finds none): `RNFR` with nothing after it
    /// must not rename the working directory.
    fn path_argument(&self, arg: &[u8]) -> Option<String> {
        (!arg.is_empty()).then(|| self.resolve(arg))
    }

    /// `deny_file`: no command may touch a path with a component that matches; nor one of a
    /// staged upload's hidden files.
    fn denied(&self, vpath: &str) -> bool {
        let mut parts = vpath.split('/').filter(|part| !part.is_empty());
        match &self.config.deny_file {
            Some(pattern) => parts.any(|part| {
                is_staging_name(part.as_bytes())
                    || listing::matches_pattern(pattern.as_bytes(), part.as_bytes())
            }),
            None => parts.any(|part| is_staging_name(part.as_bytes())),
        }
    }

    fn dispatch(&mut self, command: Command, now: UnixTime, fs: &dyn SessionFs) -> Vec<Action> {
        match command {
            Command::Empty => Vec::new(),
            Command::Quit => vec![Action::Reply(replies::GOODBYE.reply()), Action::Close],
            Command::User(name) => self.user_after_login(&name),
            Command::Pass(_) => say(replies::ALREADY_LOGGED_IN),
            Command::Http => vec![
                Action::Reply(replies::HTTP_NOT_ALLOWED.reply()),
                Action::Close,
            ],
            Command::Pwd => send(replies::current_directory(self.user().cwd.as_bytes())),
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
            Command::Retr(arg) => self.retrieve(&arg, fs),
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
            Command::Feat => send(self.feat()),
            Command::Opts(option, value) => self.handle_opts(&option, &value),
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
            Command::Pbsz(_) | Command::Prot(_) => say(replies::NO_PERMISSION),
        }
    }

    fn user_after_login(&self, name: &[u8]) -> Vec<Action> {
        let user = self.user();
        if user.anonymous {
            say(replies::CANNOT_CHANGE_FROM_GUEST)
        } else if user.shown_name == name {
            say(replies::ANY_PASSWORD_WILL_DO)
        } else {
            say(replies::CANNOT_CHANGE_USER)
        }
    }

    fn change_directory(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let Some(target) = self.path_argument(arg) else {
            return say(replies::CHANGE_DIRECTORY_FAILED);
        };
        if self.denied(&target) {
            return say(replies::NO_PERMISSION);
        }
        if !fs.is_dir(&target) {
            return say(replies::CHANGE_DIRECTORY_FAILED);
        }
        self.user_mut().cwd = target.clone();
        let message = self.directory_message(&target, fs);
        send(replies::with_message(&message, replies::DIRECTORY_CHANGED))
    }

    fn start_passive(&mut self, extended: bool) -> Vec<Action> {
        self.data = DataSetup::Passive {
            extended,
            ready: false,
        };
        vec![Action::ListenPassive]
    }

    fn handle_epsv(&mut self, arg: EpsvArg) -> Vec<Action> {
        match arg {
            EpsvArg::All => {
                self.epsv_all = true;
                say(replies::EPSV_ALL_OK)
            }
            EpsvArg::Protocol(1) => self.start_passive(true),
            EpsvArg::Protocol(2) if self.local.is_ipv6() => self.start_passive(true),
            EpsvArg::Protocol(_) => say(replies::BAD_NETWORK_PROTOCOL),
            EpsvArg::None => self.start_passive(true),
        }
    }

    /// The shell opened the passive listener on `port` (or could not: `None`).
    pub fn passive_listening(&mut self, port: Option<u16>) -> Vec<Action> {
        let DataSetup::Passive { extended, .. } = self.data else {
            return Vec::new();
        };
        let Some(port) = port else {
            self.data = DataSetup::None;
            return send(Reply::new(
                425,
                "Could not listen for a passive data connection.",
            ));
        };
        self.data = DataSetup::Passive {
            extended,
            ready: true,
        };
        if extended {
            return send(replies::entering_extended_passive(port));
        }
        let shown = match (self.context.passive_address, self.local.ip()) {
            (Some(address), _) => address,
            (None, IpAddr::V4(v4)) => v4,
            (None, IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        };
        send(replies::entering_passive(shown, port))
    }

    fn set_active(
        &mut self,
        target: SocketAddr,
        accepted: FixedReply,
        refused: FixedReply,
    ) -> Vec<Action> {
        let same_host = target.ip().to_canonical() == self.peer.ip().to_canonical();
        if !self.config.port_promiscuous && (!same_host || target.port() < 1024) {
            // No FTP bounce: data connections go only to the client itself, never to a
            // privileged port.
            self.data = DataSetup::None;
            return say(refused);
        }
        self.data = DataSetup::Active(target);
        say(accepted)
    }

    fn has_data_setup(&self) -> bool {
        matches!(
            self.data,
            DataSetup::Passive { ready: true, .. } | DataSetup::Active(_)
        )
    }

    /// What the transfer logs say about moving `arg` in `direction`; the shell completes it.
    fn transfer_record(&self, arg: &[u8], direction: Direction) -> TransferRecord {
        let user = self.user();
        TransferRecord {
            start: UnixTime::default(),
            duration: Duration::ZERO,
            remote_ip: self.peer.ip(),
            bytes: 0,
            path: self.log_path(arg),
            direction,
            ascii: self.ascii,
            access: user.access,
            user: user.shown_name.clone(),
            anon_password: user.anon_password.clone(),
            complete: false,
        }
    }

    /// Takes the data setup for one transfer: vsftpd wants a new PASV or PORT for each.
    fn start_transfer(
        &mut self,
        kind: TransferKind,
        opening: Reply,
        job: DataJob,
        record: Option<TransferRecord>,
    ) -> Vec<Action> {
        let channel = match self.data {
            DataSetup::Passive { ready: true, .. } => DataChannel::Passive {
                check_peer: !self.config.pasv_promiscuous,
            },
            DataSetup::Active(target) => DataChannel::Active(target),
            _ => return say(replies::USE_PORT_OR_PASV_FIRST),
        };
        self.data = DataSetup::None;
        self.transfer = Some(kind);
        let max_rate = if self.user().anonymous {
            self.config.anon_max_rate
        } else {
            self.config.local_max_rate
        };
        vec![Action::Transfer(Box::new(Transfer {
            channel,
            opening,
            job,
            record,
            max_rate: u64::from(max_rate),
        }))]
    }

    /// The shell finished (or failed) the transfer it was asked for.
    pub fn transfer_finished(
        &mut self,
        outcome: TransferOutcome,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let Some(kind) = self.transfer.take() else {
            return Vec::new();
        };
        let upload = kind == TransferKind::Upload;
        let outcome = match self.upload.take() {
            Some(upload) => match self.settle_upload(upload, outcome, fs) {
                Ok(outcome) => outcome,
                Err(refusal) => return say(refusal),
            },
            None => outcome,
        };
        match outcome {
            TransferOutcome::Complete { .. } if kind == TransferKind::UnopenedListing => {
                say(replies::LISTING_FAILED_TO_OPEN_DIRECTORY)
            }
            TransferOutcome::Complete { .. } if kind == TransferKind::Listing => {
                say(replies::DIRECTORY_SEND_OK)
            }
            TransferOutcome::Complete { .. } => say(replies::TRANSFER_COMPLETE),
            TransferOutcome::NoConnection => say(replies::FAILED_TO_ESTABLISH_CONNECTION),
            TransferOutcome::NetworkFailed { .. } if upload => say(replies::READ_NETWORK_FAILED),
            TransferOutcome::NetworkFailed { .. } => say(replies::WRITE_NETWORK_FAILED),
            TransferOutcome::FileFailed { .. } if upload => say(replies::WRITE_LOCAL_FILE_FAILED),
            TransferOutcome::FileFailed { .. } => say(replies::READ_LOCAL_FILE_FAILED),
            TransferOutcome::NoSpace { .. } => say(replies::INSUFFICIENT_STORAGE),
            // RFC 959: the aborted command's 426, then the 226 that closes ABOR.
            TransferOutcome::Aborted { .. } => {
                let failure = if upload {
                    replies::READ_NETWORK_FAILED
                } else {
                    replies::WRITE_NETWORK_FAILED
                };
                vec![
                    Action::Reply(failure.reply()),
                    Action::Reply(replies::ABORT_OK.reply()),
                ]
            }
            TransferOutcome::TimedOut { .. } => {
                vec![Action::Reply(replies::DATA_TIMEOUT.reply()), Action::Close]
            }
        }
    }

    /// Puts a finished upload in its place, or cleans up after a failed one: an atomic
    /// upload is put in place only when complete (a failed one never touches the old file);
    /// otherwise `delete_failed_uploads` removes what a failure left. An atomic upload whose
    /// name someone else took meanwhile, when it may not replace, gets vsftpd's refusal of a
    /// file it could not create.
    fn settle_upload(
        &mut self,
        upload: PendingUpload,
        outcome: TransferOutcome,
        fs: &dyn SessionFs,
    ) -> Result<TransferOutcome, FixedReply> {
        let complete = matches!(outcome, TransferOutcome::Complete { .. });
        match (upload.staging, complete) {
            (Some(staging), true) => match fs.commit_upload(staging) {
                Ok(()) => Ok(outcome),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(replies::COULD_NOT_CREATE_FILE)
                }
                Err(_) => Ok(TransferOutcome::FileFailed { bytes: 0 }),
            },
            (Some(staging), false) => {
                fs.discard_upload(staging);
                Ok(outcome)
            }
            (None, false) if self.config.delete_failed_uploads => {
                let _ = fs.unlink(&upload.target);
                Ok(outcome)
            }
            (None, _) => Ok(outcome),
        }
    }

    fn retrieve(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let offset = std::mem::take(&mut self.restart_offset);
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        if self.ascii && offset != 0 {
            return say(replies::NO_ASCII_RESUME);
        }
        let Some(path) = self.path_argument(arg) else {
            return say(replies::FAILED_TO_OPEN_FILE);
        };
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        // Opening first and checking what was opened is one lookup fewer, and a file opened
        // but refused is closed unread.
        let Ok(download) = fs.open_download(&path) else {
            return say(replies::FAILED_TO_OPEN_FILE);
        };
        let world_readable = download.mode & 0o004 != 0;
        if self.user().anonymous && self.config.anon_world_readable_only && !world_readable {
            return say(replies::FAILED_TO_OPEN_FILE);
        }
        let ascii = self.ascii && self.config.ascii_download_enable;
        let record = self.transfer_record(arg, Direction::Outgoing);
        let start = FileTransfer::Download {
            name: arg.to_vec(),
            offset,
            ascii,
        };
        let lock = self.file_lock(FileLock::Shared);
        self.start_file_transfer(download.file, lock, record, start, fs)
    }

    /// The lock a transfer takes on its file: with `lock_upload_files`, a shared one for
    /// downloads and an exclusive one for uploads, as vsftpd's.
    fn file_lock(&self, kind: FileLock) -> Option<FileLock> {
        self.config.lock_upload_files.then_some(kind)
    }

    /// Starts a file transfer, once the shell has taken `lock` on the file if there is one:
    /// before the 150 reply, as vsftpd locks.
    fn start_file_transfer(
        &mut self,
        file: FileHandle,
        lock: Option<FileLock>,
        record: TransferRecord,
        start: FileTransfer,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        match lock {
            Some(kind) => {
                self.awaiting_lock = Some(Box::new(AwaitingLock { record, start }));
                vec![Action::Lock(LockRequest { file, kind })]
            }
            None => self.begin_file_transfer(file, record, start, fs),
        }
    }

    /// The shell has locked `file` for the transfer waiting for it, or gave up after
    /// `data_connection_timeout` (`locked` false).
    pub fn file_locked(
        &mut self,
        file: FileHandle,
        locked: bool,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let Some(awaiting) = self.awaiting_lock.take() else {
            return Vec::new();
        };
        let AwaitingLock { record, start } = *awaiting;
        if locked {
            return self.begin_file_transfer(file, record, start, fs);
        }
        // Nothing has been written: an upload's file is left as it was.
        if let Some(PendingUpload {
            staging: Some(staging),
            ..
        }) = self.upload.take()
        {
            fs.discard_upload(staging);
        }
        match start {
            FileTransfer::Download { .. } => say(replies::FAILED_TO_OPEN_FILE),
            FileTransfer::Upload { .. } => say(replies::COULD_NOT_CREATE_FILE),
        }
    }

    fn begin_file_transfer(
        &mut self,
        file: FileHandle,
        record: TransferRecord,
        start: FileTransfer,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        match start {
            FileTransfer::Download {
                name,
                offset,
                ascii,
            } => {
                // The size as it is now the file is locked, as vsftpd's 150 gives it: an
                // upload that held the lock has finished.
                let Ok(size) = fs.size_of(&file) else {
                    return say(replies::FAILED_TO_OPEN_FILE);
                };
                let opening = replies::opening_data_connection(ascii, &name, size);
                let job = DataJob::Download {
                    file,
                    offset,
                    ascii,
                };
                self.start_transfer(TransferKind::Download, opening, job, Some(record))
            }
            FileTransfer::Upload {
                opening,
                truncate,
                ascii,
                sync,
            } => {
                if truncate && fs.truncate(&file).is_err() {
                    self.upload = None;
                    return say(replies::COULD_NOT_CREATE_FILE);
                }
                let job = DataJob::Upload { file, ascii, sync };
                self.start_transfer(TransferKind::Upload, opening, job, Some(record))
            }
        }
    }

    fn file_mode(&self) -> u32 {
        self.config.file_open_mode & !self.user().umask & 0o7777
    }

    fn store(&mut self, arg: &[u8], append: bool, fs: &dyn SessionFs) -> Vec<Action> {
        let offset = std::mem::take(&mut self.restart_offset);
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        let Some(path) = self.path_argument(arg) else {
            return say(replies::COULD_NOT_CREATE_FILE);
        };
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let may_overwrite = !self.user().anonymous || self.config.anon_other_write_enable;
        let how = match (append, offset, may_overwrite) {
            (true, _, _) => WriteHow::Append,
            (false, _, false) => WriteHow::CreateNew,
            (false, 0, true) => WriteHow::Truncate,
            (false, offset, true) => WriteHow::Offset(offset),
        };
        // Atomic uploads are written aside and replace the target only when complete;
        // appends and resumed uploads continue the real file.
        let atomic =
            self.config.atomic_uploads && matches!(how, WriteHow::Truncate | WriteHow::CreateNew);
        let (file, staging, lock, truncate) = if atomic {
            let Ok(StagedUpload { file, staging }) =
                fs.stage_upload(&path, self.file_mode(), how == WriteHow::Truncate)
            else {
                return say(replies::COULD_NOT_CREATE_FILE);
            };
            // The staged file is opened by nobody else, and readers of the target get the
            // old file or the whole new one, never a partial one: what vsftpd's lock is for
            // already holds, so there is nothing to lock. Locking the target instead would
            // only hold its readers up, to then serve them the old file they had opened.
            (file, Some(staging), None, false)
        } else {
            let lock = self.file_lock(FileLock::Exclusive);
            // vsftpd empties the file only once it holds the lock, so a download that has it
            // locked never sees the file shrink under it.
            let truncate = lock.is_some() && how == WriteHow::Truncate;
            let how = if truncate { WriteHow::Offset(0) } else { how };
            let Ok(file) = fs.open_upload(&path, how, self.file_mode()) else {
                return say(replies::COULD_NOT_CREATE_FILE);
            };
            (file, None, lock, truncate)
        };
        if !self.give_upload_away(&file, fs) {
            if let Some(staging) = staging {
                fs.discard_upload(staging);
            } else if how == WriteHow::CreateNew {
                let _ = fs.unlink(&path);
            }
            return say(replies::COULD_NOT_CREATE_FILE);
        }
        let sync = staging.is_some();
        self.upload = Some(PendingUpload {
            staging,
            target: path,
        });
        let record = self.transfer_record(arg, Direction::Incoming);
        let start = FileTransfer::Upload {
            opening: replies::OK_TO_SEND_DATA.reply(),
            truncate,
            ascii: self.ascii && self.config.ascii_upload_enable,
            sync,
        };
        self.start_file_transfer(file, lock, record, start, fs)
    }

    /// `chown_uploads`: an anonymous upload belongs to `chown_username` with
    /// `chown_upload_mode`, given away as vsftpd's privileged process does.
    fn give_upload_away(&self, file: &FileHandle, fs: &dyn SessionFs) -> bool {
        let Some(uid) = self.context.chown_uid.filter(|_| self.user().anonymous) else {
            return true;
        };
        fs.give_away(file, uid, self.config.chown_upload_mode)
            .is_ok()
    }

    fn store_unique(&mut self, base: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.restart_offset = 0;
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        let cwd = self.user().cwd.clone();
        if !base.is_empty() && self.denied(&self.resolve(base)) {
            return say(replies::NO_PERMISSION);
        }
        let Ok((file, vpath)) = fs.create_unique(&cwd, &text(base), self.file_mode()) else {
            return say(replies::COULD_NOT_CREATE_FILE);
        };
        if !self.give_upload_away(&file, fs) {
            let _ = fs.unlink(&vpath);
            return say(replies::COULD_NOT_CREATE_FILE);
        }
        let name = vpath.rsplit('/').next().unwrap_or(&vpath).to_string();
        self.upload = Some(PendingUpload {
            staging: None,
            target: vpath.clone(),
        });
        let record = self.transfer_record(name.as_bytes(), Direction::Incoming);
        let start = FileTransfer::Upload {
            opening: replies::unique_file(name.as_bytes()),
            truncate: false,
            ascii: self.ascii && self.config.ascii_upload_enable,
            sync: false,
        };
        let lock = self.file_lock(FileLock::Exclusive);
        self.start_file_transfer(file, lock, record, start, fs)
    }

    /// How this session's listings are made.
    fn listing_settings(
        &self,
        args: &[u8],
        format: ListFormat,
        kind: ListKind,
        now: UnixTime,
    ) -> ListingSettings {
        let config = &self.config;
        let mut options = listing::parse_list_args(args, kind);
        if format != ListFormat::Long {
            options.long = false;
        }
        let recursive = options.recursive && config.ls_recurse_enable && format == ListFormat::Long;
        ListingSettings {
            options,
            format,
            framing: if kind == ListKind::Stat {
                Framing::Reply(213)
            } else {
                Framing::Data
            },
            recursive,
            now: now.secs,
            hide_ids: config.hide_ids,
            hide_file: config.hide_file.clone(),
            facts: self.facts,
            directory_perm: self.permission_facts(EntryKind::Dir),
            file_perm: self.permission_facts(EntryKind::File),
            world_readable_only: self.user().anonymous && config.anon_world_readable_only,
        }
    }

    /// The listing LIST, NLST, MLSD and STAT send for `args`.
    fn start_listing(
        &self,
        args: &[u8],
        format: ListFormat,
        kind: ListKind,
        now: UnixTime,
        fs: &dyn SessionFs,
    ) -> Listing {
        let settings = self.listing_settings(args, format, kind, now);
        let target = settings.options.target.clone().unwrap_or_default();
        let resolved = self.resolve(&target);
        if self.denied(&resolved) {
            return Listing::Denied;
        }
        let job = if fs.is_dir(&resolved) {
            let shown = if target.is_empty() {
                b".".to_vec()
            } else {
                target
            };
            ListingJob::directory(fs, settings, &resolved, shown)
        } else {
            let (dir, pattern) = listing::split_list_target(&target);
            ListingJob::matching(fs, settings, &self.resolve(&dir), pattern)
        };
        match job {
            Some(job) => Listing::Started(Box::new(job)),
            None => Listing::Unopened,
        }
    }

    /// RFC 3659's `perm` fact: what this session may do with an entry of `kind`.
    fn permission_facts(&self, kind: EntryKind) -> String {
        let config = &self.config;
        let anonymous = self.user().anonymous;
        let write = config.write_enable;
        let other_write = write && (config.anon_other_write_enable || !anonymous);
        let mut perm = String::new();
        if kind == EntryKind::Dir {
            perm.push('e');
            if config.dirlist_enable {
                perm.push('l');
            }
            if write && (config.anon_upload_enable || !anonymous) {
                perm.push('c');
            }
            if write && (config.anon_mkdir_write_enable || !anonymous) {
                perm.push('m');
            }
            if other_write {
                perm.push_str("fdp");
            }
        } else {
            if config.download_enable {
                perm.push('r');
            }
            if other_write {
                perm.push_str("adfw");
            }
        }
        perm
    }

    fn list(
        &mut self,
        args: &[u8],
        format: ListFormat,
        now: UnixTime,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        let kind = if format == ListFormat::Names {
            ListKind::Nlst
        } else {
            ListKind::List
        };
        let (job, kind) = match self.start_listing(args, format, kind, now, fs) {
            Listing::Denied => return say(replies::NO_PERMISSION),
            Listing::Unopened => (None, TransferKind::UnopenedListing),
            Listing::Started(job) => (Some(job), TransferKind::Listing),
        };
        let opening = replies::HERE_COMES_DIRECTORY_LISTING.reply();
        self.start_transfer(kind, opening, DataJob::Listing(job), None)
    }

    fn machine_list_one(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let path = self.resolve(arg);
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let Ok(mut entry) = fs.stat(&path) else {
            return send(Reply::new(550, "Could not list file."));
        };
        entry.name = path.clone().into_bytes();
        let facts = listing::mlsx_facts(
            &entry,
            &self.permission_facts(entry.kind.clone()),
            self.facts,
        );
        send(replies::mlst(path.as_bytes(), &facts))
    }

    fn status(&self) -> Reply {
        let config = &self.config;
        let user = self.user();
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
            clients_at_start: 0,
        })
    }

    /// `STAT path`: the listing on the control connection, streamed like LIST's.
    fn status_of(&self, arg: &[u8], now: UnixTime, fs: &dyn SessionFs) -> Vec<Action> {
        let listing = match self.start_listing(arg, ListFormat::Long, ListKind::Stat, now, fs) {
            Listing::Denied => return say(replies::NO_PERMISSION),
            Listing::Unopened => None,
            Listing::Started(job) => Some(*job),
        };
        vec![Action::ListingReply(Box::new(ListingReply {
            code: 213,
            first: "Status follows:",
            listing,
            last: "End of status",
        }))]
    }

    fn regular_file(&self, path: &str, fs: &dyn SessionFs) -> Option<listing::EntryInfo> {
        fs.stat_follow(path)
            .ok()
            .filter(|info| info.kind == EntryKind::File)
    }

    fn size(&self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let Some(path) = self.path_argument(arg) else {
            return say(replies::COULD_NOT_GET_SIZE);
        };
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        match self.regular_file(&path, fs) {
            Some(info) => send(replies::size(info.size)),
            None => say(replies::COULD_NOT_GET_SIZE),
        }
    }

    fn modification_time(
        &mut self,
        path: &[u8],
        set: Option<command::SetModificationTime>,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let Some(resolved) = self.path_argument(path) else {
            return say(replies::COULD_NOT_GET_MDTM);
        };
        if self.denied(&resolved) {
            return say(replies::NO_PERMISSION);
        }
        if let Some(info) = self.regular_file(&resolved, fs) {
            return send(replies::modification_time(info.mtime));
        }
        let config = &self.config;
        let writable = config.write_enable && config.mdtm_write && !self.user().anonymous;
        match set {
            Some(set) if writable => {
                let Some(target) = self.path_argument(&set.path) else {
                    return say(replies::COULD_NOT_SET_MDTM);
                };
                if self.denied(&target) {
                    return say(replies::NO_PERMISSION);
                }
                match fs.set_mtime(&target, set.unix_time) {
                    Ok(()) => say(replies::MDTM_SET),
                    Err(_) => say(replies::COULD_NOT_SET_MDTM),
                }
            }
            _ => say(replies::COULD_NOT_GET_MDTM),
        }
    }

    /// A file operation vsftpd logs: the `deny_file` check, the filesystem call, the log event
    /// and the reply for either outcome. An empty argument names no file, as vsftpd's system
    /// call on `""` finds none.
    fn logged_operation(
        &self,
        arg: &[u8],
        operate: impl FnOnce(&str) -> std::io::Result<()>,
        event: fn(bool, IpAddr, Vec<u8>, Vec<u8>) -> LogEvent,
        done: impl FnOnce(&str) -> Reply,
        failed: FixedReply,
    ) -> Vec<Action> {
        let path = self.path_argument(arg);
        if path.as_deref().is_some_and(|path| self.denied(path)) {
            return say(replies::NO_PERMISSION);
        }
        let ok = path.as_deref().is_some_and(|path| operate(path).is_ok());
        let user = self.user();
        let log = event(
            ok,
            self.peer.ip(),
            user.shown_name.clone(),
            self.log_path(arg),
        );
        let reply = match (&path, ok) {
            (Some(path), true) => done(path),
            _ => failed.reply(),
        };
        vec![Action::Log(Box::new(log)), Action::Reply(reply)]
    }

    fn make_directory(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let mode = 0o777 & !self.user().umask;
        self.logged_operation(
            arg,
            |path| fs.mkdir(path, mode),
            |ok, remote_ip, user, path| LogEvent::Mkdir {
                ok,
                remote_ip,
                user,
                path,
            },
            |path| replies::directory_created(path.as_bytes()),
            replies::MKDIR_FAILED,
        )
    }

    fn remove_directory(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.logged_operation(
            arg,
            |path| fs.rmdir(path),
            |ok, remote_ip, user, path| LogEvent::Rmdir {
                ok,
                remote_ip,
                user,
                path,
            },
            |_| replies::RMDIR_OK.reply(),
            replies::RMDIR_FAILED,
        )
    }

    fn delete(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.logged_operation(
            arg,
            |path| fs.unlink(path),
            |ok, remote_ip, user, path| LogEvent::Delete {
                ok,
                remote_ip,
                user,
                path,
            },
            |_| replies::DELETE_OK.reply(),
            replies::DELETE_FAILED,
        )
    }

    fn rename_from(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.rename_from = None;
        let Some(path) = self.path_argument(arg) else {
            return say(replies::RNFR_FAILED);
        };
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        if fs.stat(&path).is_err() {
            return say(replies::RNFR_FAILED);
        }
        self.rename_from = Some(path);
        say(replies::READY_FOR_RNTO)
    }

    fn rename_to(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let Some(from) = self.rename_from.take() else {
            return say(replies::RNFR_REQUIRED_FIRST);
        };
        let to = self.path_argument(arg);
        if to.as_deref().is_some_and(|to| self.denied(to)) {
            return say(replies::NO_PERMISSION);
        }
        let renamed = to.as_deref().is_some_and(|to| fs.rename(&from, to).is_ok());
        let log = Action::Log(Box::new(LogEvent::Rename {
            ok: renamed,
            remote_ip: self.peer.ip(),
            user: self.user().shown_name.clone(),
            from: from.into_bytes(),
            to: Some(self.log_path(arg)),
        }));
        let reply = if renamed {
            replies::RENAME_OK
        } else {
            replies::RENAME_FAILED
        };
        vec![log, Action::Reply(reply.reply())]
    }

    fn site(&mut self, site: SiteCommand, fs: &dyn SessionFs) -> Vec<Action> {
        let chmod_enable = self.config.chmod_enable && self.config.write_enable;
        match site {
            SiteCommand::Help => send(replies::site_help(chmod_enable)),
            SiteCommand::Chmod(_, path) if chmod_enable && path.is_empty() => {
                say(replies::SITE_CHMOD_NEEDS_ARGUMENTS)
            }
            SiteCommand::Chmod(mode, arg) if chmod_enable => {
                let path = self.resolve(&arg);
                if self.denied(&path) {
                    return say(replies::NO_PERMISSION);
                }
                // vsftpd masks the mode with 0777: no set-id or sticky bits through FTP.
                let changed = fs.chmod(&path, mode & 0o777).is_ok();
                let log = Action::Log(Box::new(LogEvent::Chmod {
                    ok: changed,
                    remote_ip: self.peer.ip(),
                    user: self.user().shown_name.clone(),
                    path: self.log_path(&arg),
                    mode: format!("{mode:o}").into_bytes(),
                }));
                let reply = if changed {
                    replies::SITE_CHMOD_OK
                } else {
                    replies::SITE_CHMOD_FAILED
                };
                vec![log, Action::Reply(reply.reply())]
            }
            SiteCommand::Umask(Some(mask)) => {
                self.user_mut().umask = mask & 0o777;
                send(replies::umask_set(mask & 0o777))
            }
            SiteCommand::Umask(None) => send(replies::current_umask(self.user().umask)),
            SiteCommand::Chmod(..) | SiteCommand::Other(_) => say(replies::UNKNOWN_SITE_COMMAND),
        }
    }
}

#[cfg(test)]
mod tests;
