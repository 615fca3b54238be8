//! Who may log in: the ftpusers and user_list name files and the virtual users file (`name:crypt-hash` lines).

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::OnceLock;

use crate::config::error::LineError;
use crate::config::source_file::{self, Expected, SourceFileError, NO_ORIGINAL_LIMIT};
use crate::output_files::replace_file;
use crate::sys::crypt;

/// The virtual users file is ringd's own: see NO_ORIGINAL_LIMIT.
const VIRTUAL_USERS_FILE: Expected = Expected::named_by("virtual_users_file", NO_ORIGINAL_LIMIT);

/// A list of user names, one per line: the ftpusers file (users never admitted, checked after
/// PASS) and vsftpd's `userlist_file` (checked right after USER).
///
/// vsftpd compares each whole line byte for byte with the user name (`str_contains_line`), and
/// PAM's pam_listfile (which reads ftpusers for vsftpd) does the same after cutting the line
/// end. ringd matches the same names, and also: lines whose first non-blank character is `#`
/// are comments (vsftpd would only match a user literally called `#root`), and spaces, tabs and
/// a CR around a name are ignored (vsftpd would never match `root ` or a CRLF file's `root\r`,
/// which is rarely what the admin meant). Names stay case-sensitive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameList {
    names: HashSet<String>,
}

impl NameList {
    /// Reads a list, which must be a regular file of at most `expected.max_bytes`. A missing
    /// file is an error here (vsftpd refuses to start without its `userlist_file`); callers
    /// that treat a missing ftpusers as empty (pam_listfile with `onerr=succeed`) check
    /// [`SourceFileError::is_not_found`].
    pub fn load(path: &Path, expected: Expected) -> Result<NameList, SourceFileError> {
        Ok(NameList::parse(&source_file::read(path, expected)?))
    }

    /// Parses a list from its bytes; lines that are not UTF-8 can match no FTP user name and
    /// are skipped.
    pub fn parse(bytes: &[u8]) -> NameList {
        let names = bytes
            .split(|&b| b == b'\n')
            .filter_map(|line| std::str::from_utf8(line).ok())
            .map(str::trim)
            .filter(|name| !name.is_empty() && !name.starts_with('#'))
            .map(str::to_owned)
            .collect();
        NameList { names }
    }

    pub fn empty() -> NameList {
        NameList::default()
    }

