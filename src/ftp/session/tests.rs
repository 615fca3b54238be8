//! Unit tests of the FTP session state machine, without sockets: lines in, replies and actions out.

use crate::test_dirs::TempDir;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Session;
use crate::config::vsftpd;
use crate::ftp::action::{Action, DataChannel, DataJob, LockRequest, Transfer, TransferOutcome};
use crate::ftp::context::SessionContext;
use crate::ftp::filesystem::SessionFs;
use crate::ftp::replies::Reply;
use crate::ftp::telnet::LineError;
use crate::ftp::users::VirtualUsers;
use crate::ntp::packet::UnixTime;
use crate::shard::ftp::auth;
use crate::shard::ftp::id_names::IdNames;
use crate::shard::ftp::jail::Jail;
use crate::shard::ftp::session_fs::{Credentials, NoFilesystem, SessionFilesystem};
use crate::sys::file_lock::FileLock;

const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The port the pretend shell opens for PASV/EPSV: 195 * 256 + 80.
const PASV_PORT: u16 = 50000;
/// 2020-07-14 12:38:00 UTC: old enough for the `Mon DD  YYYY` form of `ls -l` dates.
const OLD_MTIME: u64 = 1_594_730_280;
const ALICE_PASSWORD: &str = "wonderland";
const BOB_PASSWORD: &str = "builder";

const PLEASE_LOGIN: &str = "530 Please login with USER and PASS.\r\n";
const SPECIFY_PASSWORD: &str = "331 Please specify the password.\r\n";
const LOGIN_SUCCESSFUL: &str = "230 Login successful.\r\n";
const LOGIN_INCORRECT: &str = "530 Login incorrect.\r\n";
const NO_PERMISSION: &str = "550 Permission denied.\r\n";
const USE_PORT_OR_PASV: &str = "425 Use PORT or PASV first.\r\n";
const FAILED_TO_OPEN: &str = "550 Failed to open file.\r\n";
const DIRECTORY_CHANGED: &str = "250 Directory successfully changed.\r\n";
const CHANGE_DIRECTORY_FAILED: &str = "550 Failed to change directory.\r\n";
const LISTING_OPENING: &str = "150 Here comes the directory listing.\r\n";
const DIRECTORY_SEND_OK: &str = "226 Directory send OK.\r\n";
const OK_TO_SEND: &str = "150 Ok to send data.\r\n";
const TRANSFER_COMPLETE: &str = "226 Transfer complete.\r\n";
const FEATURES: &str = "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n \
                        MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\r\n PASV\r\n \
                        REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n";

fn client_address() -> SocketAddr {
    SocketAddr::from((CLIENT_IP, 40000))
}

fn server_address() -> SocketAddr {
    SocketAddr::from((SERVER_IP, 21))
}

/// A reply as the control connection carries it.
fn wire(reply: &Reply) -> String {
    let mut out = Vec::new();
    reply.encode(&mut out);
    String::from_utf8(out).expect("replies in these tests are ASCII")
}

/// Each action as one string: replies as sent, the others named. Log records are left out:
/// they are the transfer log's business, not the protocol's.
fn describe(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Reply(reply) => Some(wire(reply)),
            Action::Pause(delay) => Some(format!("pause {}s", delay.as_secs())),
            Action::Close => Some("close".to_owned()),
            Action::ListenPassive => Some("listen passive".to_owned()),
            Action::Lock(request) => Some(format!("lock {:?}", request.kind)),
            Action::Transfer(transfer) => Some(format!(
                "transfer {:?} {}",
                transfer.channel,
                wire(&transfer.opening)
            )),
            Action::Log(_) => None,
            Action::Authenticate(_) => Some("authenticate".to_owned()),
            Action::OpenRoot(open) => Some(format!("open root {}", open.root.display())),
            Action::ListingReply(reply) => Some(format!("listing reply {}", reply.code)),
        })
        .collect()
}

/// The replies among `actions`, concatenated as sent; other actions are left out.
fn reply_text(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Reply(reply) => Some(wire(reply)),
            _ => None,
        })
        .collect()
}

/// The wall-clock time the pretend shell gives the session.
fn now() -> UnixTime {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    UnixTime {
        secs: since.as_secs() as i64,
        nanos: since.subsec_nanos(),
    }
}

/// An open file handed over by the session, as a `File` the test can use.
fn file_of(handle: crate::ftp::filesystem::FileHandle) -> fs::File {
    fs::File::from(handle)
}

/// The lines of a listing, without their CRLFs.
fn lines(listing: &str) -> Vec<&str> {
    listing
        .strip_suffix("\r\n")
        .unwrap_or(listing)
        .split("\r\n")
        .collect()
}

