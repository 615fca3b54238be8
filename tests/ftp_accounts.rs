//! FTP sessions with their users' rights, as root runs them: system accounts through PAM (real
//! accounts made with useradd and chpasswd, a real PAM service), ownership of uploads checked on
//! disk, and the capabilities each of ringd's threads keeps. These tests need root; without it
//! they say so and pass (CI runs them as root).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ftp_client::Control;
use common::{run_client, running_as_root, PamService, Ringd, TempDir, TestAccount};

fn skip_unless_root() -> bool {
    if running_as_root() {
        return false;
    }
    eprintln!("skipped: needs root (useradd, PAM, other users' rights)");
    true
}

/// A server for system accounts through `pam`, with `extra` options; and its vsftpd.log.
fn start_with_log(pam: &PamService, extra: &str) -> (Ringd, PathBuf) {
    let dir = TempDir::new("ftp-accounts");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.join("vsftpd.log");
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=NO\n\
         local_enable=YES\nwrite_enable=YES\npam_service_name={}\ndelay_failed_login=0\n\
         xferlog_enable=YES\nvsftpd_log_file={}\npasv_min_port=0\npasv_max_port=0\n{extra}",
        pam.name,
        log.display()
    );
    (Ringd::start_ftp(dir, &conf, &["--shards", "1"], 1), log)
}

/// A server for system accounts through `pam`, with `extra` options.
fn start_for_accounts(pam: &PamService, extra: &str) -> Ringd {
    start_with_log(pam, extra).0
}

/// STOR of `bytes` as `name`; the final reply.
fn store(control: &mut Control, name: &str, bytes: &[u8]) -> String {
    let data = control.passive();
    control.send(format!("STOR {name}\r\n").as_bytes());
    let mut stream = TcpStream::connect(data).unwrap();
    let opening = control.reply();
    if !opening.starts_with("150") {
        return opening;
    }
    stream.write_all(bytes).unwrap();
    drop(stream);
    control.reply()
}

/// RETR of `name`: the bytes, or the refusal.
fn retrieve(control: &mut Control, name: &str) -> Result<Vec<u8>, String> {
    let data = control.passive();
    control.send(format!("RETR {name}\r\n").as_bytes());
    let mut stream = TcpStream::connect(data).unwrap();
    let opening = control.reply();
    if !opening.starts_with("150") {
        return Err(opening);
    }
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let done = control.reply();
    assert!(done.starts_with("226"), "{done}");
    Ok(bytes)
}

#[test]
fn system_accounts_log_in_through_pam_with_ftplib_and_curl() {
    if skip_unless_root() {
        return;
    }
    let alice = TestAccount::new("pam", "/bin/bash");
    let pam = PamService::unix();
    let (ringd, log) = start_with_log(&pam, "local_umask=022\n");
    let addr = ringd.ftp_addrs[0];

    // The seed's course: a system account's password, its home, its own files.
    let mut control = Control::login(addr, &alice.name, &alice.password);
    assert_eq!(
        control.command("PWD"),
        format!(
            "257 \"{}\" is the current directory\r\n",
            alice.home.display()
        )
    );
    assert!(store(&mut control, "raw.txt", b"by alice").starts_with("226"));
    let stored = std::fs::metadata(alice.home.join("raw.txt")).unwrap();
    assert_eq!((stored.uid(), stored.gid()), (alice.uid, alice.gid));
    assert_eq!(stored.permissions().mode() & 0o7777, 0o644);
    // Not jailed: the kernel decides, as for alice's own processes.
    assert!(control.command("CWD /etc").starts_with("250"));
    assert!(retrieve(&mut control, "passwd").is_ok());
    assert_eq!(
        retrieve(&mut control, "shadow"),
        Err("550 Failed to open file.\r\n".into())
    );

    run_client(
        "upload",
        addr,
        &[&alice.name, &alice.password, "by-ftplib.txt", "226"],
    );
    let by_ftplib = std::fs::metadata(alice.home.join("by-ftplib.txt")).unwrap();
    assert_eq!(by_ftplib.uid(), alice.uid);
    let curl = Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .arg(format!(
            "ftp://{}:{}@{addr}/by-ftplib.txt",
            alice.name, alice.password
        ))
        .output()
        .unwrap();
    assert!(curl.status.success());
    assert_eq!(curl.stdout, b"payload");

    // A wrong password: 530 and a FAIL LOGIN line, as vsftpd logs it.
    let mut wrong = Control::connect(addr);
    assert!(wrong
        .command(&format!("USER {}", alice.name))
        .starts_with("331"));
    assert_eq!(wrong.command("PASS not-it"), "530 Login incorrect.\r\n");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("[{}] OK LOGIN: Client \"127.0.0.1\"", alice.name)),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "[{}] FAIL LOGIN: Client \"127.0.0.1\"",
            alice.name
        )),
        "{log}"
    );
    ringd.stop();
}