    pub fn contains(&self, user: &str) -> bool {
        self.names.contains(user)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Why a users file cannot be used or changed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error(transparent)]
    File(#[from] SourceFileError),
    /// A line that is not `name:hash`, or a user with an empty password; `line` counts from 1.
    #[error(transparent)]
    Syntax(LineError),
    #[error("invalid user name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid password: {0}")]
    InvalidPassword(&'static str),
    #[error("cannot hash the password with crypt(3): {0}")]
    Hash(#[source] io::Error),
}

/// One line of a users file, kept so that `save` writes comments and order back.
#[derive(Clone)]
enum Line {
    User { name: String, hash: String },
    Other(String),
}

/// The virtual users file (ringd's `virtual_users_file=`): one `name:hash` per line, the hash
/// in crypt(3) format as `mkpasswd` prints it — yescrypt (`$y$`), sha512-crypt (`$6$`),
/// sha256-crypt (`$5$`), bcrypt (`$2b$`) and whatever else the system's libxcrypt verifies.
/// Blank lines and `#` comments are allowed; a hash starting with `!` or `*` locks the user.
///
/// Verification runs crypt(3) (yescrypt's default cost takes tens of milliseconds and a few
/// MiB: call it off the I/O threads), then compares in constant time; an unknown or locked
/// user costs the same hashing, so timing does not tell which names exist.
#[derive(Clone, Default)]
pub struct VirtualUsers {
    lines: Vec<Line>,
    index: HashMap<String, usize>,
}

impl std::fmt::Debug for VirtualUsers {
    /// Names only: hashes stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.index.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("VirtualUsers")
            .field("users", &names)
            .finish()
    }
}

impl VirtualUsers {
    /// Reads and checks a users file; errors name the file and line.
    pub fn load(path: &Path) -> Result<VirtualUsers, UsersError> {
        let bytes = source_file::read(path, VIRTUAL_USERS_FILE)?;
        VirtualUsers::parse(&bytes, path)
    }

    /// An empty file's worth of users (for `ringd ftp-passwd` on a file that does not exist
    /// yet); the same as `VirtualUsers::default()`.
    pub fn empty() -> VirtualUsers {
        VirtualUsers::default()
    }

    /// Parses the contents of a users file; `path` is only used in error messages. Names that
    /// cannot be a path component and empty passwords are refused; finding the latter takes a
    /// crypt(3) of the empty password per user (see [`first_empty_password`]).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<VirtualUsers, UsersError> {
        let mut users = VirtualUsers::empty();
        let mut text: &[u8] = bytes;
        if text.ends_with(b"\n") {
            text = &text[..text.len() - 1];
        }
        if text.is_empty() {
            return Ok(users);
        }
        for (number, raw) in text.split(|&b| b == b'\n').enumerate() {
            let number = number + 1;
            let syntax = |message: String| {
                UsersError::Syntax(LineError {
                    file: path.to_owned(),
                    line: number,
                    message,
                })
            };
            let line = std::str::from_utf8(raw)
                .map_err(|_| syntax("not UTF-8".to_owned()))?
                .trim_end_matches('\r');
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                users.lines.push(Line::Other(line.to_owned()));
                continue;
            }
            let Some((name, hash)) = trimmed.split_once(':') else {
                return Err(syntax("expected `name:hash`".to_owned()));
            };
            validate_name(name).map_err(|e| syntax(e.to_string()))?;
            check_hash(hash).map_err(syntax)?;
            if let Some(&previous) = users.index.get(name) {
                let first = previous + 1;
                return Err(syntax(format!(
                    "user {name:?} is already defined (line {first})"
                )));
            }
            users.index.insert(name.to_owned(), users.lines.len());
            users.lines.push(Line::User {
                name: name.to_owned(),
                hash: hash.to_owned(),
            });
        }
        if let Some((at, name)) = first_empty_password(&users.lines) {
            return Err(UsersError::Syntax(LineError {
                file: path.to_owned(),
                line: at + 1,
                message: format!(
                    "user {name:?} has an empty password; set one with `ringd ftp-passwd {} \
                     {name}`, or lock the user with `!` before the hash",
                    path.display()
                ),
            }));
        }
        Ok(users)
    }

    /// Whether `name` can be stored as a user, with the reason as an error if not.
    pub fn check_name(name: &str) -> Result<(), UsersError> {
        validate_name(name)
    }

    /// Whether `password` is `user`'s. False for unknown and locked users, and for passwords
    /// crypt(3) cannot take (a NUL byte, 512 bytes or more).
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self.hash(user) {
            // An empty password never logs in, whatever the file holds; it costs the same as
            // any other refusal (the decoy hash below).
            Some(hash) if !is_locked(hash) && !password.is_empty() => {
                match crypt::crypt(password.as_bytes(), hash) {
                    Ok(computed) => constant_time_eq(computed.as_bytes(), hash.as_bytes()),
                    Err(_) => false,
                }
            }
            _ => {
                // Spend what a real check costs, so the reply time does not reveal the name.
                let decoy = self
                    .lines
                    .iter()
                    .find_map(|l| match l {
                        Line::User { hash, .. } if !is_locked(hash) => Some(hash.as_str()),
                        _ => None,
                    })
                    .unwrap_or_else(|| decoy_hash());
                let _ = crypt::crypt(password.as_bytes(), decoy);
                false
            }
        }
    }

    pub fn contains(&self, user: &str) -> bool {
        self.index.contains_key(user)
    }

    /// The user names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|l| match l {
            Line::User { name, .. } => Some(name.as_str()),
            Line::Other(_) => None,
        })
    }

    /// Adds `user` or changes their password. The new hash is yescrypt when the system's
    /// crypt(3) has it, else sha512-crypt, with a salt from getrandom(2).
    pub fn set(&mut self, user: &str, password: &str) -> Result<(), UsersError> {
        validate_name(user)?;
        if password.is_empty() {
            return Err(UsersError::InvalidPassword(
                "empty; every virtual user needs a password",
            ));
        }
        if password.contains('\0') {
            return Err(UsersError::InvalidPassword("contains a NUL byte"));
        }
        if password.contains(['\n', '\r']) {
            return Err(UsersError::InvalidPassword("contains a line break"));
        }
        if password.len() >= crypt::CRYPT_MAX_PASSPHRASE_SIZE {
            return Err(UsersError::InvalidPassword("512 bytes or longer"));
        }
        let hash = new_hash(password).map_err(UsersError::Hash)?;
        match self.index.get(user) {
            Some(&at) => {
                self.lines[at] = Line::User {
                    name: user.to_owned(),
                    hash,
                }
            }
            None => {
                self.index.insert(user.to_owned(), self.lines.len());
                self.lines.push(Line::User {
                    name: user.to_owned(),
                    hash,
                });
            }
        }
        Ok(())
    }

    /// Writes the file atomically (mode 0600), keeping comments and order. A symlink at
    /// `path` is replaced by the file, not followed.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        replace_file(path, self.render().as_bytes(), 0o600)
    }

    fn hash(&self, user: &str) -> Option<&str> {
        match self.lines.get(*self.index.get(user)?)? {
            Line::User { hash, .. } => Some(hash),
            Line::Other(_) => None,
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::User { name, hash } => {
                    out.push_str(name);
                    out.push(':');
                    out.push_str(hash);
                }
                Line::Other(text) => out.push_str(text),
            }
            out.push('\n');
        }
        out
    }
}