/// The last field of each `ls -l` line: the names listed.
fn listed_names(listing: &str) -> Vec<&str> {
    lines(listing)
        .into_iter()
        .filter_map(|line| line.rsplit(' ').next())
        .collect()
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A temporary directory, removed on drop: `root/` is the anonymous root, `home/<user>/` the
/// virtual users' roots, `outside/` is in no root.
struct Tree {
    base: TempDir,
}

impl Tree {
    fn new() -> Tree {
        let base = TempDir::new("session-tests");
        for dir in ["root", "home/alice", "home/bob"] {
            fs::create_dir_all(base.join(dir)).unwrap();
        }
        base.write("outside/secret.txt", "outside the jail\n");
        base.write("ftpusers", "root\n");
        Tree { base }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.base.join(relative)
    }

    /// A list file (user_list, ftpusers, banned e-mails...) with one name per line.
    fn name_list(&self, relative: &str, names: &[&str]) -> PathBuf {
        let path = self.path(relative);
        fs::write(
            &path,
            names
                .iter()
                .map(|name| format!("{name}\n"))
                .collect::<String>(),
        )
        .unwrap();
        path
    }

    /// The options every test server has: the anonymous root, and an ftpusers file in the tree
    /// instead of the system's.
    fn base_config(&self) -> String {
        format!(
            "anon_root={}\nftpusers_file={}\n",
            self.path("root").display(),
            self.path("ftpusers").display()
        )
    }

    /// Virtual users alice and bob, each in `home/<name>`.
    fn virtual_users_config(&self) -> String {
        let file = self.path("users");
        let mut users = VirtualUsers::empty();
        users.set("alice", ALICE_PASSWORD).unwrap();
        users.set("bob", BOB_PASSWORD).unwrap();
        users.save(&file).unwrap();
        format!(
            "local_enable=YES\nvirtual_users_file={}\nlocal_root={}/$USER\nuser_sub_token=$USER\n",
            file.display(),
            self.path("home").display()
        )
    }

    /// Whether this process can chown: the tree is owned by whoever runs the tests.
    fn owned_by_root(&self) -> bool {
        fs::metadata(self.base.path()).unwrap().uid() == 0
    }
}

/// One control connection: a session, the filesystem the pretend shell gives it once logged
/// in, and the directory tree it serves.
struct Client {
    session: Session,
    context: Arc<SessionContext>,
    fs: Box<dyn SessionFs>,
    /// The root of the user this client logs in as; files are put there.
    root: PathBuf,
    tree: Tree,
}

impl Client {
    fn connect(
        tree: Tree,
        config_text: &str,
        root: &str,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Client {
        let config = vsftpd::parse_str(config_text, "test")
            .unwrap_or_else(|error| panic!("{config_text}\n{error}"));
        let context = Arc::new(
            SessionContext::load(config).unwrap_or_else(|error| panic!("{config_text}\n{error}")),
        );
        Client {
            session: Session::new(Arc::clone(&context), peer, local),
            context,
            fs: Box::new(NoFilesystem),
            root: tree.path(root),
            tree,
        }
    }

    /// The session's actions for `line`, with the login steps a shell performs (verifying,
    /// opening the root with the process's credentials) carried out and their results
    /// appended.
    fn actions(&mut self, line: &str) -> Vec<Action> {
        let actions = self
            .session
            .on_line(Ok(line.as_bytes().to_vec()), now(), &*self.fs);
        self.perform_shell_steps(actions)
    }

    fn perform_shell_steps(&mut self, actions: Vec<Action>) -> Vec<Action> {
        let mut out = Vec::new();
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Authenticate(request) => {
                    let outcome = auth::verify(&self.context, *request);
                    queue.extend(self.session.authenticated(outcome));
                }
                Action::OpenRoot(open) => {
                    let opened = Jail::open(&open.root)
                        .map(|jail| SessionFilesystem::new(Arc::new(jail), Credentials::Process));
                    let ok = opened.is_ok();
                    if let Ok(fs) = opened {
                        self.fs = Box::new(fs);
                    }
                    queue.extend(self.session.root_opened(ok, &*self.fs));
                }
                // What the shell streams, gathered into one reply.
                Action::ListingReply(reply) => {
                    let mut middle = Vec::new();
                    if let Some(mut listing) = reply.listing {
                        while listing.next_chunk(&*self.fs, &mut middle) {}
                    }
                    let mut lines = vec![reply.first.as_bytes().to_vec()];
                    lines.extend(
                        String::from_utf8(middle)
                            .unwrap()
                            .split_terminator("\r\n")
                            .map(|line| line.as_bytes().to_vec()),
                    );
                    lines.push(reply.last.as_bytes().to_vec());
                    out.push(Action::Reply(Reply::multi(reply.code, lines)));
                }
                other => out.push(other),
            }
        }
        out
    }

    /// Everything a download or listing job sends; panics for an upload.
    fn sent_bytes(&self, job: DataJob) -> Vec<u8> {
        match job {
            DataJob::Listing(None) => Vec::new(),
            DataJob::Listing(Some(mut listing)) => {
                let mut bytes = Vec::new();
                while listing.next_chunk(&*self.fs, &mut bytes) {}
                bytes
            }
            DataJob::Download { file, .. } => {
                let mut file = file_of(file);
                let mut bytes = Vec::new();
                file.seek(SeekFrom::Start(0)).unwrap();
                file.read_to_end(&mut bytes).unwrap();
                bytes
            }
            DataJob::Upload { .. } => panic!("expected a download, got an upload"),
        }
    }

    fn file_locked(&mut self, request: LockRequest, locked: bool) -> Vec<Action> {
        self.session.file_locked(request.file, locked, &*self.fs)
    }

    fn steps(&mut self, line: &str) -> Vec<String> {
        describe(&self.actions(line))
    }

    /// The replies to `line`, as sent.
    fn send(&mut self, line: &str) -> String {
        reply_text(&self.actions(line))
    }

    /// USER and PASS; the reply to PASS.
    fn login(&mut self, user: &str, password: &str) -> String {
        assert_eq!(
            self.send(&format!("USER {user}")),
            SPECIFY_PASSWORD,
            "USER {user}"
        );
        self.send(&format!("PASS {password}"))
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// A file in this client's root, mode 0644, modified at [`OLD_MTIME`].
    fn file(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path(relative);
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(OLD_MTIME))
            .unwrap();
        path
    }

    fn dir(&self, relative: &str) -> PathBuf {
        let path = self.path(relative);
        fs::create_dir_all(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// PASV, and the shell's report that it listens on [`PASV_PORT`].
    fn passive(&mut self) -> String {
        assert_eq!(self.steps("PASV"), ["listen passive"]);
        reply_text(&self.session.passive_listening(Some(PASV_PORT)))
    }

    /// The one Transfer action `line` must produce, once the shell has locked its file if
    /// it asks for that.
    fn transfer(&mut self, line: &str) -> Transfer {
        let mut actions = match <[Action; 1]>::try_from(self.actions(line)) {
            Ok([Action::Lock(request)]) => self.file_locked(request, true),
            Ok(action) => action.into(),
            Err(actions) => actions,
        };
        match (actions.pop(), actions.is_empty()) {
            (Some(Action::Transfer(transfer)), true) => *transfer,
            (last, _) => panic!("{line}: expected one transfer, got {actions:?} then {last:?}"),
        }
    }

    /// The lock `line` asks the shell for, on the file it opened.
    fn lock(&mut self, line: &str) -> LockRequest {
        let mut actions = self.actions(line);
        match (actions.pop(), actions.is_empty()) {
            (Some(Action::Lock(request)), true) => request,
            (last, _) => panic!("{line}: expected one lock, got {actions:?} then {last:?}"),
        }
    }

    fn finish(&mut self, outcome: TransferOutcome) -> Vec<String> {
        describe(&self.session.transfer_finished(outcome, &*self.fs))
    }

    /// PASV, `line` (LIST, NLST...), a complete transfer: the listing sent.
    fn listing(&mut self, line: &str) -> String {
        self.passive();
        let transfer = self.transfer(line);
        assert_eq!(wire(&transfer.opening), LISTING_OPENING, "{line}");
        let listing = String::from_utf8(self.sent_bytes(transfer.job)).unwrap();
        let bytes = listing.len() as u64;
        assert_eq!(
            self.finish(TransferOutcome::Complete { bytes }),
            [DIRECTORY_SEND_OK]
        );
        listing
    }

    /// PASV, `line` (RETR), a complete transfer: the opening reply and the file sent.
    fn download(&mut self, line: &str) -> (String, String) {
        self.passive();
        let transfer = self.transfer(line);
        let contents = String::from_utf8(self.sent_bytes(transfer.job)).unwrap();
        let bytes = contents.len() as u64;
        assert_eq!(
            self.finish(TransferOutcome::Complete { bytes }),
            [TRANSFER_COMPLETE]
        );
        (wire(&transfer.opening), contents)
    }

    /// PASV, `line` (STOR, APPE), `data` written to the file the session opened, complete.
    fn upload(&mut self, line: &str, data: &str) {
        self.passive();
        let transfer = self.transfer(line);
        assert_eq!(wire(&transfer.opening), OK_TO_SEND, "{line}");
        let DataJob::Upload { file, .. } = transfer.job else {
            panic!("{line}: expected an upload");
        };
        file_of(file).write_all(data.as_bytes()).unwrap();
        let bytes = data.len() as u64;
        assert_eq!(
            self.finish(TransferOutcome::Complete { bytes }),
            [TRANSFER_COMPLETE]
        );
    }
}

/// An anonymous-only server (vsftpd's defaults plus `config`), not logged in yet.
fn anonymous_server(config: &str) -> Client {
    let tree = Tree::new();
    let text = format!("{}{config}", tree.base_config());
    Client::connect(tree, &text, "root", client_address(), server_address())
}

fn anonymous_session(config: &str) -> Client {
    let mut client = anonymous_server(config);
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_SUCCESSFUL
    );
    client
}

/// A server with virtual users alice and bob (and anonymous logins), not logged in yet;
/// files go to alice's root.
fn virtual_server(config: &str) -> Client {
    virtual_server_in(Tree::new(), config)
}

fn virtual_server_in(tree: Tree, config: &str) -> Client {
    virtual_server_at(tree, config, client_address(), server_address())
}

fn virtual_server_at(tree: Tree, config: &str, peer: SocketAddr, local: SocketAddr) -> Client {
    let text = format!(
        "{}{}{config}",
        tree.base_config(),
        tree.virtual_users_config()
    );
    Client::connect(tree, &text, "home/alice", peer, local)
}

fn alice_session(config: &str) -> Client {
    let mut client = virtual_server(config);
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    client
}

// The greeting.

#[test]
fn default_greeting_names_no_version() {
    let client = anonymous_server("");
    assert_eq!(describe(&client.session.greeting()), ["220 (ringd)\r\n"]);
}

#[test]
fn ftpd_banner_is_the_greeting() {
    let client = anonymous_server("ftpd_banner=Welcome to blah FTP service.\n");
    assert_eq!(
        describe(&client.session.greeting()),
        ["220 Welcome to blah FTP service.\r\n"]
    );
}

#[test]
fn banner_file_is_a_multi_line_greeting() {
    let tree = Tree::new();
    let banner = tree.path("banner");
    fs::write(&banner, "Authorized users only.\nAll access is logged.\n").unwrap();
    let text = format!(
        "{}banner_file={}\nftpd_banner=ignored\n",
        tree.base_config(),
        banner.display()
    );
    let client = Client::connect(tree, &text, "root", client_address(), server_address());
    assert_eq!(
        describe(&client.session.greeting()),
        ["220-Authorized users only.\r\n220-All access is logged.\r\n220 \r\n"]
    );
}

// Before login.

#[test]
fn commands_before_login_ask_for_login() {
    let mut client = anonymous_server("");
    for line in [
        "PWD",
        "CWD /",
        "CDUP",
        "LIST",
        "NLST",
        "RETR a.txt",
        "STOR a.txt",
        "PASV",
        "EPSV",
        "PORT 192,0,2,10,195,80",
        "TYPE I",
        "SYST",
        "NOOP",
        "STAT",
        "HELP",
        "MKD x",
        "SITE HELP",
        "SIZE a.txt",
        "REST 0",
        "ABOR",
        "ACCT x",
        "XYZZY",
    ] {
        assert_eq!(client.steps(line), [PLEASE_LOGIN], "{line}");
    }
}

#[test]
fn empty_line_is_ignored_before_and_after_login() {
    let mut client = anonymous_server("");
    assert!(client.actions("").is_empty());
    assert_eq!(client.login("ftp", "x"), LOGIN_SUCCESSFUL);
    assert!(client.actions("").is_empty());
}

#[test]
fn pass_without_user_is_refused() {
    let mut client = anonymous_server("");
    assert_eq!(
        client.steps("PASS secret"),
        ["503 Login with USER first.\r\n"]
    );
}

#[test]
fn quit_says_goodbye_and_closes() {
    let mut client = anonymous_server("");
    assert_eq!(client.steps("QUIT"), ["221 Goodbye.\r\n", "close"]);
    let mut client = anonymous_session("");
    assert_eq!(client.steps("quit"), ["221 Goodbye.\r\n", "close"]);
}

#[test]
fn feat_and_opts_work_before_login() {
    let mut client = anonymous_server("");
    assert_eq!(client.send("FEAT"), FEATURES);
    assert_eq!(client.send("OPTS UTF8 ON"), "200 Always in UTF8 mode.\r\n");
}

// Anonymous logins.

#[test]
fn anonymous_names_log_in_in_any_case() {
    for name in ["ftp", "anonymous", "FTP", "Anonymous", "aNoNyMoUs"] {
        let mut client = anonymous_server("");
        assert_eq!(
            client.login(name, "guest@example.com"),
            LOGIN_SUCCESSFUL,
            "{name}"
        );
    }
    let mut client = anonymous_server("");
    assert_eq!(client.send("user ftp"), SPECIFY_PASSWORD);
    assert_eq!(client.send("pass "), LOGIN_SUCCESSFUL);
}

#[test]
fn no_anon_password_logs_in_right_after_user() {
    let mut client = anonymous_server("no_anon_password=YES\n");
    assert_eq!(client.steps("USER anonymous"), [LOGIN_SUCCESSFUL]);
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
}

#[test]
fn anonymous_only_server_refuses_other_names_without_delay_or_count() {
    let mut client = anonymous_server("max_login_fails=1\n");
    for _ in 0..3 {
        assert_eq!(
            client.steps("USER alice"),
            ["530 This FTP server is anonymous only.\r\n"]
        );
    }
    assert_eq!(client.steps("PASS x"), ["503 Login with USER first.\r\n"]);
    assert_eq!(client.login("ftp", "x"), LOGIN_SUCCESSFUL);
}

#[test]
fn anonymous_names_are_ordinary_users_when_anonymous_is_disabled() {
    let mut client = virtual_server("anonymous_enable=NO\ndelay_failed_login=0\n");
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_INCORRECT
    );
    assert_eq!(client.send("PWD"), PLEASE_LOGIN);
}

#[test]
fn banned_email_password_is_refused() {
    let tree = Tree::new();
    let banned = tree.name_list("banned", &["spam@example.com"]);
    let text = format!(
        "{}deny_email_enable=YES\nbanned_email_file={}\n",
        tree.base_config(),
        banned.display()
    );
    let mut client = Client::connect(tree, &text, "root", client_address(), server_address());
    assert_eq!(client.send("USER anonymous"), SPECIFY_PASSWORD);
    assert_eq!(
        client.steps("PASS spam@example.com"),
        ["pause 1s", LOGIN_INCORRECT]
    );
    assert_eq!(
        client.login("anonymous", "friend@example.com"),
        LOGIN_SUCCESSFUL
    );
}

#[test]
fn secure_email_list_admits_only_listed_passwords() {
    let tree = Tree::new();
    let listed = tree.name_list("emails", &["friend@example.com"]);
    let text = format!(
        "{}secure_email_list_enable=YES\nemail_password_file={}\ndelay_failed_login=0\n",
        tree.base_config(),
        listed.display()
    );
    let mut client = Client::connect(tree, &text, "root", client_address(), server_address());
    assert_eq!(client.login("ftp", "stranger@example.com"), LOGIN_INCORRECT);
    assert_eq!(client.login("ftp", "friend@example.com"), LOGIN_SUCCESSFUL);
}

// Virtual users.

