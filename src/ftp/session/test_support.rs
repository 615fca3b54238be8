//! What the session's tests share: a configured session, a tree of files on disk, and readings of the actions it returns.

pub(crate) use crate::test_dirs::TempDir;
pub(crate) use std::fs;
pub(crate) use std::io::{Read, Seek, SeekFrom, Write};
pub(crate) use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
pub(crate) use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::{Duration, SystemTime};

pub(crate) use crate::config::vsftpd;
pub(crate) use crate::ftp::action::{
    Action, DataChannel, DataJob, DataTlsFailure, LockRequest, Transfer, TransferOutcome,
};
pub(crate) use crate::ftp::context::SessionContext;
pub(crate) use crate::ftp::filesystem::SessionFs;
pub(crate) use crate::ftp::replies::Reply;
pub(crate) use crate::ftp::session::Session;
pub(crate) use crate::ftp::telnet::LineError;
pub(crate) use crate::ftp::users::VirtualUsers;
pub(crate) use crate::ntp::packet::UnixTime;
pub(crate) use crate::shard::ftp::auth;
pub(crate) use crate::shard::ftp::id_names::IdNames;
pub(crate) use crate::shard::ftp::jail::Jail;
pub(crate) use crate::shard::ftp::session_fs::{Credentials, NoFilesystem, SessionFilesystem};
pub(crate) use crate::sys::file_lock::FileLock;

pub(crate) const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub(crate) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The port the pretend shell opens for PASV/EPSV: 195 * 256 + 80.
pub(crate) const PASV_PORT: u16 = 50000;
/// 2020-07-14 12:38:00 UTC: old enough for the `Mon DD  YYYY` form of `ls -l` dates.
pub(crate) const OLD_MTIME: u64 = 1_594_730_280;
pub(crate) const ALICE_PASSWORD: &str = "wonderland";
pub(crate) const BOB_PASSWORD: &str = "builder";

pub(crate) const PLEASE_LOGIN: &str = "530 Please login with USER and PASS.\r\n";
pub(crate) const SPECIFY_PASSWORD: &str = "331 Please specify the password.\r\n";
pub(crate) const LOGIN_SUCCESSFUL: &str = "230 Login successful.\r\n";
pub(crate) const LOGIN_INCORRECT: &str = "530 Login incorrect.\r\n";
pub(crate) const NO_PERMISSION: &str = "550 Permission denied.\r\n";
pub(crate) const USE_PORT_OR_PASV: &str = "425 Use PORT or PASV first.\r\n";
pub(crate) const FAILED_TO_OPEN: &str = "550 Failed to open file.\r\n";
pub(crate) const DIRECTORY_CHANGED: &str = "250 Directory successfully changed.\r\n";
pub(crate) const CHANGE_DIRECTORY_FAILED: &str = "550 Failed to change directory.\r\n";
pub(crate) const LISTING_OPENING: &str = "150 Here comes the directory listing.\r\n";
pub(crate) const DIRECTORY_SEND_OK: &str = "226 Directory send OK.\r\n";
pub(crate) const OK_TO_SEND: &str = "150 Ok to send data.\r\n";
pub(crate) const TRANSFER_COMPLETE: &str = "226 Transfer complete.\r\n";
pub(crate) const FEATURES: &str = "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n \
                        MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\r\n PASV\r\n \
                        REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n";

pub(crate) fn client_address() -> SocketAddr {
    SocketAddr::from((CLIENT_IP, 40000))
}

pub(crate) fn server_address() -> SocketAddr {
    SocketAddr::from((SERVER_IP, 21))
}

/// A reply as the control connection carries it.
pub(crate) fn wire(reply: &Reply) -> String {
    let mut out = Vec::new();
    reply.encode(&mut out);
    String::from_utf8(out).expect("replies in these tests are ASCII")
}