#[test]
fn check_shell_refuses_accounts_without_a_login_shell() {
    if skip_unless_root() {
        return;
    }
    let daemon = TestAccount::new("nologin", "/usr/sbin/nologin");
    let pam = PamService::unix();
    let ringd = start_for_accounts(&pam, "");
    let mut control = Control::connect(ringd.ftp_addrs[0]);
    control.command(&format!("USER {}", daemon.name));
    assert_eq!(
        control.command(&format!("PASS {}", daemon.password)),
        "530 Login incorrect.\r\n"
    );
    ringd.stop();
    let ringd = start_for_accounts(&pam, "check_shell=NO\n");
    Control::login(ringd.ftp_addrs[0], &daemon.name, &daemon.password);
    ringd.stop();
}

#[test]
fn supplementary_groups_and_other_users_files_are_the_kernels_business() {
    if skip_unless_root() {
        return;
    }
    let alice = TestAccount::new("grpa", "/bin/bash");
    let bob = TestAccount::new("grpb", "/bin/bash");
    let group = format!("rtg{}", std::process::id() % 100_000);
    assert!(Command::new("groupadd")
        .arg(&group)
        .status()
        .unwrap()
        .success());
    let _group = scopeguard(|| {
        let _ = Command::new("groupdel").arg(&group).status();
    });
    assert!(Command::new("usermod")
        .args(["-aG", &group, &alice.name])
        .status()
        .unwrap()
        .success());
    let dir = TempDir::new("ftp-groups");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let shared = dir.join("shared.txt");
    std::fs::write(&shared, "for the group").unwrap();
    Command::new("chgrp")
        .arg(&group)
        .arg(&shared)
        .status()
        .unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&bob.home, std::fs::Permissions::from_mode(0o700)).unwrap();

    let pam = PamService::unix();
    let ringd = start_for_accounts(&pam, "");
    let addr = ringd.ftp_addrs[0];
    let mut as_alice = Control::login(addr, &alice.name, &alice.password);
    assert_eq!(
        retrieve(&mut as_alice, &shared.display().to_string()),
        Ok(b"for the group".to_vec())
    );
    // bob's home is his alone.
    assert_eq!(
        store(
            &mut as_alice,
            &format!("{}/intruder.txt", bob.home.display()),
            b"x"
        ),
        "553 Could not create file.\r\n"
    );
    assert!(!bob.home.join("intruder.txt").exists());
    let mut as_bob = Control::login(addr, &bob.name, &bob.password);
    assert_eq!(
        retrieve(&mut as_bob, &shared.display().to_string()),
        Err("550 Failed to open file.\r\n".into())
    );
    ringd.stop();
}