#[test]
fn virtual_user_logs_in_to_their_own_root() {
    let mut client = virtual_server("");
    client.file("alices.txt", "mine\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(client.send("SIZE alices.txt"), "213 5\r\n");
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
}

#[test]
fn wrong_password_or_unknown_user_is_login_incorrect() {
    let mut client = virtual_server("");
    assert_eq!(client.send("USER alice"), SPECIFY_PASSWORD);
    assert_eq!(client.steps("PASS wrong"), ["pause 1s", LOGIN_INCORRECT]);
    assert_eq!(client.send("USER mallory"), SPECIFY_PASSWORD);
    assert_eq!(client.steps("PASS anything"), ["pause 1s", LOGIN_INCORRECT]);
    assert_eq!(client.send("PWD"), PLEASE_LOGIN);
    // The failed PASS used up the USER.
    assert_eq!(
        client.send("PASS wonderland"),
        "503 Login with USER first.\r\n"
    );
}

#[test]
fn ftpusers_member_gets_331_then_login_incorrect() {
    let tree = Tree::new();
    tree.name_list("ftpusers", &["root", "alice"]);
    let mut client = virtual_server_in(tree, "delay_failed_login=0\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_INCORRECT);
    assert_eq!(client.login("bob", BOB_PASSWORD), LOGIN_SUCCESSFUL);
}

/// A virtual-user server whose user_list holds bob.
fn server_with_user_list(config: &str) -> Client {
    let tree = Tree::new();
    let list = tree.name_list("user_list", &["bob"]);
    let config = format!(
        "userlist_enable=YES\nuserlist_file={}\n{config}",
        list.display()
    );
    virtual_server_in(tree, &config)
}

#[test]
fn user_list_with_userlist_deny_refuses_right_after_user() {
    let mut client = server_with_user_list("");
    assert_eq!(
        client.steps("USER bob"),
        ["pause 1s", "530 Permission denied.\r\n"]
    );
    assert_eq!(
        client.send("PASS builder"),
        "503 Login with USER first.\r\n"
    );
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
}

#[test]
fn user_list_with_userlist_deny_no_admits_only_listed_users() {
    let mut client = server_with_user_list("userlist_deny=NO\ndelay_failed_login=0\n");
    assert_eq!(client.steps("USER alice"), ["530 Permission denied.\r\n"]);
    assert_eq!(
        client.steps("USER anonymous"),
        ["530 Permission denied.\r\n"]
    );
    assert_eq!(client.login("bob", BOB_PASSWORD), LOGIN_SUCCESSFUL);
}

#[test]
fn delay_failed_login_pauses_before_the_refusal() {
    let mut client = virtual_server("delay_failed_login=5\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), ["pause 5s", LOGIN_INCORRECT]);
    let mut client = virtual_server("delay_failed_login=0\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT]);
}

#[test]
fn max_login_fails_closes_after_the_last_failure() {
    let mut client = virtual_server("max_login_fails=2\ndelay_failed_login=0\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT]);
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT, "close"]);
}

#[test]
fn max_login_fails_zero_closes_after_the_first_failure() {
    let mut client = virtual_server("max_login_fails=0\ndelay_failed_login=0\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT, "close"]);
}

#[test]
fn user_list_refusals_count_towards_max_login_fails() {
    let mut client = server_with_user_list("max_login_fails=2\ndelay_failed_login=0\n");
    assert_eq!(client.steps("USER bob"), ["530 Permission denied.\r\n"]);
    assert_eq!(
        client.steps("USER bob"),
        ["530 Permission denied.\r\n", "close"]
    );
}

#[test]
fn default_max_login_fails_is_three() {
    let mut client = virtual_server("delay_failed_login=0\n");
    for _ in 0..2 {
        assert_eq!(client.login("alice", "wrong"), LOGIN_INCORRECT);
    }
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT, "close"]);
}

#[test]
fn pass_after_login_is_already_logged_in() {
    let mut client = alice_session("");
    assert_eq!(client.send("PASS again"), "230 Already logged in.\r\n");
}

#[test]
fn user_after_login_names_another_user() {
    let mut client = alice_session("");
    assert_eq!(
        client.send("USER bob"),
        "530 Can't change to another user.\r\n"
    );
}

#[test]
fn user_after_anonymous_login_cannot_change_from_guest() {
    let mut client = anonymous_session("");
    assert_eq!(
        client.send("USER bob"),
        "530 Can't change from guest user.\r\n"
    );
}

#[test]
fn user_again_after_login_any_password_will_do() {
    let mut client = alice_session("");
    assert_eq!(client.send("USER alice"), "331 Any password will do.\r\n");
}

#[test]
fn guests_have_anonymous_privileges() {
    let mut client = virtual_server("guest_enable=YES\nwrite_enable=YES\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(client.send("STOR new.txt"), NO_PERMISSION);
    assert_eq!(client.send("SITE HELP"), NO_PERMISSION);
    let mut client =
        virtual_server("guest_enable=YES\nwrite_enable=YES\nvirtual_use_local_privs=YES\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    client.upload("STOR new.txt", "local privileges\n");
}

#[test]
fn guest_without_local_root_logs_in_to_the_guest_users_home() {
    let tree = Tree::new();
    let users = tree.virtual_users_config();
    let users = users
        .lines()
        .filter(|line| !line.starts_with("local_root=") && !line.starts_with("user_sub_token="))
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let text = format!(
        "{}{users}guest_enable=YES\nguest_username=root\n",
        tree.base_config()
    );
    let mut client = Client::connect(tree, &text, "root", client_address(), server_address());
    assert_eq!(client.send("USER alice"), SPECIFY_PASSWORD);
    assert_eq!(
        client.steps(&format!("PASS {ALICE_PASSWORD}")),
        [LOGIN_SUCCESSFUL]
    );
}

// Directories.

#[test]
fn pwd_and_xpwd_report_the_current_directory() {
    let mut client = anonymous_session("");
    client.dir("pub");
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
    assert_eq!(client.send("CWD pub"), DIRECTORY_CHANGED);
    assert_eq!(
        client.send("XPWD"),
        "257 \"/pub\" is the current directory\r\n"
    );
}

#[test]
fn cwd_cdup_and_their_aliases_move_through_directories() {
    let mut client = anonymous_session("");
    client.dir("pub/sub");
    assert_eq!(client.send("CWD pub"), DIRECTORY_CHANGED);
    assert_eq!(client.send("XCWD sub"), DIRECTORY_CHANGED);
    assert_eq!(
        client.send("PWD"),
        "257 \"/pub/sub\" is the current directory\r\n"
    );
    assert_eq!(client.send("CDUP"), DIRECTORY_CHANGED);
    assert_eq!(
        client.send("PWD"),
        "257 \"/pub\" is the current directory\r\n"
    );
    assert_eq!(client.send("XCUP"), DIRECTORY_CHANGED);
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
    assert_eq!(client.send("CWD /pub/sub"), DIRECTORY_CHANGED);
    assert_eq!(
        client.send("PWD"),
        "257 \"/pub/sub\" is the current directory\r\n"
    );
}

#[test]
fn cwd_to_a_missing_directory_or_a_file_fails() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    assert_eq!(client.send("CWD missing"), CHANGE_DIRECTORY_FAILED);
    assert_eq!(client.send("CWD a.txt"), CHANGE_DIRECTORY_FAILED);
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
}

#[test]
fn dotdot_above_the_root_stays_at_the_root() {
    let mut client = anonymous_session("");
    client.dir("pub");
    assert_eq!(client.send("CDUP"), DIRECTORY_CHANGED);
    assert_eq!(client.send("CWD ../../.."), DIRECTORY_CHANGED);
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
    assert_eq!(client.send("CWD /../../pub"), DIRECTORY_CHANGED);
    assert_eq!(
        client.send("PWD"),
        "257 \"/pub\" is the current directory\r\n"
    );
}

#[test]
fn directory_messages_are_shown_once_per_directory() {
    let mut client = anonymous_server("dirmessage_enable=YES\n");
    client.file(".message", "Welcome to the root.\n");
    client.dir("pub");
    client.file("pub/.message", "Public files.\nRead-only.\n");
    assert_eq!(
        client.login("ftp", "x"),
        "230-Welcome to the root.\r\n230 Login successful.\r\n"
    );
    assert_eq!(
        client.send("CWD pub"),
        "250-Public files.\r\n250-Read-only.\r\n250 Directory successfully changed.\r\n"
    );
    assert_eq!(client.send("CDUP"), DIRECTORY_CHANGED);
    assert_eq!(client.send("CWD pub"), DIRECTORY_CHANGED);
}

#[test]
fn message_file_names_the_message() {
    let mut client = anonymous_server("dirmessage_enable=YES\nmessage_file=WELCOME\n");
    client.file(".message", "not this one\n");
    client.file("WELCOME", "This one.\n");
    assert_eq!(
        client.login("ftp", "x"),
        "230-This one.\r\n230 Login successful.\r\n"
    );
}

#[test]
fn no_directory_messages_without_dirmessage_enable() {
    let mut client = anonymous_server("");
    client.file(".message", "Welcome to the root.\n");
    client.dir("pub");
    client.file("pub/.message", "Public files.\n");
    assert_eq!(client.login("ftp", "x"), LOGIN_SUCCESSFUL);
    assert_eq!(client.send("CWD pub"), DIRECTORY_CHANGED);
}

#[test]
fn mkd_names_the_new_directory_by_its_absolute_path() {
    let mut client = alice_session("write_enable=YES\n");
    assert_eq!(client.send("MKD new"), "257 \"/new\" created\r\n");
    assert!(client.path("new").is_dir());
    assert_eq!(client.send("CWD new"), DIRECTORY_CHANGED);
    assert_eq!(
        client.send("XMKD deeper"),
        "257 \"/new/deeper\" created\r\n"
    );
    assert_eq!(client.send("MKD /top"), "257 \"/top\" created\r\n");
    assert_eq!(
        client.send("MKD deeper"),
        "550 Create directory operation failed.\r\n"
    );
    assert_eq!(
        client.send("MKD missing/x"),
        "550 Create directory operation failed.\r\n"
    );
}

#[test]
fn rmd_removes_empty_directories_only() {
    let mut client = alice_session("write_enable=YES\n");
    client.dir("empty");
    client.dir("full");
    client.file("full/a.txt", "hello");
    assert_eq!(
        client.send("RMD empty"),
        "250 Remove directory operation successful.\r\n"
    );
    assert!(!client.path("empty").exists());
    assert_eq!(
        client.send("XRMD full"),
        "550 Remove directory operation failed.\r\n"
    );
    assert_eq!(
        client.send("RMD missing"),
        "550 Remove directory operation failed.\r\n"
    );
    assert_eq!(
        client.send("RMD full/a.txt"),
        "550 Remove directory operation failed.\r\n"
    );
}

#[test]
fn dele_removes_files() {
    let mut client = alice_session("write_enable=YES\n");
    client.file("a.txt", "hello");
    client.dir("sub");
    assert_eq!(
        client.send("DELE a.txt"),
        "250 Delete operation successful.\r\n"
    );
    assert!(!client.path("a.txt").exists());
    assert_eq!(
        client.send("DELE a.txt"),
        "550 Delete operation failed.\r\n"
    );
    assert_eq!(client.send("DELE sub"), "550 Delete operation failed.\r\n");
}

#[test]
fn rename_takes_rnfr_then_rnto() {
    let mut client = alice_session("write_enable=YES\n");
    client.file("a.txt", "hello");
    assert_eq!(client.send("RNTO b.txt"), "503 RNFR required first.\r\n");
    assert_eq!(client.send("RNFR missing"), "550 RNFR command failed.\r\n");
    assert_eq!(client.send("RNTO b.txt"), "503 RNFR required first.\r\n");
    assert_eq!(client.send("RNFR a.txt"), "350 Ready for RNTO.\r\n");
    assert_eq!(client.send("RNTO b.txt"), "250 Rename successful.\r\n");
    assert_eq!(fs::read_to_string(client.path("b.txt")).unwrap(), "hello");
    assert!(!client.path("a.txt").exists());
    assert_eq!(client.send("RNTO c.txt"), "503 RNFR required first.\r\n");
    assert_eq!(client.send("RNFR b.txt"), "350 Ready for RNTO.\r\n");
    assert_eq!(client.send("RNTO missing/c.txt"), "550 Rename failed.\r\n");
}

#[test]
fn an_empty_argument_names_no_file() {
    // vsftpd passes "" to the system call, which finds nothing: an empty RNFR must not take
    // the working directory, nor RMD remove it, nor CWD stay.
    let mut client = alice_session("write_enable=YES\n");
    client.dir("work");
    assert_eq!(client.send("CWD work"), DIRECTORY_CHANGED);
    for (line, reply) in [
        ("RNFR", "550 RNFR command failed.\r\n"),
        ("RMD", "550 Remove directory operation failed.\r\n"),
        ("DELE", "550 Delete operation failed.\r\n"),
        ("CWD", CHANGE_DIRECTORY_FAILED),
        ("SIZE", "550 Could not get file size.\r\n"),
    ] {
        assert_eq!(client.send(line), reply, "{line}");
    }
    assert_eq!(client.send("RNTO moved"), "503 RNFR required first.\r\n");
    assert!(client.path("work").is_dir() && !client.path("moved").exists());
}

// File status.

#[test]
fn size_of_regular_files_only() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.dir("sub");
    assert_eq!(client.send("SIZE a.txt"), "213 5\r\n");
    assert_eq!(client.send("SIZE /a.txt"), "213 5\r\n");
    assert_eq!(client.send("SIZE sub"), "550 Could not get file size.\r\n");
    assert_eq!(
        client.send("SIZE missing"),
        "550 Could not get file size.\r\n"
    );
}

#[test]
fn mdtm_reports_the_modification_time_in_utc() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.dir("sub");
    assert_eq!(client.send("MDTM a.txt"), "213 20200714123800\r\n");
    assert_eq!(
        client.send("MDTM sub"),
        "550 Could not get file modification time.\r\n"
    );
    assert_eq!(
        client.send("MDTM missing"),
        "550 Could not get file modification time.\r\n"
    );
}

#[test]
fn mdtm_with_a_time_sets_it_for_writers_only() {
    let mut client = alice_session("write_enable=YES\n");
    let path = client.file("a.txt", "hello");
    assert_eq!(
        client.send("MDTM 20210101000000 a.txt"),
        "213 File modification time set.\r\n"
    );
    assert_eq!(fs::metadata(&path).unwrap().mtime(), 1_609_459_200);
    assert_eq!(client.send("MDTM a.txt"), "213 20210101000000\r\n");
    let mut reader = alice_session("");
    let path = reader.file("a.txt", "hello");
    assert_eq!(
        reader.send("MDTM 20210101000000 a.txt"),
        "550 Could not get file modification time.\r\n"
    );
    assert_eq!(fs::metadata(path).unwrap().mtime(), OLD_MTIME as i64);
}

#[test]
fn mlst_describes_one_entry() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    let reply = client.send("MLST a.txt");
    assert!(
        reply.starts_with("250-Listing /a.txt\r\n type=file;size=5;modify=20200714123800;perm=r;"),
        "{reply}"
    );
    assert!(
        reply.ends_with(";UNIX.mode=0644; /a.txt\r\n250 End\r\n"),
        "{reply}"
    );
    assert_eq!(client.send("MLST missing"), "550 Could not list file.\r\n");
}