/// A user name ringd can store: what a USER command can carry and a `name:hash` line can hold.
fn validate_name(name: &str) -> Result<(), UsersError> {
    let invalid = |reason| {
        Err(UsersError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("empty");
    }
    if name.contains(':') {
        return invalid("contains ':'");
    }
    if name.starts_with('#') {
        return invalid("starts with '#'");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("contains white space or a control character");
    }
    if name.len() > 255 {
        return invalid("longer than 255 bytes");
    }
    // `local_root=/srv/$USER` with `user_sub_token=$USER` makes the name a path component:
    // `../outside` would give a root outside /srv.
    if name.contains('/') {
        return invalid("contains '/'; a user name becomes a directory name with user_sub_token");
    }
    if name == "." || name == ".." {
        return invalid("is `.` or `..`; a user name becomes a directory name with user_sub_token");
    }
    Ok(())
}

/// The first user (line index and name) whose hash is of the empty password. Only hashing the
/// empty password with each user's setting can tell, and that costs what a login does
/// (yescrypt at its default cost: tens of milliseconds), so the users are shared out among
/// the CPUs. Locked users and hashes crypt(3) cannot compute are skipped: they never verify.
fn first_empty_password(lines: &[Line]) -> Option<(usize, &str)> {
    let users: Vec<(usize, &str, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(at, line)| match line {
            Line::User { name, hash } if !is_locked(hash) => {
                Some((at, name.as_str(), hash.as_str()))
            }
            _ => None,
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = users.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = users
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().find(|(_, _, hash)| {
                        crypt::crypt(b"", hash).is_ok_and(|computed| computed == *hash)
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|worker| worker.join().expect("crypt(3) does not panic"))
            .map(|&(at, name, _)| (at, name))
            .min()
    })
}

/// Accepts what crypt(3) may verify: `$id$...` hashes, locked ones (`!`/`*` prefix), and the
/// traditional 13-character DES form. Anything else is an error message.
fn check_hash(hash: &str) -> Result<(), String> {
    const CRYPT64: &str = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if hash.is_empty() {
        return Err("empty password hash".to_owned());
    }
    if hash.contains(':') {
        return Err(
            "expected `name:hash`, found more `:` fields (from /etc/shadow, copy only the first two)"
                .to_owned(),
        );
    }
    if hash.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("white space in the password hash".to_owned());
    }
    let des = hash.len() == 13 && hash.chars().all(|c| CRYPT64.contains(c));
    if hash.starts_with('$') || is_locked(hash) || des {
        Ok(())
    } else {
        Err(format!(
            "{hash:?} is not a crypt(3) hash (make one with `mkpasswd -m yescrypt` or `ringd ftp-passwd`)"
        ))
    }
}

fn is_locked(hash: &str) -> bool {
    hash.starts_with(['!', '*'])
}

/// A yescrypt hash of a random password made once per process, checked against when there is
/// no real hash to spend the time on.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 24];
        let _ = crypt::fill_random(&mut random);
        let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        new_hash(&password).unwrap_or_default()
    })
}