/// Each action as one string: replies as sent, the others named. Log records are left out:
/// they are the transfer log's business, not the protocol's.
pub(crate) fn describe(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Reply(reply) => Some(wire(reply)),
            Action::Pause(delay) => Some(format!("pause {}s", delay.as_secs())),
            Action::Close => Some("close".to_owned()),
            Action::StartTls => Some("start tls".to_owned()),
            Action::ListenPassive => Some("listen passive".to_owned()),
            Action::Lock(request) => Some(format!("lock {:?}", request.kind)),
            Action::Transfer(transfer) => Some(format!(
                "transfer {:?}{} {}",
                transfer.channel,
                if transfer.private { " over TLS" } else { "" },
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
pub(crate) fn reply_text(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Reply(reply) => Some(wire(reply)),
            _ => None,
        })
        .collect()
}

/// The wall-clock time the pretend shell gives the session.
pub(crate) fn now() -> UnixTime {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    UnixTime {
        secs: since.as_secs() as i64,
        nanos: since.subsec_nanos(),
    }
}

/// An open file handed over by the session, as a `File` the test can use.
pub(crate) fn file_of(handle: crate::ftp::filesystem::FileHandle) -> fs::File {
    fs::File::from(handle)
}

/// The lines of a listing, without their CRLFs.
pub(crate) fn lines(listing: &str) -> Vec<&str> {
    listing
        .strip_suffix("\r\n")
        .unwrap_or(listing)
        .split("\r\n")
        .collect()
}

/// The last field of each `ls -l` line: the names listed.
pub(crate) fn listed_names(listing: &str) -> Vec<&str> {
    lines(listing)
        .into_iter()
        .filter_map(|line| line.rsplit(' ').next())
        .collect()
}

pub(crate) fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A temporary directory, removed on drop: `root/` is the anonymous root, `home/<user>/` the
/// virtual users' roots, `outside/` is in no root.
pub(crate) struct Tree {
    pub(crate) base: TempDir,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        let base = TempDir::new("session-tests");
        for dir in ["root", "home/alice", "home/bob"] {
            fs::create_dir_all(base.join(dir)).unwrap();
        }
        base.write("outside/secret.txt", "outside the jail\n");
        base.write("ftpusers", "root\n");
        Tree { base }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.base.join(relative)
    }

    /// A list file (user_list, ftpusers, banned e-mails...) with one name per line.
    pub(crate) fn name_list(&self, relative: &str, names: &[&str]) -> PathBuf {
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
    pub(crate) fn base_config(&self) -> String {
        format!(
            "anon_root={}\nftpusers_file={}\n",
            self.path("root").display(),
            self.path("ftpusers").display()
        )
    }

    /// Virtual users alice and bob, each in `home/<name>`.
    pub(crate) fn virtual_users_config(&self) -> String {
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
    pub(crate) fn owned_by_root(&self) -> bool {
        fs::metadata(self.base.path()).unwrap().uid() == 0
    }
}

/// One control connection: a session, the filesystem the pretend shell gives it once logged
/// in, and the directory tree it serves.
pub(crate) struct Client {
    pub(crate) session: Session,
    pub(crate) context: Arc<SessionContext>,
    pub(crate) fs: Box<dyn SessionFs>,
    /// The root of the user this client logs in as; files are put there.
    pub(crate) root: PathBuf,
    pub(crate) tree: Tree,
}

impl Client {
    pub(crate) fn connect(
        tree: Tree,
        config_text: impl AsRef<[u8]>,
        root: &str,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Client {
        Client::connect_in_zone(tree, config_text, root, peer, local, 0)
    }

    /// [`Client::connect`] on a machine whose local time is `utc_offset` seconds east of UTC.
    pub(crate) fn connect_in_zone(
        tree: Tree,
        config_text: impl AsRef<[u8]>,
        root: &str,
        peer: SocketAddr,
        local: SocketAddr,
        utc_offset: i32,
    ) -> Client {
        let bytes = config_text.as_ref();
        let config_text = vsftpd::shown(bytes);
        let config = vsftpd::parse_str(bytes, "test")
            .unwrap_or_else(|error| panic!("{config_text}\n{error}"));
        let context = Arc::new(
            SessionContext::load_in_zone(config, utc_offset)
                .unwrap_or_else(|error| panic!("{config_text}\n{error}")),
        );
        Client {
            session: Session::new(Arc::clone(&context), peer, local, 1),
            context,
            fs: Box::new(NoFilesystem),
            root: tree.path(root),
            tree,
        }
    }

    /// The session's actions for `line`, with the login steps a shell performs (verifying,
    /// opening the root with the process's credentials) carried out and their results
    /// appended.
    pub(crate) fn actions(&mut self, line: &str) -> Vec<Action> {
        self.actions_for_bytes(line.as_bytes())
    }

    /// [`Client::actions`] for a line that need not be UTF-8 (file names are bytes).
    pub(crate) fn actions_for_bytes(&mut self, line: &[u8]) -> Vec<Action> {
        let actions = self.session.on_line(Ok(line.to_vec()), now(), &*self.fs);
        self.perform_shell_steps(actions)
    }

    pub(crate) fn perform_shell_steps(&mut self, actions: Vec<Action>) -> Vec<Action> {
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
    pub(crate) fn sent_bytes(&self, job: DataJob) -> Vec<u8> {
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

    pub(crate) fn file_locked(&mut self, request: LockRequest, locked: bool) -> Vec<Action> {
        self.session.file_locked(request.file, locked, &*self.fs)
    }

    pub(crate) fn steps(&mut self, line: &str) -> Vec<String> {
        describe(&self.actions(line))
    }

    /// The replies to `line`, as sent.
    pub(crate) fn send(&mut self, line: &str) -> String {
        reply_text(&self.actions(line))
    }

    /// USER and PASS; the reply to PASS.
    pub(crate) fn login(&mut self, user: &str, password: &str) -> String {
        assert_eq!(
            self.send(&format!("USER {user}")),
            SPECIFY_PASSWORD,
            "USER {user}"
        );
        self.send(&format!("PASS {password}"))
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// A file in this client's root, mode 0644, modified at [`OLD_MTIME`].
    pub(crate) fn file(&self, relative: &str, contents: &str) -> PathBuf {
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

    pub(crate) fn dir(&self, relative: &str) -> PathBuf {
        let path = self.path(relative);
        fs::create_dir_all(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// PASV, and the shell's report that it listens on [`PASV_PORT`].
    pub(crate) fn passive(&mut self) -> String {
        assert_eq!(self.steps("PASV"), ["listen passive"]);
        reply_text(&self.session.passive_listening(Some(PASV_PORT)))
    }

    /// The one Transfer action `line` must produce, once the shell has locked its file if
    /// it asks for that.
    pub(crate) fn transfer(&mut self, line: &str) -> Transfer {
        self.transfer_for_bytes(line.as_bytes())
    }

    /// [`Client::transfer`] for a line that need not be UTF-8.
    pub(crate) fn transfer_for_bytes(&mut self, line: &[u8]) -> Transfer {
        let mut actions = match <[Action; 1]>::try_from(self.actions_for_bytes(line)) {
            Ok([Action::Lock(request)]) => self.file_locked(request, true),
            Ok(action) => action.into(),
            Err(actions) => actions,
        };
        match (actions.pop(), actions.is_empty()) {
            (Some(Action::Transfer(transfer)), true) => *transfer,
            (last, _) => panic!(
                "{}: expected one transfer, got {actions:?} then {last:?}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    /// The lock `line` asks the shell for, on the file it opened.
    pub(crate) fn lock(&mut self, line: &str) -> LockRequest {
        let mut actions = self.actions(line);
        match (actions.pop(), actions.is_empty()) {
            (Some(Action::Lock(request)), true) => request,
            (last, _) => panic!("{line}: expected one lock, got {actions:?} then {last:?}"),
        }
    }

    pub(crate) fn finish(&mut self, outcome: TransferOutcome) -> Vec<String> {
        describe(&self.session.transfer_finished(outcome, &*self.fs))
    }

    /// PASV, `line` (LIST, NLST...), a complete transfer: the listing sent.
    pub(crate) fn listing(&mut self, line: &str) -> String {
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
    pub(crate) fn download(&mut self, line: &str) -> (String, String) {
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
    pub(crate) fn upload(&mut self, line: &str, data: &str) {
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
pub(crate) fn anonymous_server(config: impl AsRef<[u8]>) -> Client {
    let tree = Tree::new();
    let text = [tree.base_config().as_bytes(), config.as_ref()].concat();
    Client::connect(tree, &text, "root", client_address(), server_address())
}

/// An anonymous session on a machine whose local time is `utc_offset` seconds east of UTC.
pub(crate) fn anonymous_session_in_zone(config: &str, utc_offset: i32) -> Client {
    let tree = Tree::new();
    let text = format!("{}{config}", tree.base_config());
    let mut client = Client::connect_in_zone(
        tree,
        &text,
        "root",
        client_address(),
        server_address(),
        utc_offset,
    );
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_SUCCESSFUL
    );
    client
}

pub(crate) fn anonymous_session(config: &str) -> Client {
    let mut client = anonymous_server(config);
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_SUCCESSFUL
    );
    client
}

/// A server with virtual users alice and bob (and anonymous logins), not logged in yet;
/// files go to alice's root.
pub(crate) fn virtual_server(config: impl AsRef<[u8]>) -> Client {
    virtual_server_in(Tree::new(), config)
}

pub(crate) fn virtual_server_in(tree: Tree, config: impl AsRef<[u8]>) -> Client {
    virtual_server_at(tree, config, client_address(), server_address())
}

pub(crate) fn virtual_server_at(
    tree: Tree,
    config: impl AsRef<[u8]>,
    peer: SocketAddr,
    local: SocketAddr,
) -> Client {
    let text = [
        tree.base_config().as_bytes(),
        tree.virtual_users_config().as_bytes(),
        config.as_ref(),
    ]
    .concat();
    Client::connect(tree, &text, "home/alice", peer, local)
}

/// alice's session on a machine whose local time is `utc_offset` seconds east of UTC.
pub(crate) fn alice_session_in_zone(config: &str, utc_offset: i32) -> Client {
    let tree = Tree::new();
    let text = format!(
        "{}{}{config}",
        tree.base_config(),
        tree.virtual_users_config()
    );
    let mut client = Client::connect_in_zone(
        tree,
        &text,
        "home/alice",
        client_address(),
        server_address(),
        utc_offset,
    );
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    client
}

pub(crate) fn alice_session(config: impl AsRef<[u8]>) -> Client {
    let mut client = virtual_server(config);
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    client
}

/// A virtual-user server whose user_list holds bob.
pub(crate) fn server_with_user_list(config: &str) -> Client {
    let tree = Tree::new();
    let list = tree.name_list("user_list", &["bob"]);
    let config = format!(
        "userlist_enable=YES\nuserlist_file={}\n{config}",
        list.display()
    );
    virtual_server_in(tree, &config)
}

pub(crate) const ANONYMOUS_STATUS: &str =
    "211-FTP server status:\r\n     Connected to 192.0.2.10\r\n     \
                                Logged in as ftp\r\n     TYPE: ASCII\r\n     \
                                No session bandwidth limit\r\n     \
                                Session timeout in seconds is 300\r\n     \
                                Control connection is plain text\r\n     \
                                Data connections will be plain text\r\n     \
                                At session startup, client count was 1\r\n     ringd\r\n\
                                211 End of status\r\n";

/// alice with write access, a.txt, top.secret and the directory private/ in her root.
pub(crate) fn session_with_denied_files() -> Client {
    let mut client = alice_session("write_enable=YES\ndeny_file={*.secret,private}\n");
    client.file("a.txt", "hello");
    client.file("top.secret", "classified");
    client.dir("private");
    client.file("private/inside.txt", "hidden");
    client.passive();
    client
}