// Simple commands.

#[test]
fn type_stru_and_mode() {
    let mut client = anonymous_session("");
    assert_eq!(client.send("TYPE A"), "200 Switching to ASCII mode.\r\n");
    assert_eq!(client.send("TYPE A N"), "200 Switching to ASCII mode.\r\n");
    assert_eq!(client.send("TYPE I"), "200 Switching to Binary mode.\r\n");
    assert_eq!(client.send("TYPE L 8"), "200 Switching to Binary mode.\r\n");
    assert_eq!(client.send("TYPE X"), "500 Unrecognised TYPE command.\r\n");
    assert_eq!(client.send("STRU F"), "200 Structure set to F.\r\n");
    assert_eq!(client.send("STRU R"), "504 Bad STRU command.\r\n");
    assert_eq!(client.send("MODE S"), "200 Mode set to S.\r\n");
    assert_eq!(client.send("MODE B"), "504 Bad MODE command.\r\n");
}

#[test]
fn commands_with_fixed_replies() {
    let mut client = anonymous_session("");
    for (line, reply) in [
        ("NOOP", "200 NOOP ok.\r\n"),
        ("SYST", "215 UNIX Type: L8\r\n"),
        ("ALLO 1000", "202 ALLO command ignored.\r\n"),
        ("REIN", "502 REIN not implemented.\r\n"),
        ("ACCT x", "502 ACCT not implemented.\r\n"),
        ("SMNT /", "502 SMNT not implemented.\r\n"),
        ("ABOR", "225 No transfer to ABOR.\r\n"),
        ("PBSZ 0", NO_PERMISSION),
        ("PROT P", NO_PERMISSION),
        ("XYZZY", "500 Unknown command.\r\n"),
    ] {
        assert_eq!(client.steps(line), [reply], "{line}");
    }
}

#[test]
fn help_lists_the_commands() {
    let mut client = anonymous_session("");
    assert_eq!(
        client.send("HELP"),
        "214-The following commands are recognized.\r\n \
         ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n \
         MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR\r\n \
         RMD  RNFR RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP\r\n \
         XCWD XMKD XPWD XRMD\r\n214 Help OK.\r\n"
    );
}

#[test]
fn feat_lists_the_features_port_and_pasv_enable_allow() {
    let mut client = anonymous_session("");
    assert_eq!(client.send("FEAT"), FEATURES);
    let mut client = anonymous_session("port_enable=NO\npasv_enable=NO\n");
    assert_eq!(
        client.send("FEAT"),
        "211-Features:\r\n MDTM\r\n MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\r\n \
         REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n"
    );
}