#[test]
fn chroot_local_user_jails_and_the_list_exempts() {
    if skip_unless_root() {
        return;
    }
    let alice = TestAccount::new("jail", "/bin/bash");
    let bob = TestAccount::new("free", "/bin/bash");
    let pam = PamService::unix();
    let lists = TempDir::new("chroot-list");
    let list = lists.write("chroot_list", format!("{}\n", bob.name));
    let ringd = start_for_accounts(
        &pam,
        &format!(
            "chroot_local_user=YES\nchroot_list_enable=YES\nchroot_list_file={}\n",
            list.display()
        ),
    );
    let addr = ringd.ftp_addrs[0];
    let mut jailed = Control::login(addr, &alice.name, &alice.password);
    assert_eq!(
        jailed.command("PWD"),
        "257 \"/\" is the current directory\r\n"
    );
    assert!(jailed.command("CWD ..").starts_with("250"));
    assert_eq!(
        jailed.command("PWD"),
        "257 \"/\" is the current directory\r\n"
    );
    let mut free = Control::login(addr, &bob.name, &bob.password);
    assert_eq!(
        free.command("PWD"),
        format!(
            "257 \"{}\" is the current directory\r\n",
            bob.home.display()
        )
    );
    ringd.stop();
}

#[test]
fn a_missing_chroot_list_is_an_error_at_start_naming_it() {
    let dir = TempDir::new("chroot-list-missing");
    let conf = dir.write(
        "vsftpd.conf",
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=NO\n\
         local_enable=YES\nchroot_list_enable=YES\nchroot_list_file=/nonexistent/chroot_list\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .arg("--check")
        .arg("--ftp-conf")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("/nonexistent/chroot_list"), "{text}");
}

#[test]
fn user_config_dir_overrides_options_for_one_user() {
    if skip_unless_root() {
        return;
    }
    let alice = TestAccount::new("ucfa", "/bin/bash");
    let bob = TestAccount::new("ucfb", "/bin/bash");
    let dir = TempDir::new("user-config");
    std::fs::write(dir.join(&alice.name), "write_enable=NO\n").unwrap();
    let pam = PamService::unix();
    let ringd = start_for_accounts(&pam, &format!("user_config_dir={}\n", dir.path().display()));
    let addr = ringd.ftp_addrs[0];
    let mut as_alice = Control::login(addr, &alice.name, &alice.password);
    assert_eq!(
        as_alice.command("MKD made"),
        "550 Permission denied.\r\n",
        "alice's file turns writes off"
    );
    let mut as_bob = Control::login(addr, &bob.name, &bob.password);
    assert!(as_bob.command("MKD made").starts_with("257"));
    ringd.stop();
}

#[test]
fn a_slow_pam_refusal_holds_no_other_session() {
    if skip_unless_root() {
        return;
    }
    let alice = TestAccount::new("slow", "/bin/bash");
    let pam = PamService::unix();
    let ringd = start_for_accounts(&pam, "");
    let addr = ringd.ftp_addrs[0];
    let mut busy = Control::login(addr, &alice.name, &alice.password);
    // pam_unix asks for a delay of about 2 s after a wrong password.
    let mut refused = Control::connect(addr);
    refused.command(&format!("USER {}", alice.name));
    refused.send(b"PASS wrong\r\n");
    let sent = Instant::now();
    let mut slowest = Duration::ZERO;
    while refused.reply_within(Duration::from_millis(1)).is_none() {
        let asked = Instant::now();
        assert_eq!(busy.command("NOOP"), "200 NOOP ok.\r\n");
        slowest = slowest.max(asked.elapsed());
        assert!(sent.elapsed() < Duration::from_secs(10), "no refusal");
    }
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "PAM's delay is kept: {waited:?}"
    );
    assert!(
        slowest < Duration::from_millis(100),
        "the same shard answered another session within {slowest:?} meanwhile"
    );
    ringd.stop();
}

