//! The FTP session state machine: command lines in, replies and data-channel actions out.
//!
//! It follows vsftpd 3.0.3's pre- and post-login dispatch: which commands exist before login,
//! which configuration options gate which commands, and the reply for each outcome. File system
//! work goes through the session's [`Jail`]; sockets belong to the I/O shell, which performs the
//! [`Action`]s and reports back through `passive_listening`, `file_locked` and
//! `transfer_finished`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::action::{Action, DataChannel, DataJob, LockRequest, Transfer, TransferOutcome};
use super::command::{self, Command, CommandError, EpsvArg, SiteCommand, TransferType};
use super::context::SessionContext;
use super::jail::{Jail, WriteHow};
use super::listing::{self, EntryInfo, EntryKind, FactSet, ListKind, ListOptions};
use super::replies::{self, FixedReply, Reply, SessionStatus};
use super::telnet::LineError;
use super::transfer_log::{self, AccessMode, Direction, LogEvent, TransferRecord};
use crate::sys::fs::FileLock;

/// Deepest directory level `LIST -R` descends to.
const MAX_RECURSION: usize = 16;

struct LoggedIn {
    /// The name STAT reports: `ftp_username` for anonymous sessions, as vsftpd does.
    shown_name: Vec<u8>,
    /// Anonymous privileges: an anonymous login, or a guest without virtual_use_local_privs.
    anonymous: bool,
    access: AccessMode,
    /// The password an anonymous user gave: xferlog's user field.
    anon_password: Vec<u8>,
    jail: Arc<Jail>,
    cwd: String,
    umask: u32,
    messages_shown: HashSet<String>,
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
    Rendered(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    Long,
    Names,
    Machine,
}

pub struct Session {
    context: Arc<SessionContext>,
    peer: SocketAddr,
    local: SocketAddr,
    pending_user: Option<Vec<u8>>,
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
    /// The hidden file an atomic upload writes, renamed to `target` when complete.
    staging: Option<String>,
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

/// The hidden file beside `target` an atomic upload is written to.
fn staging_path(target: &str) -> String {
    let (dir, name) = target.rsplit_once('/').unwrap_or(("", target));
    let unique = crate::sys::clock::realtime_now();
    format!(
        "{dir}/.{name}.ringd-upload-{}-{}",
        unique.secs, unique.nanos
    )
}

fn say(reply: FixedReply) -> Vec<Action> {
    vec![Action::Reply(reply.reply())]
}

fn send(reply: Reply) -> Vec<Action> {
    vec![Action::Reply(reply)]
}

/// FTP paths as the jail takes them. Names that are not UTF-8 are read lossily: RFC 2640
/// clients send UTF-8.
fn text(path: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(path)
}

impl Session {
    pub fn new(context: Arc<SessionContext>, peer: SocketAddr, local: SocketAddr) -> Session {
        Session {
            context,
            peer,
            local,
            pending_user: None,
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

    /// One line from the control connection, already stripped of Telnet sequences.
    pub fn on_line(&mut self, line: Result<Vec<u8>, LineError>) -> Vec<Action> {
        let line = match line {
            Ok(line) => line,
            Err(error) => return say(error.reply()),
        };
        if self.user.is_none() {
            self.before_login(&line)
        } else {
            self.after_login(&line)
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
        let config = &self.context.config;
        replies::feat(config.port_enable, config.pasv_enable, self.facts)
    }

    fn is_anonymous_name(&self, name: &[u8]) -> bool {
        self.context.config.anonymous_enable
            && (name.eq_ignore_ascii_case(b"ftp") || name.eq_ignore_ascii_case(b"anonymous"))
    }

    fn handle_user(&mut self, name: Vec<u8>) -> Vec<Action> {
        let config = &self.context.config;
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
        let delay = self.context.config.delay_failed_login;
        if delay > 0 {
            actions.push(Action::Pause(Duration::from_secs(u64::from(delay))));
        }
        actions.push(Action::Reply(refusal.reply()));
        self.login_failures += 1;
        let max = self.context.config.max_login_fails;
        // vsftpd closes once `++fails >= max_login_fails`, so 0 closes on the first failure.
        if self.login_failures >= max {
            actions.push(Action::Close);
        }
        actions
    }

    fn password_refused(&mut self, name: Vec<u8>) -> Vec<Action> {
        let mut actions = vec![Action::Log(Box::new(LogEvent::Login {
            ok: false,
            remote_ip: self.peer.ip(),
            user: name,
            anon_password: None,
        }))];
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
        let password = text(&password);
        let name_text = text(&name).into_owned();
        let jail = if anonymous {
            let banned = config.deny_email_enable && context.banned_emails.contains(&password);
            let not_listed =
                config.secure_email_list_enable && !context.secure_emails.contains(&password);
            if banned || not_listed {
                return self.password_refused(name);
            }
            context
                .anonymous_root()
                .map(|root| context.login_jail(root))
        } else {
            let verified = !context.ftpusers.contains(&name_text)
                && context
                    .virtual_users
                    .as_ref()
                    .is_some_and(|users| users.verify(&name_text, &password));
            if !verified {
                return self.password_refused(name);
            }
            context
                .user_root(&name_text)
                .map(|root| context.login_jail(&root))
        };
        let Some(Ok(jail)) = jail else {
            return vec![
                Action::Reply(Reply::new(
                    500,
                    "OOPS: cannot change directory to the login root",
                )),
                Action::Close,
            ];
        };
        let access = if anonymous {
            AccessMode::Anonymous
        } else if config.guest_enable {
            AccessMode::Guest
        } else {
            AccessMode::Real
        };
        let anon_password = if anonymous {
            password.as_bytes().to_vec()
        } else {
            Vec::new()
        };
        let shown_name = if anonymous {
            config.ftp_username.clone().into_bytes()
        } else {
            name
        };
        // vsftpd's guests (every non-anonymous login with guest_enable) have anonymous
        // privileges unless virtual_use_local_privs says otherwise.
        let anonymous = anonymous || (config.guest_enable && !config.virtual_use_local_privs);
        let umask = if anonymous {
            config.anon_umask
        } else {
            config.local_umask
        };
        self.user = Some(LoggedIn {
            shown_name,
            anonymous,
            access,
            anon_password: anon_password.clone(),
            jail,
            cwd: "/".into(),
            umask,
            messages_shown: HashSet::new(),
        });
        let message = self.directory_message("/");
        let user = self.user();
        vec![
            Action::Log(Box::new(LogEvent::Login {
                ok: true,
                remote_ip: self.peer.ip(),
                user: user.shown_name.clone(),
                anon_password: user.anonymous.then_some(anon_password),
            })),
            Action::Reply(replies::with_message(&message, replies::LOGIN_SUCCESSFUL)),
        ]
    }

    /// The `message_file` of `dir`, once per directory per session, as vsftpd shows it.
    fn directory_message(&mut self, dir: &str) -> Vec<u8> {
        let config = &self.context.config;
        let Some(user) = self.user.as_mut() else {
            return Vec::new();
        };
        if !config.dirmessage_enable || !user.messages_shown.insert(dir.to_string()) {
            return Vec::new();
        }
        let path = Jail::resolve(dir, &config.message_file.to_string_lossy());
        user.jail
            .read_small(&path, replies::MESSAGE_FILE_MAX_BYTES)
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
        let config = &self.context.config;
        if !config.cmds_allowed.is_empty() && !config.cmds_allowed.iter().any(|c| c == verb) {
            return false;
        }
        !config.cmds_denied.iter().any(|c| c == verb)
    }

    fn after_login(&mut self, line: &[u8]) -> Vec<Action> {
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
            Ok(command) => self.dispatch(command),
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
        let config = &self.context.config;
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
        Jail::resolve(&self.user().cwd, &text(arg))
    }

    /// `deny_file`: no command may touch a path with a component that matches.
    fn denied(&self, vpath: &str) -> bool {
        let Some(pattern) = &self.context.config.deny_file else {
            return false;
        };
        vpath
            .split('/')
            .filter(|part| !part.is_empty())
            .any(|part| listing::matches_pattern(pattern.as_bytes(), part.as_bytes()))
    }

    /// `hide_file`: entries left out of listings (still reachable by name).
    fn hidden(&self, name: &[u8]) -> bool {
        self.context
            .config
            .hide_file
            .as_ref()
            .is_some_and(|pattern| listing::matches_pattern(pattern.as_bytes(), name))
    }

    fn dispatch(&mut self, command: Command) -> Vec<Action> {
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
            Command::Cwd(arg) => self.change_directory(&arg),
            Command::Cdup => self.change_directory(b".."),
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
            Command::Retr(arg) => self.retrieve(&arg),
            Command::Stor(arg) => self.store(&arg, false),
            Command::Appe(arg) => self.store(&arg, true),
            Command::Stou(base) => self.store_unique(&base),
            Command::List(args) => self.list(&args, ListFormat::Long),
            Command::Nlst(args) => self.list(&args, ListFormat::Names),
            Command::Mlsd(arg) => {
                self.list(arg.as_deref().unwrap_or_default(), ListFormat::Machine)
            }
            Command::Mlst(arg) => self.machine_list_one(arg.as_deref().unwrap_or_default()),
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
            Command::Stat(Some(_)) if !self.context.config.dirlist_enable => {
                say(replies::NO_PERMISSION)
            }
            Command::Stat(Some(arg)) => self.status_of(&arg),
            Command::Abor => say(replies::NO_TRANSFER_TO_ABORT),
            Command::Rest(offset) => {
                self.restart_offset = offset;
                send(replies::restart_position(offset))
            }
            Command::Size(arg) => self.size(&arg),
            Command::Mdtm { path, set } => self.modification_time(&path, set),
            Command::Mkd(arg) => self.make_directory(&arg),
            Command::Rmd(arg) => self.remove_directory(&arg),
            Command::Dele(arg) => self.delete(&arg),
            Command::Rnfr(arg) => self.rename_from(&arg),
            Command::Rnto(arg) => self.rename_to(&arg),
            Command::Site(site) => self.site(site),
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

    fn change_directory(&mut self, arg: &[u8]) -> Vec<Action> {
        let target = self.resolve(arg);
        if self.denied(&target) {
            return say(replies::NO_PERMISSION);
        }
        if !self.user().jail.is_dir(&target) {
            return say(replies::CHANGE_DIRECTORY_FAILED);
        }
        self.user_mut().cwd = target.clone();
        let message = self.directory_message(&target);
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
        if !self.context.config.port_promiscuous && (!same_host || target.port() < 1024) {
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
            start: crate::ntp::packet::UnixTime::default(),
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
                check_peer: !self.context.config.pasv_promiscuous,
            },
            DataSetup::Active(target) => DataChannel::Active(target),
            _ => return say(replies::USE_PORT_OR_PASV_FIRST),
        };
        self.data = DataSetup::None;
        self.transfer = Some(kind);
        let config = &self.context.config;
        let max_rate = if self.user().anonymous {
            config.anon_max_rate
        } else {
            config.local_max_rate
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
    pub fn transfer_finished(&mut self, outcome: TransferOutcome) -> Vec<Action> {
        let Some(kind) = self.transfer.take() else {
            return Vec::new();
        };
        let upload = kind == TransferKind::Upload;
        let outcome = match self.upload.take() {
            Some(upload) => self.settle_upload(upload, outcome),
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
            TransferOutcome::ForeignPeer => say(replies::BAD_IP_CONNECTING),
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
    /// upload is renamed over its target only when complete (a failed one never touches
    /// the old file); otherwise `delete_failed_uploads` removes what a failure left.
    fn settle_upload(
        &mut self,
        upload: PendingUpload,
        outcome: TransferOutcome,
    ) -> TransferOutcome {
        let complete = matches!(outcome, TransferOutcome::Complete { .. });
        let jail = &self.user().jail;
        match (upload.staging, complete) {
            (Some(staging), true) => match jail.rename(&staging, &upload.target) {
                Ok(()) => outcome,
                Err(_) => {
                    let _ = jail.unlink(&staging);
                    TransferOutcome::FileFailed { bytes: 0 }
                }
            },
            (Some(staging), false) => {
                let _ = jail.unlink(&staging);
                outcome
            }
            (None, false) if self.context.config.delete_failed_uploads => {
                let _ = jail.unlink(&upload.target);
                outcome
            }
            (None, _) => outcome,
        }
    }

    fn retrieve(&mut self, arg: &[u8]) -> Vec<Action> {
        let offset = std::mem::take(&mut self.restart_offset);
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        if self.ascii && offset != 0 {
            return say(replies::NO_ASCII_RESUME);
        }
        let path = self.resolve(arg);
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let user = self.user();
        // Opening first and checking what was opened is one lookup fewer, and a file opened
        // but refused is closed unread.
        let Ok((file, mode)) = user.jail.open_download(&path) else {
            return say(replies::FAILED_TO_OPEN_FILE);
        };
        let world_readable = mode & 0o004 != 0;
        if user.anonymous && self.context.config.anon_world_readable_only && !world_readable {
            return say(replies::FAILED_TO_OPEN_FILE);
        }
        let ascii = self.ascii && self.context.config.ascii_download_enable;
        let record = self.transfer_record(arg, Direction::Outgoing);
        let start = FileTransfer::Download {
            name: arg.to_vec(),
            offset,
            ascii,
        };
        let lock = self.file_lock(FileLock::Shared);
        self.start_file_transfer(file, lock, record, start)
    }

    /// The lock a transfer takes on its file: with `lock_upload_files`, a shared one for
    /// downloads and an exclusive one for uploads, as vsftpd's.
    fn file_lock(&self, kind: FileLock) -> Option<FileLock> {
        self.context.config.lock_upload_files.then_some(kind)
    }

    /// Starts a file transfer, once the shell has taken `lock` on the file if there is one:
    /// before the 150 reply, as vsftpd locks.
    fn start_file_transfer(
        &mut self,
        file: File,
        lock: Option<FileLock>,
        record: TransferRecord,
        start: FileTransfer,
    ) -> Vec<Action> {
        match lock {
            Some(kind) => {
                self.awaiting_lock = Some(Box::new(AwaitingLock { record, start }));
                vec![Action::Lock(LockRequest { file, kind })]
            }
            None => self.begin_file_transfer(file, record, start),
        }
    }

    /// The shell has locked `file` for the transfer waiting for it, or gave up after
    /// `data_connection_timeout` (`locked` false).
    pub fn file_locked(&mut self, file: File, locked: bool) -> Vec<Action> {
        let Some(awaiting) = self.awaiting_lock.take() else {
            return Vec::new();
        };
        let AwaitingLock { record, start } = *awaiting;
        if locked {
            return self.begin_file_transfer(file, record, start);
        }
        // Nothing has been written: an upload's file is left as it was.
        self.upload = None;
        match start {
            FileTransfer::Download { .. } => say(replies::FAILED_TO_OPEN_FILE),
            FileTransfer::Upload { .. } => say(replies::COULD_NOT_CREATE_FILE),
        }
    }

    fn begin_file_transfer(
        &mut self,
        file: File,
        record: TransferRecord,
        start: FileTransfer,
    ) -> Vec<Action> {
        match start {
            FileTransfer::Download {
                name,
                offset,
                ascii,
            } => {
                // The size as it is now the file is locked, as vsftpd's 150 gives it: an
                // upload that held the lock has finished.
                let Ok(metadata) = file.metadata() else {
                    return say(replies::FAILED_TO_OPEN_FILE);
                };
                let opening = replies::opening_data_connection(ascii, &name, metadata.len());
                let job = DataJob::SendFile {
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
                if truncate && file.set_len(0).is_err() {
                    self.upload = None;
                    return say(replies::COULD_NOT_CREATE_FILE);
                }
                let job = DataJob::ReceiveFile { file, ascii, sync };
                self.start_transfer(TransferKind::Upload, opening, job, Some(record))
            }
        }
    }

    fn file_mode(&self) -> u32 {
        self.context.config.file_open_mode & !self.user().umask & 0o7777
    }

    fn store(&mut self, arg: &[u8], append: bool) -> Vec<Action> {
        let offset = std::mem::take(&mut self.restart_offset);
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        let path = self.resolve(arg);
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let config = &self.context.config;
        let may_overwrite = !self.user().anonymous || config.anon_other_write_enable;
        let how = match (append, offset, may_overwrite) {
            (true, _, _) => WriteHow::Append,
            (false, _, false) => WriteHow::CreateNew,
            (false, 0, true) => WriteHow::Truncate,
            (false, offset, true) => WriteHow::Offset(offset),
        };
        // Atomic uploads go to a hidden file beside the target and replace it only when
        // complete; appends and resumed uploads continue the real file.
        let staging = (config.atomic_uploads
            && matches!(how, WriteHow::Truncate | WriteHow::CreateNew))
        .then(|| staging_path(&path));
        if how == WriteHow::CreateNew && staging.is_some() && self.user().jail.stat(&path).is_ok() {
            return say(replies::COULD_NOT_CREATE_FILE);
        }
        // An atomic upload's hidden file is opened by nobody else, and readers of the target
        // get the old file or the whole new one, never a partial one: what vsftpd's lock is
        // for already holds, so there is nothing to lock. Locking the target instead would
        // only hold its readers up, to then serve them the old file they had opened.
        let lock = if staging.is_none() {
            self.file_lock(FileLock::Exclusive)
        } else {
            None
        };
        // vsftpd empties the file only once it holds the lock, so a download that has it
        // locked never sees the file shrink under it.
        let truncate = lock.is_some() && how == WriteHow::Truncate;
        let (written, how) = match &staging {
            Some(staging) => (staging.as_str(), WriteHow::CreateNew),
            None if truncate => (path.as_str(), WriteHow::Offset(0)),
            None => (path.as_str(), how),
        };
        let Ok(file) = self.user().jail.open_write(written, how, self.file_mode()) else {
            return say(replies::COULD_NOT_CREATE_FILE);
        };
        if !self.give_upload_away(written) {
            return say(replies::COULD_NOT_CREATE_FILE);
        }
        let sync = staging.is_some();
        self.upload = Some(PendingUpload {
            staging,
            target: path.clone(),
        });
        let record = self.transfer_record(arg, Direction::Incoming);
        let start = FileTransfer::Upload {
            opening: replies::OK_TO_SEND_DATA.reply(),
            truncate,
            ascii: self.ascii && self.context.config.ascii_upload_enable,
            sync,
        };
        self.start_file_transfer(file, lock, record, start)
    }

    /// `chown_uploads`: an anonymous upload belongs to `chown_username` with
    /// `chown_upload_mode`. If that cannot be done the new file is removed, not left behind
    /// with the wrong owner.
    fn give_upload_away(&self, path: &str) -> bool {
        let user = self.user();
        let Some((uid, gid)) = self.context.chown_owner.filter(|_| user.anonymous) else {
            return true;
        };
        let mode = self.context.config.chown_upload_mode;
        let given = user
            .jail
            .chown(path, uid, gid)
            .and_then(|()| user.jail.chmod(path, mode));
        if given.is_err() {
            let _ = user.jail.unlink(path);
        }
        given.is_ok()
    }

    fn store_unique(&mut self, base: &[u8]) -> Vec<Action> {
        self.restart_offset = 0;
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        let cwd = self.user().cwd.clone();
        if !base.is_empty() && self.denied(&self.resolve(base)) {
            return say(replies::NO_PERMISSION);
        }
        let Ok((file, vpath)) = self
            .user()
            .jail
            .create_unique(&cwd, &text(base), self.file_mode())
        else {
            return say(replies::COULD_NOT_CREATE_FILE);
        };
        if !self.give_upload_away(&vpath) {
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
            ascii: self.ascii && self.context.config.ascii_upload_enable,
            sync: false,
        };
        let lock = self.file_lock(FileLock::Exclusive);
        self.start_file_transfer(file, lock, record, start)
    }

    /// The entries of `dir` a listing shows, or `None` when the directory cannot be opened
    /// (missing, unreadable, or not world-readable for an anonymous session with
    /// `anon_world_readable_only`, as vsftpd decides).
    fn visible_entries(
        &self,
        dir: &str,
        options: &ListOptions,
        pattern: Option<&[u8]>,
    ) -> Option<Vec<EntryInfo>> {
        let user = self.user();
        let this = user.jail.stat_follow(dir).ok()?;
        if user.anonymous && self.context.config.anon_world_readable_only && this.mode & 0o004 == 0
        {
            return None;
        }
        let mut entries = user.jail.list(dir).ok()?;
        if options.all {
            let parent = Jail::resolve(dir, "..");
            let parent = user
                .jail
                .stat_follow(&parent)
                .unwrap_or_else(|_| this.clone());
            entries.push(EntryInfo {
                name: b".".to_vec(),
                ..this
            });
            entries.push(EntryInfo {
                name: b"..".to_vec(),
                ..parent
            });
        }
        entries.retain(|e| options.includes(&e.name, pattern, false) && !self.hidden(&e.name));
        listing::sort_entries(&mut entries, options);
        Some(entries)
    }

    /// The listing LIST, NLST, MLSD and STAT send for `args`.
    fn render_listing(&self, args: &[u8], format: ListFormat, kind: ListKind) -> Listing {
        let mut options = listing::parse_list_args(args, kind);
        if format != ListFormat::Long {
            options.long = false;
        }
        let target = options.target.clone().unwrap_or_default();
        let resolved = self.resolve(&target);
        if self.denied(&resolved) {
            return Listing::Denied;
        }
        let now = crate::sys::clock::realtime_now().secs;
        let mut out = Vec::new();
        if self.user().jail.is_dir(&resolved) {
            let recursive = options.recursive
                && self.context.config.ls_recurse_enable
                && format == ListFormat::Long;
            let shown = if target.is_empty() {
                b".".to_vec()
            } else {
                target
            };
            if !self.render_directory(
                &resolved, &shown, &options, format, recursive, now, 0, &mut out,
            ) {
                return Listing::Unopened;
            }
        } else {
            let (dir, pattern) = listing::split_list_target(&target);
            let dir = self.resolve(&dir);
            let Some(entries) = self.visible_entries(&dir, &options, pattern.as_deref()) else {
                return Listing::Unopened;
            };
            for entry in entries {
                self.render_entry(&entry, &options, format, b".", now, &mut out);
            }
        }
        Listing::Rendered(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn render_directory(
        &self,
        dir: &str,
        shown: &[u8],
        options: &ListOptions,
        format: ListFormat,
        recursive: bool,
        now: i64,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some(entries) = self.visible_entries(dir, options, None) else {
            return false;
        };
        if recursive {
            if depth > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(shown);
            out.extend_from_slice(b":\r\n");
        }
        for entry in &entries {
            self.render_entry(entry, options, format, shown, now, out);
        }
        if recursive && depth < MAX_RECURSION {
            let children = entries
                .iter()
                .filter(|e| e.kind == EntryKind::Dir && e.name != b"." && e.name != b"..");
            for entry in children {
                let child = Jail::resolve(dir, &text(&entry.name));
                let mut child_shown = shown.to_vec();
                child_shown.push(b'/');
                child_shown.extend_from_slice(&entry.name);
                self.render_directory(
                    &child,
                    &child_shown,
                    options,
                    format,
                    recursive,
                    now,
                    depth + 1,
                    out,
                );
            }
        }
        true
    }

    fn render_entry(
        &self,
        entry: &EntryInfo,
        options: &ListOptions,
        format: ListFormat,
        listed_dir: &[u8],
        now: i64,
        out: &mut Vec<u8>,
    ) {
        match format {
            ListFormat::Machine => out.extend_from_slice(&listing::mlsx_facts(
                entry,
                &self.permission_facts(entry),
                self.facts,
            )),
            ListFormat::Long | ListFormat::Names => listing::push_list_line(
                out,
                entry,
                options,
                listed_dir,
                now,
                self.context.config.hide_ids,
            ),
        }
        out.extend_from_slice(b"\r\n");
    }

    /// RFC 3659's `perm` fact: what this session may do with the entry.
    fn permission_facts(&self, entry: &EntryInfo) -> String {
        let config = &self.context.config;
        let anonymous = self.user().anonymous;
        let write = config.write_enable;
        let other_write = write && (config.anon_other_write_enable || !anonymous);
        let mut perm = String::new();
        if entry.kind == EntryKind::Dir {
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

    fn list(&mut self, args: &[u8], format: ListFormat) -> Vec<Action> {
        if !self.has_data_setup() {
            return say(replies::USE_PORT_OR_PASV_FIRST);
        }
        let kind = if format == ListFormat::Names {
            ListKind::Nlst
        } else {
            ListKind::List
        };
        let (listing, kind) = match self.render_listing(args, format, kind) {
            Listing::Denied => return say(replies::NO_PERMISSION),
            Listing::Unopened => (Vec::new(), TransferKind::UnopenedListing),
            Listing::Rendered(listing) => (listing, TransferKind::Listing),
        };
        let opening = replies::HERE_COMES_DIRECTORY_LISTING.reply();
        self.start_transfer(kind, opening, DataJob::Send(listing), None)
    }

    fn machine_list_one(&mut self, arg: &[u8]) -> Vec<Action> {
        let path = self.resolve(arg);
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let Ok(mut entry) = self.user().jail.stat(&path) else {
            return send(Reply::new(550, "Could not list file."));
        };
        entry.name = path.clone().into_bytes();
        let facts = listing::mlsx_facts(&entry, &self.permission_facts(&entry), self.facts);
        send(replies::mlst(path.as_bytes(), &facts))
    }

    fn status(&self) -> Reply {
        let config = &self.context.config;
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

    fn status_of(&self, arg: &[u8]) -> Vec<Action> {
        let listing = match self.render_listing(arg, ListFormat::Long, ListKind::Stat) {
            Listing::Denied => return say(replies::NO_PERMISSION),
            Listing::Unopened => Vec::new(),
            Listing::Rendered(listing) => listing,
        };
        let lines = listing
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec())
            .filter(|line| !line.is_empty())
            .collect();
        send(replies::status_listing(lines))
    }

    fn regular_file(&self, arg: &[u8]) -> Option<EntryInfo> {
        let path = self.resolve(arg);
        self.user()
            .jail
            .stat_follow(&path)
            .ok()
            .filter(|info| info.kind == EntryKind::File)
    }

    fn size(&self, arg: &[u8]) -> Vec<Action> {
        if self.denied(&self.resolve(arg)) {
            return say(replies::NO_PERMISSION);
        }
        match self.regular_file(arg) {
            Some(info) => send(replies::size(info.size)),
            None => say(replies::COULD_NOT_GET_SIZE),
        }
    }

    fn modification_time(
        &mut self,
        path: &[u8],
        set: Option<command::SetModificationTime>,
    ) -> Vec<Action> {
        if self.denied(&self.resolve(path)) {
            return say(replies::NO_PERMISSION);
        }
        if let Some(info) = self.regular_file(path) {
            return send(replies::modification_time(info.mtime));
        }
        let config = &self.context.config;
        let writable = config.write_enable && config.mdtm_write && !self.user().anonymous;
        match set {
            Some(set) if writable => {
                let target = self.resolve(&set.path);
                if self.denied(&target) {
                    return say(replies::NO_PERMISSION);
                }
                match self.user().jail.set_mtime(&target, set.unix_time) {
                    Ok(()) => say(replies::MDTM_SET),
                    Err(_) => say(replies::COULD_NOT_SET_MDTM),
                }
            }
            _ => say(replies::COULD_NOT_GET_MDTM),
        }
    }

    /// A file operation vsftpd logs: the `deny_file` check, the jail call, the log event and
    /// the reply for either outcome.
    fn logged_operation(
        &self,
        arg: &[u8],
        operate: impl FnOnce(&Jail, &str) -> std::io::Result<()>,
        event: fn(bool, IpAddr, Vec<u8>, Vec<u8>) -> LogEvent,
        done: impl FnOnce(&str) -> Reply,
        failed: FixedReply,
    ) -> Vec<Action> {
        let path = self.resolve(arg);
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        let user = self.user();
        let ok = operate(&user.jail, &path).is_ok();
        let log = event(
            ok,
            self.peer.ip(),
            user.shown_name.clone(),
            self.log_path(arg),
        );
        let reply = if ok { done(&path) } else { failed.reply() };
        vec![Action::Log(Box::new(log)), Action::Reply(reply)]
    }

    fn make_directory(&mut self, arg: &[u8]) -> Vec<Action> {
        let mode = 0o777 & !self.user().umask;
        self.logged_operation(
            arg,
            |jail, path| jail.mkdir(path, mode),
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

    fn remove_directory(&mut self, arg: &[u8]) -> Vec<Action> {
        self.logged_operation(
            arg,
            |jail, path| jail.rmdir(path),
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

    fn delete(&mut self, arg: &[u8]) -> Vec<Action> {
        self.logged_operation(
            arg,
            |jail, path| jail.unlink(path),
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

    fn rename_from(&mut self, arg: &[u8]) -> Vec<Action> {
        let path = self.resolve(arg);
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        if self.user().jail.stat(&path).is_err() {
            self.rename_from = None;
            return say(replies::RNFR_FAILED);
        }
        self.rename_from = Some(path);
        say(replies::READY_FOR_RNTO)
    }

    fn rename_to(&mut self, arg: &[u8]) -> Vec<Action> {
        let Some(from) = self.rename_from.take() else {
            return say(replies::RNFR_REQUIRED_FIRST);
        };
        let to = self.resolve(arg);
        if self.denied(&to) {
            return say(replies::NO_PERMISSION);
        }
        let renamed = self.user().jail.rename(&from, &to).is_ok();
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

    fn site(&mut self, site: SiteCommand) -> Vec<Action> {
        let chmod_enable = self.context.config.chmod_enable && self.context.config.write_enable;
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
                let changed = self.user().jail.chmod(&path, mode & 0o7777).is_ok();
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