#[test]
fn opts_utf8_on_and_unknown_options() {
    let mut client = anonymous_session("");
    assert_eq!(client.send("OPTS UTF8 ON"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(client.send("opts utf8 on"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(client.send("OPTS FROB 1"), "501 Option not understood.\r\n");
    assert_eq!(
        client.send("OPTS MLST type;size;"),
        "200 MLST OPTS type;size;\r\n"
    );
}

const ANONYMOUS_STATUS: &str = "211-FTP server status:\r\n     Connected to 192.0.2.10\r\n     \
                                Logged in as ftp\r\n     TYPE: BINARY\r\n     \
                                No session bandwidth limit\r\n     \
                                Session timeout in seconds is 300\r\n     \
                                Control connection is plain text\r\n     \
                                Data connections will be plain text\r\n     ringd\r\n\
                                211 End of status\r\n";

#[test]
fn stat_reports_the_session() {
    let mut client = anonymous_session("");
    assert_eq!(client.send("STAT"), ANONYMOUS_STATUS);
    client.send("TYPE A");
    assert_eq!(
        client.send("STAT"),
        ANONYMOUS_STATUS.replace("TYPE: BINARY", "TYPE: ASCII")
    );
    let mut client = alice_session("idle_session_timeout=0\n");
    let status = client.send("STAT");
    assert!(status.contains("     Logged in as alice\r\n"), "{status}");
    assert!(status.contains("     No session timeout\r\n"), "{status}");
}

#[test]
fn stat_reports_the_bandwidth_limit() {
    let mut client = anonymous_session("anon_max_rate=50000\n");
    assert_eq!(
        client.send("STAT"),
        ANONYMOUS_STATUS.replace(
            "No session bandwidth limit",
            "Session bandwidth limit in byte/s is 50000"
        )
    );
    let mut client = alice_session("local_max_rate=70000\n");
    let status = client.send("STAT");
    assert!(
        status.contains("     Session bandwidth limit in byte/s is 70000\r\n"),
        "{status}"
    );
}

#[test]
fn stat_of_a_path_lists_it_on_the_control_connection() {
    let mut client = anonymous_session("hide_ids=YES\n");
    client.file("a.txt", "hello");
    assert_eq!(
        client.send("STAT a.txt"),
        "213-Status follows:\r\n\
         -rw-r--r--    1 ftp      ftp             5 Jul 14  2020 a.txt\r\n\
         213 End of status\r\n"
    );
    assert_eq!(
        client.send("STAT missing"),
        "213-Status follows:\r\n213 End of status\r\n"
    );
}

#[test]
fn stat_of_a_directory_and_list_dash_a_include_dot_and_dotdot() {
    let mut client = anonymous_session("hide_ids=YES\n");
    client.dir("sub");
    client.file("sub/b.txt", "hello");
    let status = client.send("STAT sub");
    assert_eq!(
        listed_names(&status),
        ["follows:", ".", "..", "b.txt", "status"]
    );
    let listing = client.listing("LIST -a sub");
    assert_eq!(listed_names(&listing), [".", "..", "b.txt"]);
}

#[test]
fn site_chmod_umask_and_help() {
    let mut client = alice_session("write_enable=YES\n");
    let path = client.file("a.txt", "hello");
    assert_eq!(client.send("SITE HELP"), "214 CHMOD UMASK HELP\r\n");
    assert_eq!(
        client.send("SITE CHMOD 600 a.txt"),
        "200 SITE CHMOD command ok.\r\n"
    );
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(
        client.send("site chmod 4755 a.txt"),
        "200 SITE CHMOD command ok.\r\n"
    );
    assert_eq!(mode_of(&path), 0o755, "no setuid bit through SITE CHMOD");
    assert_eq!(
        client.send("SITE CHMOD 600"),
        "500 SITE CHMOD needs 2 arguments.\r\n"
    );
    assert_eq!(
        client.send("SITE CHMOD"),
        "500 SITE CHMOD needs 2 arguments.\r\n"
    );
    assert_eq!(
        client.send("SITE CHMOD 600 missing"),
        "550 SITE CHMOD command failed.\r\n"
    );
    assert_eq!(client.send("SITE FROB"), "500 Unknown SITE command.\r\n");
    assert_eq!(
        client.send("SITE UMASK"),
        "200 Your current UMASK is 077\r\n"
    );
    assert_eq!(client.send("SITE UMASK 027"), "200 UMASK set to 027\r\n");
    assert_eq!(
        client.send("SITE UMASK"),
        "200 Your current UMASK is 027\r\n"
    );
}

#[test]
fn site_is_refused_for_anonymous_users() {
    let mut client = anonymous_session("write_enable=YES\nanon_other_write_enable=YES\n");
    for line in ["SITE HELP", "SITE UMASK 022", "SITE CHMOD 777 a.txt"] {
        assert_eq!(client.send(line), NO_PERMISSION, "{line}");
    }
}

#[test]
fn rest_applies_to_the_next_transfer_only() {
    let mut client = anonymous_session("");
    client.file("a.txt", "0123456789");
    assert_eq!(
        client.send("REST 4"),
        "350 Restart position accepted (4).\r\n"
    );
    assert_eq!(
        client.send("REST junk"),
        "350 Restart position accepted (0).\r\n"
    );
    client.send("REST 4");
    client.passive();
    let transfer = client.transfer("RETR a.txt");
    assert!(matches!(transfer.job, DataJob::Download { offset: 4, .. }));
    // The opening names the whole file's size, as vsftpd's does.
    assert_eq!(
        wire(&transfer.opening),
        "150 Opening BINARY mode data connection for a.txt (10 bytes).\r\n"
    );
    client.finish(TransferOutcome::Complete { bytes: 6 });
    client.passive();
    let transfer = client.transfer("RETR a.txt");
    assert!(matches!(transfer.job, DataJob::Download { offset: 0, .. }));
}

#[test]
fn rest_then_stor_writes_from_the_offset() {
    let mut client = alice_session("write_enable=YES\n");
    let path = client.file("digits.txt", "0123456789");
    client.send("REST 4");
    client.passive();
    let transfer = client.transfer("STOR digits.txt");
    let DataJob::Upload { file, .. } = transfer.job else {
        panic!("expected an upload");
    };
    let mut file = file_of(file);
    assert_eq!(file.stream_position().unwrap(), 4);
    file.write_all(b"XY").unwrap();
    assert_eq!(fs::read_to_string(path).unwrap(), "0123XY6789");
}

#[test]
fn stor_replaces_and_appe_appends() {
    let mut client = alice_session("write_enable=YES\n");
    let path = client.file("a.txt", "0123456789");
    client.upload("STOR a.txt", "ab");
    assert_eq!(fs::read_to_string(&path).unwrap(), "ab");
    client.upload("APPE a.txt", "cd");
    assert_eq!(fs::read_to_string(&path).unwrap(), "abcd");
    client.upload("APPE new.txt", "ef");
    assert_eq!(fs::read_to_string(client.path("new.txt")).unwrap(), "ef");
}

#[test]
fn stou_names_the_file_it_creates() {
    let mut client = alice_session("write_enable=YES\n");
    client.file("report", "taken");
    for (line, opening) in [
        ("STOU", "150 FILE: STOU.1\r\n"),
        ("STOU", "150 FILE: STOU.2\r\n"),
        ("STOU fresh", "150 FILE: fresh\r\n"),
        ("STOU report", "150 FILE: report.1\r\n"),
    ] {
        client.passive();
        let transfer = client.transfer(line);
        assert_eq!(wire(&transfer.opening), opening, "{line}");
        assert!(matches!(transfer.job, DataJob::Upload { .. }));
        assert_eq!(
            client.finish(TransferOutcome::Complete { bytes: 0 }),
            [TRANSFER_COMPLETE]
        );
    }
    assert_eq!(fs::read_to_string(client.path("report")).unwrap(), "taken");
    assert!(client.path("report.1").is_file() && client.path("STOU.2").is_file());
}

#[test]
fn retr_waits_for_a_shared_lock_and_then_names_the_size_the_file_has() {
    let mut client = alice_session("");
    let path = client.file("a.txt", "0123456789");
    client.passive();
    let request = client.lock("RETR a.txt");
    assert_eq!(request.kind, FileLock::Shared);
    // An upload that held the lock finishes meanwhile.
    fs::write(&path, "0123456789abcdef").unwrap();
    let actions = client.file_locked(request, true);
    let [Action::Transfer(transfer)] = &actions[..] else {
        panic!("expected the transfer, got {actions:?}");
    };
    assert_eq!(
        wire(&transfer.opening),
        "150 Opening BINARY mode data connection for a.txt (16 bytes).\r\n"
    );
}

#[test]
fn uploads_take_an_exclusive_lock_and_stor_truncates_only_once_it_is_had() {
    let mut client = alice_session("write_enable=YES\n");
    let path = client.file("a.txt", "old contents");
    for line in ["APPE a.txt", "STOU", "STOR a.txt"] {
        client.passive();
        let request = client.lock(line);
        assert_eq!(request.kind, FileLock::Exclusive, "{line}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old contents", "{line}");
        let actions = client.file_locked(request, true);
        assert!(
            matches!(&actions[..], [Action::Transfer(_)]),
            "{line}: {actions:?}"
        );
        client.finish(TransferOutcome::Complete { bytes: 0 });
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), "");
}

#[test]
fn a_lock_not_had_in_time_fails_the_transfer_and_leaves_the_file() {
    let mut client = alice_session("write_enable=YES\n");
    let path = client.file("a.txt", "old contents");
    client.passive();
    let request = client.lock("RETR a.txt");
    assert_eq!(
        describe(&client.file_locked(request, false)),
        [FAILED_TO_OPEN]
    );
    let request = client.lock("STOR a.txt");
    assert_eq!(
        describe(&client.file_locked(request, false)),
        ["553 Could not create file.\r\n"]
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "old contents");
    // The session goes on: the data setup was not used.
    client.upload("STOR a.txt", "new");
    assert_eq!(fs::read_to_string(&path).unwrap(), "new");
}

#[test]
fn without_lock_upload_files_transfers_start_at_once() {
    let mut client = alice_session("write_enable=YES\nlock_upload_files=NO\n");
    let path = client.file("a.txt", "old contents");
    client.passive();
    assert_eq!(
        client.steps("RETR a.txt"),
        ["transfer Passive { check_peer: true } 150 Opening BINARY mode data connection for a.txt (12 bytes).\r\n"]
    );
    client.finish(TransferOutcome::Complete { bytes: 12 });
    client.passive();
    assert_eq!(
        client.steps("STOR a.txt"),
        [format!(
            "transfer Passive {{ check_peer: true }} {OK_TO_SEND}"
        )]
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "");
}

#[test]
fn atomic_uploads_lock_only_what_they_write_in_place() {
    let mut client = alice_session("write_enable=YES\natomic_uploads=YES\n");
    client.file("a.txt", "old contents");
    client.passive();
    assert_eq!(
        client.steps("STOR a.txt"),
        [format!(
            "transfer Passive {{ check_peer: true }} {OK_TO_SEND}"
        )]
    );
    client.finish(TransferOutcome::NetworkFailed { bytes: 0 });
    client.passive();
    assert_eq!(client.lock("APPE a.txt").kind, FileLock::Exclusive);
}

#[test]
fn http_command_after_login_closes() {
    let mut client = anonymous_session("");
    assert_eq!(
        client.steps("GET / HTTP/1.1"),
        ["500 HTTP protocol commands not allowed.\r\n", "close"]
    );
}

#[test]
fn bad_lines_get_500_and_the_session_goes_on() {
    let mut client = anonymous_server("");
    let too_long = describe(
        &client
            .session
            .on_line(Err(LineError::TooLong), now(), &NoFilesystem),
    );
    assert_eq!(too_long, ["500 Input line too long.\r\n"]);
    assert_eq!(client.login("ftp", "x"), LOGIN_SUCCESSFUL);
    let too_long = describe(
        &client
            .session
            .on_line(Err(LineError::TooLong), now(), &NoFilesystem),
    );
    assert_eq!(too_long, ["500 Input line too long.\r\n"]);
    let nul = describe(
        &client
            .session
            .on_line(Err(LineError::ContainsNul), now(), &NoFilesystem),
    );
    assert_eq!(nul, ["500 Illegal NUL byte in command.\r\n"]);
    assert_eq!(client.send("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn idle_timeout_says_421_and_closes() {
    let mut client = anonymous_server("");
    assert_eq!(
        describe(&client.session.idle_timeout()),
        ["421 Timeout.\r\n", "close"]
    );
    let mut client = anonymous_session("");
    assert_eq!(
        describe(&client.session.idle_timeout()),
        ["421 Timeout.\r\n", "close"]
    );
}

// Permission options.

#[test]
fn write_enable_no_refuses_every_write_command() {
    let mut client = alice_session("");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.passive();
    for line in [
        "STOR new.txt",
        "STOU",
        "APPE a.txt",
        "MKD x",
        "XMKD x",
        "RMD sub",
        "XRMD sub",
        "DELE a.txt",
        "RNFR a.txt",
        "RNTO b.txt",
    ] {
        assert_eq!(client.steps(line), [NO_PERMISSION], "{line}");
    }
    assert!(client.path("a.txt").is_file() && client.path("sub").is_dir());
    assert!(!client.path("new.txt").exists() && !client.path("x").exists());
}

#[test]
fn site_chmod_needs_write_enable() {
    let mut client = alice_session("");
    let path = client.file("a.txt", "hello");
    assert_eq!(
        client.send("SITE CHMOD 777 a.txt"),
        "500 Unknown SITE command.\r\n"
    );
    assert_eq!(mode_of(&path), 0o644);
    assert_eq!(client.send("SITE HELP"), "214 UMASK HELP\r\n");
}

#[test]
fn chmod_enable_no_hides_site_chmod() {
    let mut client = alice_session("write_enable=YES\nchmod_enable=NO\n");
    let path = client.file("a.txt", "hello");
    assert_eq!(
        client.send("SITE CHMOD 600 a.txt"),
        "500 Unknown SITE command.\r\n"
    );
    assert_eq!(mode_of(&path), 0o644);
    assert_eq!(client.send("SITE HELP"), "214 UMASK HELP\r\n");
    assert_eq!(client.send("SITE UMASK 022"), "200 UMASK set to 022\r\n");
}

#[test]
fn anonymous_uploads_need_anon_upload_enable() {
    let mut client = anonymous_session("write_enable=YES\n");
    client.passive();
    assert_eq!(client.send("STOR up.txt"), NO_PERMISSION);
    assert_eq!(client.send("STOU"), NO_PERMISSION);
    let mut client = anonymous_session("anon_upload_enable=YES\n");
    client.passive();
    assert_eq!(
        client.send("STOR up.txt"),
        NO_PERMISSION,
        "also needs write_enable"
    );
    let mut client = anonymous_session("write_enable=YES\nanon_upload_enable=YES\n");
    client.upload("STOR up.txt", "uploaded");
    assert_eq!(
        fs::read_to_string(client.path("up.txt")).unwrap(),
        "uploaded"
    );
    // Uploading is all it allows.
    for line in ["MKD x", "DELE up.txt", "RNFR up.txt", "APPE up.txt"] {
        assert_eq!(client.send(line), NO_PERMISSION, "{line}");
    }
}

#[test]
fn anonymous_uploads_cannot_replace_files_without_anon_other_write_enable() {
    let mut client = anonymous_session("write_enable=YES\nanon_upload_enable=YES\n");
    let path = client.file("a.txt", "original");
    client.passive();
    assert_eq!(client.send("STOR a.txt"), "553 Could not create file.\r\n");
    assert_eq!(fs::read_to_string(&path).unwrap(), "original");
    let mut client = anonymous_session(
        "write_enable=YES\nanon_upload_enable=YES\nanon_other_write_enable=YES\n",
    );
    let path = client.file("a.txt", "original");
    client.upload("STOR a.txt", "replaced");
    assert_eq!(fs::read_to_string(path).unwrap(), "replaced");
}

#[test]
fn anonymous_mkdir_needs_anon_mkdir_write_enable() {
    let mut client = anonymous_session("write_enable=YES\n");
    assert_eq!(client.send("MKD x"), NO_PERMISSION);
    let mut client = anonymous_session("anon_mkdir_write_enable=YES\n");
    assert_eq!(
        client.send("MKD x"),
        NO_PERMISSION,
        "also needs write_enable"
    );
    let mut client = anonymous_session("write_enable=YES\nanon_mkdir_write_enable=YES\n");
    assert_eq!(client.send("MKD x"), "257 \"/x\" created\r\n");
    assert_eq!(client.send("RMD x"), NO_PERMISSION);
}

#[test]
fn anonymous_other_writes_need_anon_other_write_enable() {
    let refused = [
        "DELE a.txt",
        "RNFR a.txt",
        "RNTO b.txt",
        "RMD sub",
        "XRMD sub",
        "APPE a.txt",
    ];
    let mut client = anonymous_session("write_enable=YES\n");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.passive();
    for line in refused {
        assert_eq!(client.send(line), NO_PERMISSION, "{line}");
    }
    let mut client = anonymous_session("write_enable=YES\nanon_other_write_enable=YES\n");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.upload("APPE a.txt", " world");
    assert_eq!(client.send("RNFR a.txt"), "350 Ready for RNTO.\r\n");
    assert_eq!(client.send("RNTO b.txt"), "250 Rename successful.\r\n");
    assert_eq!(
        client.send("DELE b.txt"),
        "250 Delete operation successful.\r\n"
    );
    assert_eq!(
        client.send("RMD sub"),
        "250 Remove directory operation successful.\r\n"
    );
    assert_eq!(
        client.send("MKD x"),
        NO_PERMISSION,
        "MKD has its own switch"
    );
}

#[test]
fn download_enable_no_refuses_retr() {
    let mut client = anonymous_session("download_enable=NO\n");
    client.file("a.txt", "hello");
    assert_eq!(client.send("RETR a.txt"), NO_PERMISSION);
    client.passive();
    assert_eq!(client.send("RETR a.txt"), NO_PERMISSION);
    assert_eq!(client.send("SIZE a.txt"), "213 5\r\n");
}

#[test]
fn dirlist_enable_no_refuses_listings() {
    let mut client = anonymous_session("dirlist_enable=NO\n");
    client.passive();
    for line in ["LIST", "NLST", "MLSD", "LIST -la /"] {
        assert_eq!(client.send(line), NO_PERMISSION, "{line}");
    }
}

#[test]
fn stat_of_a_path_needs_dirlist_enable() {
    let mut client = anonymous_session("dirlist_enable=NO\n");
    client.file("a.txt", "hello");
    assert_eq!(client.send("STAT ."), NO_PERMISSION);
    assert_eq!(
        client.send("STAT"),
        ANONYMOUS_STATUS,
        "STAT alone is not a listing"
    );
}

#[test]
fn cmds_allowed_refuses_every_other_command() {
    let mut client = anonymous_session("cmds_allowed=PASV,LIST,QUIT\n");
    for line in ["PWD", "CWD /", "NOOP", "RETR a.txt", "SYST", "FEAT", "STAT"] {
        assert_eq!(client.send(line), NO_PERMISSION, "{line}");
    }
    assert_eq!(client.send("LIST"), USE_PORT_OR_PASV);
    client.listing("LIST");
    assert_eq!(client.steps("QUIT"), ["221 Goodbye.\r\n", "close"]);
}

#[test]
fn cmds_denied_refuses_the_listed_commands() {
    let mut client = alice_session("write_enable=YES\ncmds_denied=DELE,MKD,QUIT\n");
    let path = client.file("a.txt", "hello");
    assert_eq!(client.send("DELE a.txt"), NO_PERMISSION);
    assert!(path.exists());
    assert_eq!(client.send("MKD x"), NO_PERMISSION);
    assert_eq!(client.steps("QUIT"), [NO_PERMISSION]);
    // vsftpd compares verbs as sent: the XMKD alias is another verb.
    assert_eq!(client.send("XMKD x"), "257 \"/x\" created\r\n");
    assert_eq!(
        client.send("RMD x"),
        "250 Remove directory operation successful.\r\n"
    );
}

/// alice with write access, a.txt, top.secret and the directory private/ in her root.
fn session_with_denied_files() -> Client {
    let mut client = alice_session("write_enable=YES\ndeny_file={*.secret,private}\n");
    client.file("a.txt", "hello");
    client.file("top.secret", "classified");
    client.dir("private");
    client.file("private/inside.txt", "hidden");
    client.passive();
    client
}

#[test]
fn deny_file_refuses_every_command_touching_a_match() {
    let mut client = session_with_denied_files();
    for line in [
        "RETR top.secret",
        "RETR ./top.secret",
        "RETR /private/inside.txt",
        "STOR new.secret",
        "APPE top.secret",
        "DELE top.secret",
        "RNFR top.secret",
        "MKD x.secret",
        "MKD private/x",
        "RMD private",
        "CWD private",
        "LIST private",
        "NLST private",
        "MLSD private",
        "LIST top.secret",
        "STAT private",
        "MLST top.secret",
        "SITE CHMOD 777 top.secret",
    ] {
        assert_eq!(client.steps(line), [NO_PERMISSION], "{line}");
    }
    assert_eq!(client.send("RNFR a.txt"), "350 Ready for RNTO.\r\n");
    assert_eq!(client.send("RNTO b.secret"), NO_PERMISSION);
    assert!(client.path("a.txt").exists() && !client.path("b.secret").exists());
    assert!(client.path("top.secret").exists() && !client.path("new.secret").exists());
    // The refusals left the PASV in place, as in vsftpd.
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(client.sent_bytes(transfer.job), b"hello");
}

#[test]
fn deny_file_refuses_size_and_mdtm() {
    let mut client = session_with_denied_files();
    assert_eq!(client.send("SIZE top.secret"), NO_PERMISSION);
    assert_eq!(client.send("MDTM top.secret"), NO_PERMISSION);
}

#[test]
fn deny_file_refuses_stou() {
    let mut client = session_with_denied_files();
    assert_eq!(client.send("STOU x.secret"), NO_PERMISSION);
    assert!(!client.path("x.secret").exists());
}

#[test]
fn hide_file_hides_from_listings_but_not_from_retr() {
    let mut client = anonymous_session("hide_file={*.hidden}\n");
    client.file("a.txt", "hello");
    client.file("b.hidden", "still here");
    assert_eq!(listed_names(&client.listing("LIST")), ["a.txt"]);
    assert_eq!(client.listing("NLST"), "a.txt\r\n");
    assert_eq!(client.listing("NLST *.hidden"), "");
    let (opening, contents) = client.download("RETR b.hidden");
    assert_eq!(
        opening,
        "150 Opening BINARY mode data connection for b.hidden (10 bytes).\r\n"
    );
    assert_eq!(contents, "still here");
}

#[test]
fn hide_ids_shows_ftp_as_owner_and_group() {
    let mut client = anonymous_session("hide_ids=YES\n");
    client.file("a.txt", "hello");
    assert_eq!(
        client.listing("LIST"),
        "-rw-r--r--    1 ftp      ftp             5 Jul 14  2020 a.txt\r\n"
    );
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    let uid = fs::metadata(client.path("a.txt")).unwrap().uid();
    let owner = IdNames::system()
        .user_name(uid)
        .map_or_else(|| uid.to_string(), str::to_owned);
    let listing = client.listing("LIST");
    assert!(
        listing.starts_with(&format!("-rw-r--r--    1 {owner:<8} ")),
        "{listing}"
    );
}

#[test]
fn anon_world_readable_only_refuses_private_files() {
    let mut client = anonymous_session("");
    let path = client.file("private.bin", "not for you");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    client.passive();
    assert_eq!(client.send("RETR private.bin"), FAILED_TO_OPEN);
    let mut client = anonymous_session("anon_world_readable_only=NO\n");
    let path = client.file("private.bin", "not for you");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(client.download("RETR private.bin").1, "not for you");
}

#[test]
fn anon_world_readable_only_does_not_apply_to_virtual_users() {
    let mut client = alice_session("");
    let path = client.file("private.bin", "mine");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(client.download("RETR private.bin").1, "mine");
}

#[test]
fn anon_world_readable_only_hides_private_directories_from_listings() {
    let mut client = anonymous_session("");
    let dir = client.dir("private");
    client.file("private/inside.txt", "hello");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
    client.passive();
    let transfer = client.transfer("LIST private");
    assert_eq!(wire(&transfer.opening), LISTING_OPENING);
    assert_eq!(client.sent_bytes(transfer.job), b"");
    assert_eq!(
        client.finish(TransferOutcome::Complete { bytes: 0 }),
        ["226 Transfer done (but failed to open directory).\r\n"]
    );
}

#[test]
fn listing_in_a_missing_directory_says_it_failed_to_open_it() {
    let mut client = anonymous_session("");
    client.passive();
    let transfer = client.transfer("LIST missing/a.txt");
    assert_eq!(client.sent_bytes(transfer.job), b"");
    assert_eq!(
        client.finish(TransferOutcome::Complete { bytes: 0 }),
        ["226 Transfer done (but failed to open directory).\r\n"]
    );
}

#[test]
fn uploads_get_file_open_mode_less_the_umask() {
    for (config, expected) in [
        ("", 0o600),
        ("local_umask=022\n", 0o644),
        ("local_umask=022\nfile_open_mode=0777\n", 0o755),
        ("local_umask=0\nfile_open_mode=0640\n", 0o640),
        ("anon_umask=0\n", 0o600),
    ] {
        let mut client = alice_session(&format!("write_enable=YES\n{config}"));
        client.upload("STOR up.txt", "data");
        assert_eq!(mode_of(&client.path("up.txt")), expected, "{config}");
    }
    for (config, expected) in [
        ("", 0o600),
        ("anon_umask=022\n", 0o644),
        ("anon_umask=002\nfile_open_mode=0777\n", 0o775),
        ("local_umask=0\n", 0o600),
    ] {
        let mut client = anonymous_session(&format!(
            "write_enable=YES\nanon_upload_enable=YES\n{config}"
        ));
        client.upload("STOR up.txt", "data");
        assert_eq!(
            mode_of(&client.path("up.txt")),
            expected,
            "anonymous {config}"
        );
    }
}

#[test]
fn upload_job_holds_the_file_just_created() {
    let mut client = alice_session("write_enable=YES\nlocal_umask=022\n");
    client.passive();
    let transfer = client.transfer("STOR up.txt");
    let DataJob::Upload { file, .. } = transfer.job else {
        panic!("expected an upload");
    };
    let file = file_of(file);
    let opened = file.metadata().unwrap();
    let on_disk = fs::metadata(client.path("up.txt")).unwrap();
    assert_eq!((opened.dev(), opened.ino()), (on_disk.dev(), on_disk.ino()));
    assert_eq!(opened.permissions().mode() & 0o7777, 0o644);
}

#[test]
fn site_umask_applies_to_later_uploads_and_directories() {
    let mut client = alice_session("write_enable=YES\nlocal_umask=022\n");
    assert_eq!(client.send("MKD before"), "257 \"/before\" created\r\n");
    assert_eq!(mode_of(&client.path("before")), 0o755);
    assert_eq!(client.send("SITE UMASK 027"), "200 UMASK set to 027\r\n");
    client.upload("STOR up.txt", "data");
    assert_eq!(mode_of(&client.path("up.txt")), 0o640);
    assert_eq!(client.send("MKD after"), "257 \"/after\" created\r\n");
    assert_eq!(mode_of(&client.path("after")), 0o750);
}

#[test]
fn chown_uploads_gives_anonymous_uploads_away() {
    let Some((uid, _)) = IdNames::system().user("daemon") else {
        eprintln!("skipped: this system has no daemon user");
        return;
    };
    let mut client = anonymous_session(
        "write_enable=YES\nanon_upload_enable=YES\nchown_uploads=YES\nchown_username=daemon\n\
         chown_upload_mode=0640\n",
    );
    if !client.tree.owned_by_root() {
        eprintln!("skipped: chown needs root");
        return;
    }
    let uploader_gid = fs::metadata(&client.root).unwrap().gid();
    client.upload("STOR up.txt", "data");
    let uploaded = fs::metadata(client.path("up.txt")).unwrap();
    // vsftpd gives the file's owner away and leaves its group.
    assert_eq!((uploaded.uid(), uploaded.gid()), (uid, uploader_gid));
    assert_eq!(uploaded.permissions().mode() & 0o7777, 0o640);
}

#[test]
fn ls_recurse_enable_allows_list_dash_r() {
    let mut client = anonymous_session("ls_recurse_enable=YES\n");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.file("sub/b.txt", "hello");
    let listing = client.listing("LIST -R");
    let lines = lines(&listing);
    assert_eq!(lines.len(), 6, "{listing}");
    assert_eq!(lines[0], ".:");
    assert!(
        lines[1].starts_with("-rw-r--r--") && lines[1].ends_with(" a.txt"),
        "{listing}"
    );
    assert!(
        lines[2].starts_with("drwxr-xr-x") && lines[2].ends_with(" sub"),
        "{listing}"
    );
    assert_eq!(lines[3..5], ["", "./sub:"]);
    assert!(lines[5].ends_with(" b.txt"), "{listing}");

    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.file("sub/b.txt", "hello");
    assert_eq!(listed_names(&client.listing("LIST -R")), ["a.txt", "sub"]);
}

// Data connections.

#[test]
fn transfers_need_pasv_or_port_first() {
    let mut client = alice_session("write_enable=YES\n");
    client.file("a.txt", "hello");
    for line in [
        "RETR a.txt",
        "LIST",
        "NLST",
        "MLSD",
        "STOR up.txt",
        "APPE a.txt",
        "STOU",
    ] {
        assert_eq!(client.steps(line), [USE_PORT_OR_PASV], "{line}");
    }
    // PASV asked for, but the shell has not said it listens yet.
    assert_eq!(client.steps("PASV"), ["listen passive"]);
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn pasv_reports_the_control_connections_local_address() {
    let mut client = anonymous_session("");
    assert_eq!(client.steps("PASV"), ["listen passive"]);
    assert_eq!(
        describe(&client.session.passive_listening(Some(PASV_PORT))),
        ["227 Entering Passive Mode (192,0,2,1,195,80).\r\n"]
    );
    assert_eq!(client.steps("P@SW"), ["listen passive"]);
}

#[test]
fn pasv_reports_pasv_address() {
    let mut client = anonymous_session("pasv_address=203.0.113.5\n");
    assert_eq!(
        client.passive(),
        "227 Entering Passive Mode (203,0,113,5,195,80).\r\n"
    );
}

#[test]
fn pasv_on_an_ipv6_control_connection() {
    let v6_peer = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10), 40000));
    let v6_local = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 21));
    let mut client = virtual_server_at(Tree::new(), "", v6_peer, v6_local);
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(
        client.passive(),
        "227 Entering Passive Mode (0,0,0,0,195,80).\r\n"
    );
    assert_eq!(client.steps("EPSV 2"), ["listen passive"]);

    let mapped_peer = SocketAddr::from((CLIENT_IP.to_ipv6_mapped(), 40000));
    let mapped_local = SocketAddr::from((SERVER_IP.to_ipv6_mapped(), 21));
    let mut client = virtual_server_at(Tree::new(), "", mapped_peer, mapped_local);
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(
        client.passive(),
        "227 Entering Passive Mode (192,0,2,1,195,80).\r\n"
    );
    assert_eq!(
        client.send("PORT 192,0,2,10,195,80"),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
}

#[test]
fn failed_passive_listener_gets_425() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    assert_eq!(client.steps("PASV"), ["listen passive"]);
    assert_eq!(
        describe(&client.session.passive_listening(None)),
        ["425 Could not listen for a passive data connection.\r\n"]
    );
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn shell_reports_without_a_request_are_ignored() {
    let mut client = anonymous_session("");
    assert!(client.session.passive_listening(Some(PASV_PORT)).is_empty());
    assert!(client
        .session
        .transfer_finished(TransferOutcome::Complete { bytes: 0 }, &NoFilesystem)
        .is_empty());
}

#[test]
fn epsv_reports_the_port_only() {
    let mut client = anonymous_session("");
    assert_eq!(client.steps("EPSV"), ["listen passive"]);
    assert_eq!(
        describe(&client.session.passive_listening(Some(PASV_PORT))),
        ["229 Entering Extended Passive Mode (|||50000|)\r\n"]
    );
    assert_eq!(client.steps("EPSV 1"), ["listen passive"]);
    assert_eq!(client.steps("EPSV 2"), ["522 Bad network protocol.\r\n"]);
    assert_eq!(client.steps("EPSV 3"), ["522 Bad network protocol.\r\n"]);
}

#[test]
fn epsv_all_refuses_pasv_and_port_afterwards() {
    let mut client = anonymous_session("");
    assert_eq!(client.send("EPSV ALL"), "200 EPSV ALL ok.\r\n");
    assert_eq!(client.steps("PASV"), [NO_PERMISSION]);
    assert_eq!(client.steps("PORT 192,0,2,10,195,80"), [NO_PERMISSION]);
    assert_eq!(client.steps("EPSV"), ["listen passive"]);
    assert_eq!(
        client.send("EPRT |1|192.0.2.10|50000|"),
        "200 EPRT command successful. Consider using EPSV.\r\n"
    );
}

#[test]
fn pasv_enable_no_and_port_enable_no() {
    let mut client = anonymous_session("pasv_enable=NO\n");
    assert_eq!(client.steps("PASV"), [NO_PERMISSION]);
    assert_eq!(client.steps("EPSV"), [NO_PERMISSION]);
    let mut client = anonymous_session("port_enable=NO\n");
    assert_eq!(client.steps("PORT 192,0,2,10,195,80"), [NO_PERMISSION]);
    assert_eq!(client.steps("PORT garbage"), [NO_PERMISSION]);
    assert_eq!(client.steps("EPRT |1|192.0.2.10|50000|"), [NO_PERMISSION]);
}

#[test]
fn port_to_the_client_is_accepted_and_used_by_the_next_transfer() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    assert_eq!(
        client.send("PORT 192,0,2,10,195,80"),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(
        transfer.channel,
        DataChannel::Active(SocketAddr::from((CLIENT_IP, PASV_PORT)))
    );
    assert_eq!(
        client.finish(TransferOutcome::Complete { bytes: 5 }),
        [TRANSFER_COMPLETE]
    );
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn port_to_another_host_or_a_privileged_port_is_refused() {
    let mut client = anonymous_session("");
    for line in [
        "PORT 198,51,100,7,195,80",
        "PORT 192,0,2,10,0,21",
        "PORT 192,0,2,10,3,255",
        "PORT 1,2,3",
        "PORT 192,0,2,10,256,1",
    ] {
        assert_eq!(
            client.steps(line),
            ["500 Illegal PORT command.\r\n"],
            "{line}"
        );
    }
    assert_eq!(
        client.send("PORT 192,0,2,10,4,0"),
        "200 PORT command successful. Consider using PASV.\r\n",
        "1024 is not privileged"
    );
}

#[test]
fn refused_port_cancels_an_earlier_pasv() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.passive();
    assert_eq!(
        client.send("PORT 198,51,100,7,195,80"),
        "500 Illegal PORT command.\r\n"
    );
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
    client.passive();
    assert_eq!(client.send("PORT 1,2"), "500 Illegal PORT command.\r\n");
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn port_promiscuous_allows_any_address_and_port() {
    let mut client = anonymous_session("port_promiscuous=YES\n");
    client.file("a.txt", "hello");
    assert_eq!(
        client.send("PORT 198,51,100,7,0,21"),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(
        transfer.channel,
        DataChannel::Active(SocketAddr::from((Ipv4Addr::new(198, 51, 100, 7), 21)))
    );
}

#[test]
fn eprt_to_the_client_is_accepted() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    assert_eq!(
        client.send("EPRT |1|192.0.2.10|50000|"),
        "200 EPRT command successful. Consider using EPSV.\r\n"
    );
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(
        transfer.channel,
        DataChannel::Active(SocketAddr::from((CLIENT_IP, PASV_PORT)))
    );
    assert_eq!(client.send("EPRT x"), "500 Bad EPRT command.\r\n");
    assert_eq!(
        client.send("EPRT |3|192.0.2.10|50000|"),
        "500 Bad EPRT protocol.\r\n"
    );
}

#[test]
fn eprt_to_another_host_or_a_privileged_port_is_illegal_eprt() {
    let mut client = anonymous_session("");
    assert_eq!(
        client.send("EPRT |1|198.51.100.7|50000|"),
        "500 Illegal EPRT command.\r\n"
    );
    assert_eq!(
        client.send("EPRT |1|192.0.2.10|21|"),
        "500 Illegal EPRT command.\r\n"
    );
}

#[test]
fn eprt_with_ipv6_on_an_ipv4_connection_is_a_bad_protocol() {
    let mut client = anonymous_session("port_promiscuous=YES\n");
    assert_eq!(
        client.send("EPRT |2|2001:db8::10|50000|"),
        "500 Bad EPRT protocol.\r\n"
    );
}

#[test]
fn retr_sends_the_file_through_the_passive_listener() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.file("sub/b.txt", "hi there");
    client.passive();
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(transfer.channel, DataChannel::Passive { check_peer: true });
    assert_eq!(
        wire(&transfer.opening),
        "150 Opening BINARY mode data connection for a.txt (5 bytes).\r\n"
    );
    assert_eq!(client.sent_bytes(transfer.job), b"hello");
    assert_eq!(
        client.finish(TransferOutcome::Complete { bytes: 5 }),
        [TRANSFER_COMPLETE]
    );
    // The opening names the file as the client did.
    let (opening, contents) = client.download("RETR sub/b.txt");
    assert_eq!(
        opening,
        "150 Opening BINARY mode data connection for sub/b.txt (8 bytes).\r\n"
    );
    assert_eq!(contents, "hi there");
    client.send("TYPE A");
    let (opening, _) = client.download("RETR a.txt");
    assert_eq!(
        opening, "150 Opening BINARY mode data connection for a.txt (5 bytes).\r\n",
        "ASCII only with ascii_download_enable, as in vsftpd"
    );
}

#[test]
fn retr_of_a_directory_or_missing_file_fails_to_open() {
    let mut client = anonymous_session("");
    client.dir("sub");
    client.passive();
    assert_eq!(client.send("RETR sub"), FAILED_TO_OPEN);
    assert_eq!(client.send("RETR missing"), FAILED_TO_OPEN);
    assert_eq!(client.send("RETR"), FAILED_TO_OPEN);
}

#[test]
fn ascii_download_enable_makes_type_a_downloads_ascii() {
    let mut client = anonymous_session("ascii_download_enable=YES\n");
    client.file("a.txt", "hello");
    client.send("TYPE A");
    let (opening, _) = client.download("RETR a.txt");
    assert_eq!(
        opening,
        "150 Opening ASCII mode data connection for a.txt (5 bytes).\r\n"
    );
}

#[test]
fn ascii_resume_is_refused() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.send("TYPE A");
    client.send("REST 3");
    client.passive();
    assert_eq!(
        client.send("RETR a.txt"),
        "550 No support for resume of ASCII transfer.\r\n"
    );
}

#[test]
fn list_and_nlst_send_the_listing() {
    let mut client = anonymous_session("hide_ids=YES\n");
    client.file("a.txt", "hello");
    client.file(".dotfile", "x");
    client.dir("sub");
    client.file("sub/b.txt", "hi");
    let listing = client.listing("LIST");
    let lines = lines(&listing);
    assert_eq!(lines.len(), 2, "{listing}");
    assert_eq!(
        lines[0],
        "-rw-r--r--    1 ftp      ftp             5 Jul 14  2020 a.txt"
    );
    assert!(lines[1].starts_with("drwxr-xr-x "), "{listing}");
    assert!(lines[1].contains(" ftp      ftp      "), "{listing}");
    assert!(lines[1].ends_with(" sub"), "{listing}");
    assert_eq!(client.listing("NLST"), "a.txt\r\nsub\r\n");
    assert_eq!(client.listing("NLST sub"), "sub/b.txt\r\n");
    assert_eq!(client.listing("NLST *.txt"), "a.txt\r\n");
    assert_eq!(listed_names(&client.listing("LIST sub")), ["b.txt"]);
    assert!(client.listing("LIST -a").contains(" .dotfile\r\n"));
    assert!(client.listing("MLSD").contains("type=file;size=5;"));
}

#[test]
fn stor_receives_into_the_named_file() {
    let mut client = alice_session("write_enable=YES\n");
    client.upload("STOR up.txt", "uploaded bytes");
    assert_eq!(
        fs::read_to_string(client.path("up.txt")).unwrap(),
        "uploaded bytes"
    );
    client.dir("sub");
    assert_eq!(client.send("CWD sub"), DIRECTORY_CHANGED);
    client.upload("STOR nested.txt", "nested");
    assert_eq!(
        fs::read_to_string(client.path("sub/nested.txt")).unwrap(),
        "nested"
    );
    client.passive();
    assert_eq!(client.send("STOR /"), "553 Could not create file.\r\n");
    assert_eq!(
        client.send("STOR missing/x"),
        "553 Could not create file.\r\n"
    );
}

#[test]
fn passive_transfers_check_the_peer_unless_pasv_promiscuous() {
    let mut client = anonymous_session("pasv_promiscuous=YES\n");
    client.passive();
    let transfer = client.transfer("LIST");
    assert_eq!(transfer.channel, DataChannel::Passive { check_peer: false });
    let mut client = anonymous_session("");
    client.passive();
    let transfer = client.transfer("LIST");
    assert_eq!(transfer.channel, DataChannel::Passive { check_peer: true });
}

#[test]
fn each_transfer_needs_a_new_pasv() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.download("RETR a.txt");
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
    assert_eq!(client.steps("LIST"), [USE_PORT_OR_PASV]);
    client.passive();
    client.transfer("LIST");
    client.finish(TransferOutcome::NoConnection);
    assert_eq!(
        client.steps("LIST"),
        [USE_PORT_OR_PASV],
        "even after a failed transfer"
    );
}

