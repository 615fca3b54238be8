//! The files a configuration names, read by the real binary: devices, FIFOs and secrets are
//! refused without hanging or being printed; `ringd ftp-passwd` refuses names and passwords
//! that cannot be stored and leaves the users file as it was.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{run_to_exit, Ringd, TempDir};

fn check(flag: &str, conf: &Path) -> Output {
    run_to_exit(&["--check", flag, conf.to_str().unwrap()], b"")
}

/// Exit status 1 and the error on stderr; returns stdout and stderr together.
fn refused(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    text
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn banner_file_must_be_a_regular_file() {
    let dir = TempDir::new("conf-banner");
    let conf = dir.write(
        "vsftpd.conf",
        "listen=YES\nanonymous_enable=YES\nanon_root=/srv\nbanner_file=/dev/zero\n",
    );
    let text = refused(&check("--ftp-conf", &conf));
    assert!(
        text.contains(
            "/dev/zero is a character device; banner_file must name a regular file of at most \
             100000 bytes"
        ),
        "{text}"
    );

    // A FIFO without a writer: the open must not wait for one.
    let fifo = dir.join("banner.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let conf = dir.write(
        "fifo.conf",
        format!(
            "listen=YES\nanonymous_enable=YES\nanon_root=/srv\nbanner_file={}\n",
            fifo.display()
        ),
    );
    let text = refused(&check("--ftp-conf", &conf));
    assert!(
        text.contains(&format!("{} is a FIFO (named pipe)", fifo.display())),
        "{text}"
    );

    // Larger than vsftpd reads.
    let big = dir.write("banner.txt", "welcome\n".repeat(12_500 + 1));
    let conf = dir.write(
        "big.conf",
        format!(
            "listen=YES\nanonymous_enable=YES\nanon_root=/srv\nbanner_file={}\n",
            big.display()
        ),
    );
    let text = refused(&check("--ftp-conf", &conf));
    assert!(
        text.contains(&format!("{} has more than 100000 bytes", big.display())),
        "{text}"
    );
}

#[test]
fn chrony_include_of_a_device_is_refused() {
    let dir = TempDir::new("conf-include");
    let conf = dir.write("chrony.conf", "allow 127.0.0.1\ninclude /dev/zero\n");
    let text = refused(&check("--ntp-conf", &conf));
    assert!(
        text.contains(&format!(
            "{}:2: include: /dev/zero is a character device; include must name a regular file \
             of at most 16777216 bytes",
            conf.display()
        )),
        "{text}"
    );
}

#[test]
fn chrony_include_of_a_secret_does_not_print_it() {
    let dir = TempDir::new("conf-secret");
    let shadow = dir.write(
        "shadow",
        "root:$6$SECRETHASHVALUE:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    );
    let conf = dir.write(
        "chrony.conf",
        format!("allow 127.0.0.1\ninclude {}\n", shadow.display()),
    );
    let text = refused(&check("--ntp-conf", &conf));
    assert!(!text.contains("SECRETHASHVALUE"), "{text}");
    assert!(!text.contains("root:"), "{text}");
    assert!(
        text.contains(&format!(
            "{}:1: not a chrony configuration line (contents not shown)",
            shadow.display()
        )),
        "{text}"
    );
    // The same file given as the configuration itself.
    let text = refused(&check("--ntp-conf", &shadow));
    assert!(!text.contains("SECRETHASHVALUE"), "{text}");
}

/// A users file with one user, and its bytes.
fn users_file(dir: &TempDir) -> (std::path::PathBuf, Vec<u8>) {
    let users = dir.join("users");
    let output = run_to_exit(&["ftp-passwd", path(&users), "alice"], b"wonder land\n");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&users).unwrap();
    assert!(bytes.starts_with(b"alice:$"));
    (users, bytes)
}

/// Only the users file is in `dir`: no temporary file left behind.
fn assert_only_users_file(dir: &TempDir) {
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["users"]);
}

#[test]
fn ftp_passwd_refuses_a_name_that_leaves_the_root() {
    let dir = TempDir::new("passwd-name");
    let (users, before) = users_file(&dir);
    for name in ["../outside", "a/b", "..", "."] {
        let output = run_to_exit(&["ftp-passwd", path(&users), name], b"secret pw\n");
        let text = refused(&output);
        assert!(
            text.contains(&format!("invalid user name {name:?}: ")),
            "{text}"
        );
        assert!(text.contains("user_sub_token"), "{text}");
        assert_eq!(std::fs::read(&users).unwrap(), before, "{name}");
    }
    assert_only_users_file(&dir);
}

#[test]
fn ftp_passwd_refuses_an_empty_password() {
    let dir = TempDir::new("passwd-empty");
    let (users, before) = users_file(&dir);
    for name in ["alice", "bob"] {
        let output = run_to_exit(&["ftp-passwd", path(&users), name], b"\n");
        let text = refused(&output);
        assert!(text.contains("invalid password: empty"), "{text}");
        assert_eq!(std::fs::read(&users).unwrap(), before, "{name}");
    }
    assert_only_users_file(&dir);
}

/// sha512-crypt of the empty password, as `mkpasswd -m sha512crypt -S saltsalt ''` prints it.
const SHA512_OF_EMPTY: &str = "$6$saltsalt$qkTgsCrWMTAS9gBGcf9W60sFfH.hU0oTCAOJjhbz5tSp/sU3/xXZK4OFwCtq8lIIdpJ6CatVdOTSHKp97TPkt/";

#[test]
fn a_users_file_with_an_empty_password_is_refused() {
    let dir = TempDir::new("users-empty");
    let (users, before) = users_file(&dir);
    // A hand edit gives bob the empty password.
    let mut text = String::from_utf8(before).unwrap();
    text.push_str(&format!("bob:{SHA512_OF_EMPTY}\n"));
    std::fs::write(&users, &text).unwrap();
    let conf = dir.write(
        "vsftpd.conf",
        format!(
            "listen=YES\nanonymous_enable=NO\nlocal_enable=YES\nlocal_root=/srv\n\
             virtual_users_file={}\n",
            users.display()
        ),
    );
    let output = refused(&check("--ftp-conf", &conf));
    assert!(
        output.contains(&format!(
            "{}:2: user \"bob\" has an empty password",
            users.display()
        )),
        "{output}"
    );
    // ftp-passwd reads the file the same way: it changes nothing in it either.
    let output = refused(&run_to_exit(
        &["ftp-passwd", path(&users), "carol"],
        b"pw\n",
    ));
    assert!(output.contains("has an empty password"), "{output}");
    assert_eq!(std::fs::read_to_string(&users).unwrap(), text);
}

#[test]
fn without_an_allow_line_the_ntp_port_is_not_opened() {
    let ringd = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nbindaddress ::1\nlocal stratum 10\n",
        &["--shards", "1"],
        0,
    );
    let log = ringd.stop().join("\n");
    assert!(
        log.contains("NTP port not opened: no `allow` line lets a client in"),
        "{log}"
    );
}

#[test]
fn only_the_families_an_allow_line_lets_in_are_opened() {
    // As chronyd 4.3: a mapped subnet is an IPv6 rule, so no IPv4 port is opened for it.
    let ringd = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nbindaddress ::1\nallow ::ffff:127.0.0.0/104\n\
         local stratum 10\n",
        &["--shards", "1"],
        1,
    );
    assert!(ringd.ntp_addrs.iter().all(|addr| addr.is_ipv6()));
    ringd.stop();
}
