//! Tests of file transfers: RETR, STOR, APPE, STOU, REST, locks, ownership and modes.

use crate::ftp::session::test_support::*;

#[test]
fn rest_applies_to_the_next_transfer_only() {
    let mut client = anonymous_session("");
    client.file("a.txt", "0123456789");
    client.send("TYPE I");
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
fn download_enable_no_refuses_retr() {
    let mut client = anonymous_session("download_enable=NO\n");
    client.file("a.txt", "hello");
    assert_eq!(client.send("RETR a.txt"), NO_PERMISSION);
    client.passive();
    assert_eq!(client.send("RETR a.txt"), NO_PERMISSION);
    assert_eq!(client.send("SIZE a.txt"), "213 5\r\n");
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
        let mut client = alice_session(format!("write_enable=YES\n{config}"));
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
    assert!(client.send("STAT").contains("TYPE: ASCII"), "the default");
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
    let (opening, _) = client.download("RETR a.txt");
    assert_eq!(
        opening, "150 Opening ASCII mode data connection for a.txt (5 bytes).\r\n",
        "sessions start in TYPE A"
    );
    client.send("TYPE I");
    let (opening, _) = client.download("RETR a.txt");
    assert_eq!(
        opening,
        "150 Opening BINARY mode data connection for a.txt (5 bytes).\r\n"
    );
}

#[test]
fn ascii_upload_enable_converts_uploads_from_the_start() {
    let mut client = alice_session("write_enable=YES\nascii_upload_enable=YES\n");
    client.passive();
    let transfer = client.transfer("STOR crlf.txt");
    assert!(
        matches!(transfer.job, DataJob::Upload { ascii: true, .. }),
        "sessions start in TYPE A"
    );
    client.finish(TransferOutcome::Complete { bytes: 0 });
    client.send("TYPE I");
    client.passive();
    let transfer = client.transfer("STOR raw.txt");
    assert!(matches!(transfer.job, DataJob::Upload { ascii: false, .. }));
}

#[test]
fn ascii_resume_is_refused() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.send("REST 3");
    client.passive();
    assert_eq!(
        client.send("RETR a.txt"),
        "550 No support for resume of ASCII transfer.\r\n"
    );
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

#[test]
fn a_download_that_cannot_start_is_logged_as_failed() {
    use crate::ftp::transfer_log::{vsftpd_event_message, xferlog_line, LogEvent};
    let mut client = anonymous_session("deny_file=*.secret\n");
    client.file("top.secret", "classified");
    client.passive();
    for (line, reply, path) in [
        ("RETR missing", FAILED_TO_OPEN, "/missing"),
        ("RETR top.secret", NO_PERMISSION, "/top.secret"),
    ] {
        let actions = client.actions(line);
        assert_eq!(reply_text(&actions), reply, "{line}");
        let logged: Vec<&LogEvent> = actions
            .iter()
            .filter_map(|action| match action {
                Action::Log(event) => Some(&**event),
                _ => None,
            })
            .collect();
        let [event @ LogEvent::Transfer(record)] = logged[..] else {
            panic!("{line}: one transfer logged, got {logged:?}");
        };
        assert_eq!(
            vsftpd_event_message(event),
            format!("[ftp] FAIL DOWNLOAD: Client \"192.0.2.10\", \"{path}\", 0.00Kbyte/sec")
        );
        assert!(
            xferlog_line(record, 0)
                .ends_with(&format!(" 0 {path} a _ o a guest@example.com ftp 0 * i")),
            "{}",
            xferlog_line(record, 0)
        );
    }
    // Refused before vsftpd starts its log entry (an ASCII resume), or a directory, whose
    // entry vsftpd drops: nothing logged.
    client.dir("sub");
    let actions = client.actions("RETR sub");
    assert_eq!(reply_text(&actions), FAILED_TO_OPEN);
    assert!(!actions.iter().any(|a| matches!(a, Action::Log(_))));
    client.send("REST 1");
    let actions = client.actions("RETR missing");
    assert!(!actions.iter().any(|a| matches!(a, Action::Log(_))));
}