#[test]
fn transfer_outcomes_get_vsftpds_replies() {
    use TransferOutcome::*;
    let cases: [(&str, TransferOutcome, &[&str]); 14] = [
        ("RETR a.txt", Complete { bytes: 5 }, &[TRANSFER_COMPLETE]),
        (
            "RETR a.txt",
            NoConnection,
            &["425 Failed to establish connection.\r\n"],
        ),
        (
            "RETR a.txt",
            NetworkFailed { bytes: 1 },
            &["426 Failure writing network stream.\r\n"],
        ),
        (
            "RETR a.txt",
            FileFailed { bytes: 1 },
            &["451 Failure reading local file.\r\n"],
        ),
        (
            "RETR a.txt",
            TimedOut { bytes: 1 },
            &["421 Data timeout. Reconnect. Sorry.\r\n", "close"],
        ),
        ("STOR up.txt", Complete { bytes: 5 }, &[TRANSFER_COMPLETE]),
        (
            "STOR up.txt",
            NoConnection,
            &["425 Failed to establish connection.\r\n"],
        ),
        (
            "STOR up.txt",
            NetworkFailed { bytes: 1 },
            &["426 Failure reading network stream.\r\n"],
        ),
        (
            "STOR up.txt",
            FileFailed { bytes: 1 },
            &["451 Failure writing to local file.\r\n"],
        ),
        (
            "STOR up.txt",
            TimedOut { bytes: 1 },
            &["421 Data timeout. Reconnect. Sorry.\r\n", "close"],
        ),
        ("LIST", Complete { bytes: 5 }, &[DIRECTORY_SEND_OK]),
        (
            "NLST",
            NoConnection,
            &["425 Failed to establish connection.\r\n"],
        ),
        (
            "LIST",
            NetworkFailed { bytes: 1 },
            &["426 Failure writing network stream.\r\n"],
        ),
        (
            "LIST",
            TimedOut { bytes: 1 },
            &["421 Data timeout. Reconnect. Sorry.\r\n", "close"],
        ),
    ];
    for (line, outcome, expected) in cases {
        let mut client = alice_session("write_enable=YES\n");
        client.file("a.txt", "hello");
        client.passive();
        client.transfer(line);
        assert_eq!(client.finish(outcome), expected, "{line} {outcome:?}");
        assert!(client.finish(outcome).is_empty(), "reported once");
    }
}