/// The capability sets of each of a process's threads, by thread name.
fn thread_status(pid: u32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap();
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        out.push((name.trim().to_owned(), status));
    }
    out
}

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn every_thread_keeps_only_the_capabilities_its_work_needs() {
    if skip_unless_root() {
        return;
    }
    let dir = TempDir::new("caps");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.write("cert.pem", made.cert.pem());
    let key = dir.write("key.pem", made.signing_key.serialize_pem());
    let ntp = dir.write(
        "chrony.conf",
        format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\n\
             ntsport 0\nntsservercert {}\nntsserverkey {}\n",
            cert.display(),
            key.display()
        ),
    );
    let ftp = dir.write(
        "vsftpd.conf",
        format!(
            "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanon_root={}\n\
             chown_uploads=YES\nchown_username=nobody\n{}",
            root.display(),
            common::SESSION_USER_CONF
        ),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringd"));
    command
        .arg("--ntp-conf")
        .arg(&ntp)
        .arg("--ftp-conf")
        .arg(&ftp)
        .args(["--shards", "1", "--control-socket"])
        .arg(dir.join("ringd.sock"));
    let ringd = Ringd::spawn(command, TempDir::new("caps-run"), 2);
    // One anonymous session: its shard switched credentials at least once.
    Control::anonymous(ringd.ftp_addrs[0]);
    const SET_ID_AND_CHOWN: &str = "00000000000000c1";
    let threads = thread_status(ringd.pid());
    let names: Vec<&str> = threads.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "ntp-shard-0",
        "ntp-clock",
        "nts-ke",
        "ftp-shard-0",
        "ringd-control",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for (name, status) in threads {
        assert_eq!(field(&status, "NoNewPrivs:"), "1", "{name}");
        assert_eq!(
            field(&status, "CapBnd:"),
            SET_ID_AND_CHOWN,
            "{name}: bounding set"
        );
        let (effective, permitted) = (field(&status, "CapEff:"), field(&status, "CapPrm:"));
        match name.as_str() {
            n if n.starts_with("ftp-shard") => {
                assert_eq!(permitted, SET_ID_AND_CHOWN, "{name}");
                // Acting as a session's user, CAP_CHOWN is out of the effective set.
                assert!(
                    effective == SET_ID_AND_CHOWN || effective == "00000000000000c0",
                    "{name}: {effective}"
                );
            }
            n if n.starts_with("ntp-shard") || n == "ringd-control" || n == "ntp-clock" => {
                assert_eq!(
                    (effective, permitted),
                    ("0000000000000000", "0000000000000000"),
                    "{name}"
                );
                // nopriv_user: these threads became nobody.
                assert!(field(&status, "Uid:").starts_with("65534"), "{name}");
            }
            _ => assert_eq!(
                (effective, permitted),
                ("0000000000000000", "0000000000000000"),
                "{name}"
            ),
        }
    }
    ringd.stop();
}

#[test]
fn an_ntp_only_ringd_runs_as_its_user_with_no_capability() {
    if skip_unless_root() {
        return;
    }
    let ringd = Ringd::start_ntp(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\nuser nobody\n",
        &[],
        1,
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", ringd.pid())).unwrap();
    assert_eq!(field(&status, "Uid:"), "65534\t65534\t65534\t65534");
    assert_eq!(field(&status, "CapEff:"), "0000000000000000");
    assert_eq!(field(&status, "CapPrm:"), "0000000000000000");
    assert_eq!(field(&status, "NoNewPrivs:"), "1");
    ringd.stop();
}

#[test]
fn check_says_which_capabilities_are_kept_and_why() {
    let dir = TempDir::new("check-privileges");
    let conf = dir.write(
        "vsftpd.conf",
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=21\nanon_root=/srv\n\
         chown_uploads=YES\nchown_username=root\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ringd"))
        .arg("--check")
        .arg("--ftp-conf")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if running_as_root() {
        assert!(
            text.contains("CAP_SETGID, CAP_SETUID: FTP sessions act as their users"),
            "{text}"
        );
        assert!(text.contains("CAP_CHOWN: chown_uploads"), "{text}");
        assert!(
            text.contains("CAP_NET_BIND_SERVICE: binding port 21 at start"),
            "{text}"
        );
    } else {
        assert!(text.contains("not started as root"), "{text}");
    }
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