/// A new crypt(3) hash of `password`: yescrypt if available, else sha512-crypt.
fn new_hash(password: &str) -> io::Result<String> {
    let mut random = [0u8; 16];
    crypt::fill_random(&mut random)?;
    let setting = crypt::crypt_gensalt("$y$", 0, &random)
        .or_else(|_| crypt::crypt_gensalt("$6$", 0, &random))?;
    crypt::crypt(password.as_bytes(), &setting)
}

/// Equality whose time depends on the lengths only, never on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/ftp")
            .join(name)
    }

    fn syntax_line(err: UsersError) -> (usize, String) {
        match err {
            UsersError::Syntax(LineError { line, message, .. }) => (line, message),
            other => panic!("not a syntax error: {other}"),
        }
    }

    #[test]
    fn seed_user_list_and_ftpusers() {
        // The seed's table: user01 in ftpusers, user02 in user_list, root commented out in both.
        let expected = Expected::named_by("userlist_file", 100_000);
        let user_list = NameList::load(&data("user_list"), expected).unwrap();
        let ftpusers = NameList::load(&data("ftpusers"), expected).unwrap();
        assert!(user_list.contains("user02"));
        assert!(!user_list.contains("user01"));
        assert!(ftpusers.contains("user01"));
        assert!(!ftpusers.contains("user02"));
        for list in [&user_list, &ftpusers] {
            assert!(!list.contains("root"));
            assert!(!list.contains("#root"));
            assert!(list.contains("nobody"));
            assert!(list.contains("bin"));
            assert!(!list.contains("BIN"));
            assert!(!list.contains(""));
            assert!(!list.contains("# vsftpd userlist"));
        }
        assert_eq!(user_list.len(), 14);
    }

    #[test]
    fn name_list_lines() {
        let list = NameList::parse(
            b"alice\r\n  bob \n\n\t# carol\n#dave\nerin # not a comment\n\xff\xfe\nfrank",
        );
        assert!(list.contains("alice"));
        assert!(list.contains("bob"));
        assert!(list.contains("frank"));
        assert!(!list.contains("carol"));
        assert!(!list.contains("dave"));
        assert!(!list.contains("erin"));
        assert!(list.contains("erin # not a comment"));
        assert_eq!(list.len(), 4);
        assert!(NameList::empty().is_empty());
        assert!(!NameList::empty().contains("root"));
        let expected = Expected::named_by("userlist_file", 100_000);
        let err = NameList::load(Path::new("/nonexistent/user_list"), expected).unwrap_err();
        assert!(err.is_not_found());
        let err = NameList::load(Path::new("/dev/zero"), expected).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero is a character device; userlist_file must name a regular file of at most \
             100000 bytes"
        );
    }

    #[test]
    fn mkpasswd_hashes_verify() {
        let users = VirtualUsers::load(&data("virtual_users")).unwrap();
        for (user, password) in [
            ("alice", "alice pw"), // yescrypt
            ("bob", "bob pw"),     // sha512-crypt
            ("carol", "carol pw"), // sha256-crypt
            ("dave", "dave pw"),   // bcrypt
        ] {
            assert!(users.contains(user));
            assert!(users.verify(user, password), "{user}");
            assert!(!users.verify(user, "wrong"), "{user}");
            assert!(!users.verify(user, ""), "{user}");
            assert!(!users.verify(user, &password.to_uppercase()), "{user}");
        }
        assert!(!users.verify("alice", "bob pw"));
        // Locked: the right password does not help.
        assert!(users.contains("eve"));
        assert!(!users.verify("eve", "bob pw"));
        assert!(!users.contains("mallory"));
        assert!(!users.verify("mallory", "alice pw"));
        assert!(!users.verify("alice", "alice pw\0"));
        assert!(!users.verify("alice", &"x".repeat(600)));
        assert_eq!(
            users.names().collect::<Vec<_>>(),
            ["alice", "bob", "carol", "dave", "eve"]
        );
        let debug = format!("{users:?}");
        assert!(debug.contains("alice") && !debug.contains('$'), "{debug}");
    }

    #[test]
    fn parse_errors_name_the_line() {
        let p = Path::new("users");
        let (line, msg) =
            syntax_line(VirtualUsers::parse(b"# c\nalice:$6$x$y\nbroken line\n", p).unwrap_err());
        assert_eq!(line, 3);
        assert!(msg.contains("name:hash"), "{msg}");
        let (line, msg) =
            syntax_line(VirtualUsers::parse(b"a:$6$x$y\nb:$5$x$y\na:$6$z$w\n", p).unwrap_err());
        assert_eq!(line, 3);
        assert!(msg.contains("already defined (line 1)"), "{msg}");
        let (line, msg) = syntax_line(VirtualUsers::parse(b":$6$x$y\n", p).unwrap_err());
        assert_eq!((line, msg.contains("empty")), (1, true));
        let (_, msg) = syntax_line(VirtualUsers::parse(b"a:\n", p).unwrap_err());
        assert!(msg.contains("empty password hash"), "{msg}");
        let (_, msg) = syntax_line(VirtualUsers::parse(b"a:secret\n", p).unwrap_err());
        assert!(msg.contains("not a crypt(3) hash"), "{msg}");
        let (_, msg) =
            syntax_line(VirtualUsers::parse(b"a:$6$x$y:19000:0:99999:7:::\n", p).unwrap_err());
        assert!(msg.contains("shadow"), "{msg}");
        let (_, msg) = syntax_line(VirtualUsers::parse(b"a b:$6$x$y\n", p).unwrap_err());
        assert!(msg.contains("white space"), "{msg}");
        let (line, msg) =
            syntax_line(VirtualUsers::parse(b"ok:$6$x$y\n\xff:$6$\n", p).unwrap_err());
        assert_eq!((line, msg.as_str()), (2, "not UTF-8"));
        let err = VirtualUsers::parse(b"x", Path::new("/etc/ringd/users")).unwrap_err();
        assert!(err.to_string().starts_with("/etc/ringd/users:1: "), "{err}");
        // What is accepted: CRLF, indentation, DES, locked, empty files.
        let users = VirtualUsers::parse(b"  a:$6$x$y\r\nb:abcdefghijklm\nc:*\nd:!\n", p).unwrap();
        assert_eq!(users.names().count(), 4);
        assert_eq!(VirtualUsers::parse(b"", p).unwrap().names().count(), 0);
        assert_eq!(VirtualUsers::parse(b"\n", p).unwrap().names().count(), 0);
        let err = VirtualUsers::load(Path::new("/nonexistent/users")).unwrap_err();
        assert!(matches!(err, UsersError::File(_)));
        assert!(err.to_string().contains("/nonexistent/users"));
        let err = VirtualUsers::load(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero is a character device; virtual_users_file must name a regular file of at \
             most 16777216 bytes"
        );
    }

    #[test]
    fn set_and_save_round_trip() {
        let tmp = TempDir::new("save");
        let path = tmp.path().join("users");
        fs::copy(data("virtual_users"), &path).unwrap();
        let mut users = VirtualUsers::load(&path).unwrap();
        users.set("frank", "frank's pw").unwrap();
        users.set("bob", "new bob pw").unwrap();
        assert!(users.verify("frank", "frank's pw"));
        assert!(users.verify("bob", "new bob pw"));
        assert!(!users.verify("bob", "bob pw"));
        users.save(&path).unwrap();

        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# ringd virtual users"), "comments kept");
        let frank = text.lines().find(|l| l.starts_with("frank:")).unwrap();
        assert!(
            frank.starts_with("frank:$y$"),
            "yescrypt for new hashes: {frank}"
        );
        // bob keeps his place in the file.
        let order: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(order, ["alice", "bob", "carol", "dave", "eve", "frank"]);

        let again = VirtualUsers::load(&path).unwrap();
        assert!(again.verify("frank", "frank's pw"));
        assert!(again.verify("alice", "alice pw"));
        assert!(again.verify("bob", "new bob pw"));
        // No temporary file left behind.
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);

        // A new file from nothing, in a relative-looking path's directory.
        let fresh = tmp.path().join("fresh");
        let mut users = VirtualUsers::default();
        users.set("x", "y").unwrap();
        users.save(&fresh).unwrap();
        assert_eq!(fs::read_to_string(&fresh).unwrap().lines().count(), 1);
        // A failed save leaves nothing behind.
        assert!(users.save(&tmp.path().join("missing-dir/users")).is_err());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 2);
    }

    #[test]
    fn set_refuses_bad_input() {
        let mut users = VirtualUsers::empty();
        for name in [
            "",
            "a:b",
            "#x",
            "a b",
            "tab\t",
            "nl\n",
            &"n".repeat(256),
            "../outside",
            "a/b",
            "/",
            ".",
            "..",
        ] {
            assert!(
                matches!(users.set(name, "pw"), Err(UsersError::InvalidName { .. })),
                "{name:?}"
            );
        }
        for password in ["a\0b", "a\nb", "a\rb", &"p".repeat(512)] {
            assert!(matches!(
                users.set("ok", password),
                Err(UsersError::InvalidPassword(_))
            ));
        }
        assert!(matches!(
            users.set("ok", ""),
            Err(UsersError::InvalidPassword(reason)) if reason.starts_with("empty")
        ));
        assert!(!users.contains("ok"));
        users.set("ünïcödé", "pässwörd").unwrap();
        assert!(users.verify("ünïcödé", "pässwörd"));
    }

    #[test]
    fn names_that_leave_a_directory_are_refused_in_the_file() {
        let p = Path::new("/etc/ringd/users");
        for (name, reason) in [
            ("../outside", "contains '/'"),
            ("a/b", "contains '/'"),
            (".", "is `.` or `..`"),
            ("..", "is `.` or `..`"),
        ] {
            let text = format!("# users\nok:$6$x$y\n{name}:$6$x$y\n");
            let err = VirtualUsers::parse(text.as_bytes(), p)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "/etc/ringd/users:3: invalid user name {name:?}: {reason}"
                )),
                "{err}"
            );
        }
        // Dots inside a name are fine.
        let users = VirtualUsers::parse(b"a.b:$6$x$y\n...:$6$x$y\n.hidden:$6$x$y\n", p).unwrap();
        assert_eq!(users.names().count(), 3);
        assert_eq!(
            VirtualUsers::check_name("../outside")
                .unwrap_err()
                .to_string(),
            "invalid user name \"../outside\": contains '/'; a user name becomes a directory \
             name with user_sub_token"
        );
    }

    #[test]
    fn empty_passwords_in_the_file_are_refused() {
        let p = Path::new("users");
        let yescrypt_of_empty = new_hash("").unwrap();
        let sha512_of_empty = crypt::crypt(b"", "$6$saltsalt").unwrap();
        let yescrypt_of_other = new_hash("other").unwrap();
        for empty in [&yescrypt_of_empty, &sha512_of_empty] {
            let text = format!("# c\na:{yescrypt_of_other}\nb:{empty}\nc:{empty}\n");
            let (line, message) = syntax_line(VirtualUsers::parse(text.as_bytes(), p).unwrap_err());
            assert_eq!(line, 3, "{message}");
            assert!(
                message.starts_with(
                    "user \"b\" has an empty password; set one with `ringd ftp-passwd users b`"
                ),
                "{message}"
            );
        }
        // Locked, it can never log in: accepted.
        let text = format!("a:!{yescrypt_of_empty}\nb:{yescrypt_of_other}\n");
        let users = VirtualUsers::parse(text.as_bytes(), p).unwrap();
        assert!(!users.verify("a", ""));
        assert!(users.verify("b", "other"));
        // Whichever thread finds it, the first such line is reported.
        let mut text = String::new();
        for i in 0..8 {
            let hash = if i >= 5 {
                &sha512_of_empty
            } else {
                &yescrypt_of_other
            };
            text.push_str(&format!("u{i}:{hash}\n"));
        }
        let (line, _) = syntax_line(VirtualUsers::parse(text.as_bytes(), p).unwrap_err());
        assert_eq!(line, 6);
    }

    #[test]
    fn unknown_users_cost_a_hash_too() {
        let users = VirtualUsers::parse(b"", Path::new("u")).unwrap();
        assert!(!users.verify("nobody", "x"));
        assert!(decoy_hash().starts_with("$y$") || decoy_hash().starts_with("$6$"));
    }

    #[test]
    fn shareable_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<VirtualUsers>();
        send_sync::<NameList>();
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"$6$abc", b"$6$abc"));
        assert!(!constant_time_eq(b"$6$abc", b"$6$abd"));
        assert!(!constant_time_eq(b"$6$abc", b"$6$ab"));
        assert!(!constant_time_eq(b"", b"\0"));
    }
}