// The jail.

#[test]
fn dotdot_and_absolute_paths_cannot_leave_the_root() {
    let mut client = anonymous_session("");
    client.passive();
    for line in [
        "RETR ../../etc/passwd",
        "RETR /etc/passwd",
        "RETR ../outside/secret.txt",
        "RETR ../../../../../../../../etc/passwd",
    ] {
        assert_eq!(client.send(line), FAILED_TO_OPEN, "{line}");
    }
    let outside = client.tree.path("outside/secret.txt");
    assert_eq!(
        client.send(&format!("RETR {}", outside.display())),
        FAILED_TO_OPEN
    );
    assert_eq!(client.send("CWD ../outside"), CHANGE_DIRECTORY_FAILED);
    assert_eq!(
        client.send("SIZE ../outside/secret.txt"),
        "550 Could not get file size.\r\n"
    );
}

#[test]
fn symlinks_cannot_point_out_of_the_root() {
    let mut client = anonymous_session("");
    let outside = client.tree.path("outside");
    symlink(outside.join("secret.txt"), client.path("absolute_link")).unwrap();
    symlink("../outside/secret.txt", client.path("relative_link")).unwrap();
    symlink("../../../../../etc/passwd", client.path("passwd_link")).unwrap();
    symlink(&outside, client.path("outside_dir")).unwrap();
    client.passive();
    for name in [
        "absolute_link",
        "relative_link",
        "passwd_link",
        "outside_dir/secret.txt",
    ] {
        assert_eq!(
            client.send(&format!("RETR {name}")),
            FAILED_TO_OPEN,
            "{name}"
        );
        assert_eq!(
            client.send(&format!("SIZE {name}")),
            "550 Could not get file size.\r\n",
            "{name}"
        );
    }
    assert_eq!(client.send("CWD outside_dir"), CHANGE_DIRECTORY_FAILED);
}

#[test]
fn cwd_through_a_symlink_stays_inside_the_root() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    symlink("../..", client.path("up")).unwrap();
    assert_eq!(client.send("CWD up"), DIRECTORY_CHANGED);
    assert_eq!(
        client.send("PWD"),
        "257 \"/up\" is the current directory\r\n"
    );
    // "up" is the root itself: its listing is the root's, never the host's.
    let names = client.listing("NLST");
    assert_eq!(names, "a.txt\r\nup\r\n");
    client.passive();
    assert_eq!(client.send("RETR secret.txt"), FAILED_TO_OPEN);
    assert_eq!(client.send("RETR ../outside/secret.txt"), FAILED_TO_OPEN);
}
