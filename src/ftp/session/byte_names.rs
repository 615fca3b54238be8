//! Tests: file names and vsftpd.conf values that are not UTF-8 reach the disk, the replies and the logs as written.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use crate::ftp::action::{Action, DataJob, TransferOutcome};
use crate::ftp::session::test_support::*;
use crate::ftp::transfer_log::LogEvent;

/// "한글.txt" in EUC-KR (CP949 encodes it the same way): not UTF-8.
const HANGUL: &[u8] = b"\xc7\xd1\xb1\xdb.txt";
/// "café" in Latin-1.
const CAFE: &[u8] = b"caf\xe9";

fn line(verb: &str, name: &[u8]) -> Vec<u8> {
    [verb.as_bytes(), b" ", name].concat()
}

/// The replies among `actions`, as sent (bytes: they quote names).
fn replies(actions: &[Action]) -> Vec<u8> {
    let mut out = Vec::new();
    for action in actions {
        if let Action::Reply(reply) = action {
            reply.encode(&mut out);
        }
    }
    out
}

fn logged(actions: &[Action]) -> Vec<&LogEvent> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Log(event) => Some(&**event),
            _ => None,
        })
        .collect()
}

/// A file named `name` (bytes) in the client's root, made as [`Client::file`] makes files.
fn file_named(client: &Client, name: &[u8], contents: &str) {
    let made = client.file("made-by-test", contents);
    fs::rename(made, client.root.join(OsStr::from_bytes(name))).unwrap();
}

fn on_disk(client: &Client, name: &[u8]) -> bool {
    client.root.join(OsStr::from_bytes(name)).exists()
}

fn reply_bytes(reply: &crate::ftp::replies::Reply) -> Vec<u8> {
    let mut out = Vec::new();
    reply.encode(&mut out);
    out
}

#[test]
fn a_file_named_in_euc_kr_is_sized_dated_and_downloaded() {
    let mut client = alice_session("");
    file_named(&client, HANGUL, "hello");
    let size = client.actions_for_bytes(&line("SIZE", HANGUL));
    assert_eq!(replies(&size), b"213 5\r\n");
    let mdtm = client.actions_for_bytes(&line("MDTM", HANGUL));
    assert_eq!(replies(&mdtm), b"213 20200714123800\r\n");

    assert_eq!(client.send("TYPE I"), "200 Switching to Binary mode.\r\n");
    client.passive();
    let transfer = client.transfer_for_bytes(&line("RETR", HANGUL));
    assert_eq!(
        reply_bytes(&transfer.opening),
        b"150 Opening BINARY mode data connection for \xc7\xd1\xb1\xdb.txt (5 bytes).\r\n"
    );
    assert_eq!(
        transfer.record.as_ref().unwrap().path,
        b"/\xc7\xd1\xb1\xdb.txt"
    );
    assert_eq!(client.sent_bytes(transfer.job), b"hello");
}

#[test]
fn listings_show_the_names_bytes() {
    let mut client = alice_session("ls_recurse_enable=YES\n");
    file_named(&client, HANGUL, "hello");
    fs::create_dir(client.root.join(OsStr::from_bytes(CAFE))).unwrap();
    file_named(&client, b"caf\xe9/\xff\xfe", "x");

    client.passive();
    let transfer = client.transfer("NLST");
    let mut names: Vec<Vec<u8>> = client
        .sent_bytes(transfer.job)
        .split(|&byte| byte == b'\n')
        .filter(|name| !name.is_empty())
        .map(|name| name.strip_suffix(b"\r").unwrap_or(name).to_vec())
        .collect();
    names.sort();
    assert_eq!(names, [CAFE.to_vec(), HANGUL.to_vec()]);

    client.passive();
    let transfer = client.transfer("LIST -R");
    let listing = client.sent_bytes(transfer.job);
    let has_line_ending = |suffix: &[u8]| {
        listing
            .split(|&byte| byte == b'\n')
            .any(|row| row.strip_suffix(b"\r").unwrap_or(row).ends_with(suffix))
    };
    assert!(has_line_ending(b" \xc7\xd1\xb1\xdb.txt"));
    // `-R` walks into the directory by its bytes.
    assert!(has_line_ending(b"./caf\xe9:"));
    assert!(has_line_ending(b" \xff\xfe"));
}

#[test]
fn rename_keeps_the_exact_bytes_on_disk_and_in_the_log() {
    let mut client = alice_session("write_enable=YES\n");
    file_named(&client, HANGUL, "hello");
    let from = client.actions_for_bytes(&line("RNFR", HANGUL));
    assert_eq!(replies(&from), b"350 Ready for RNTO.\r\n");
    let to = client.actions_for_bytes(&line("RNTO", CAFE));
    assert_eq!(replies(&to), b"250 Rename successful.\r\n");
    assert!(!on_disk(&client, HANGUL));
    assert_eq!(
        fs::read(client.root.join(OsStr::from_bytes(CAFE))).unwrap(),
        b"hello"
    );
    match logged(&to)[..] {
        [LogEvent::Rename { ok, from, to, .. }] => {
            assert!(ok);
            assert_eq!(from, b"/\xc7\xd1\xb1\xdb.txt");
            assert_eq!(to.as_deref(), Some(&b"/caf\xe9"[..]));
        }
        ref other => panic!("expected one rename record, got {other:?}"),
    }
}

#[test]
fn uploads_and_deletes_use_the_names_bytes() {
    let mut client = alice_session("write_enable=YES\n");
    client.passive();
    let transfer = client.transfer_for_bytes(&line("STOR", HANGUL));
    let DataJob::Upload { file, .. } = transfer.job else {
        panic!("expected an upload");
    };
    file_of(file).write_all(b"data").unwrap();
    assert_eq!(
        client.finish(TransferOutcome::Complete { bytes: 4 }),
        [TRANSFER_COMPLETE]
    );
    assert_eq!(
        fs::read(client.root.join(OsStr::from_bytes(HANGUL))).unwrap(),
        b"data"
    );
    assert_eq!(fs::read_dir(&client.root).unwrap().count(), 1);

    let delete = client.actions_for_bytes(&line("DELE", HANGUL));
    assert_eq!(replies(&delete), b"250 Delete operation successful.\r\n");
    assert!(!on_disk(&client, HANGUL));
}

#[test]
fn directories_are_made_entered_and_quoted_by_their_bytes() {
    let mut client = alice_session("write_enable=YES\n");
    let made = client.actions_for_bytes(&line("MKD", b"caf\xe9 \"\xff\""));
    // Quotes doubled as in every 257 reply, 0xFF doubled as Telnet's IAC.
    assert_eq!(
        replies(&made),
        b"257 \"/caf\xe9 \"\"\xff\xff\"\"\" created\r\n"
    );
    assert!(client
        .root
        .join(OsStr::from_bytes(b"caf\xe9 \"\xff\""))
        .is_dir());
    let entered = client.actions_for_bytes(&line("CWD", b"caf\xe9 \"\xff\""));
    assert_eq!(replies(&entered), DIRECTORY_CHANGED.as_bytes());
    assert_eq!(
        replies(&client.actions("PWD")),
        b"257 \"/caf\xe9 \"\"\xff\xff\"\"\" is the current directory\r\n"
    );
}

#[test]
fn deny_file_and_hide_file_match_names_by_their_bytes() {
    // Latin-1's "é" (0xE9) starts no UTF-8 character: one byte, one `?`.
    let mut client = alice_session("deny_file={*.txt}\nhide_file={caf?}\n");
    file_named(&client, HANGUL, "hello");
    fs::create_dir(client.root.join(OsStr::from_bytes(CAFE))).unwrap();
    let size = client.actions_for_bytes(&line("SIZE", HANGUL));
    assert_eq!(replies(&size), b"550 Permission denied.\r\n");

    client.passive();
    let transfer = client.transfer("NLST");
    assert_eq!(client.sent_bytes(transfer.job), b"\xc7\xd1\xb1\xdb.txt\r\n");
    let cwd = client.actions_for_bytes(&line("CWD", CAFE));
    assert_eq!(replies(&cwd), DIRECTORY_CHANGED.as_bytes());
}

#[test]
fn an_euc_kr_banner_reaches_the_client_as_written() {
    // "환영합니다" (welcome) in EUC-KR, as a Korean admin's vsftpd.conf holds it.
    let welcome: &[u8] = b"\xc8\xaf\xbf\xb5\xc7\xd5\xb4\xcf\xb4\xd9";
    let mut client = anonymous_server([b"ftpd_banner=".as_slice(), welcome, b"\n"].concat());
    assert_eq!(
        replies(&client.session.greeting()),
        [b"220 ".as_slice(), welcome, b"\r\n"].concat()
    );
}

#[test]
fn a_deny_file_pattern_with_a_latin1_byte_denies_that_file() {
    let mut client = alice_session(b"deny_file={caf\xe9,*.\xc7\xd1}\n");
    file_named(&client, CAFE, "latin-1");
    file_named(&client, "café".as_bytes(), "utf-8");
    file_named(&client, b"report.\xc7\xd1", "euc-kr");
    for denied in [CAFE, b"report.\xc7\xd1"] {
        let size = client.actions_for_bytes(&line("SIZE", denied));
        assert_eq!(replies(&size), b"550 Permission denied.\r\n");
    }
    // The same word in UTF-8 is other bytes, so it is not denied.
    let size = client.actions_for_bytes(&line("SIZE", "café".as_bytes()));
    assert_eq!(replies(&size), b"213 5\r\n");
}

#[test]
fn hide_file_question_marks_count_bytes() {
    // UTF-8 "é" is two bytes: `caf?` leaves "café" listed, `caf??` hides it.
    for (pattern, listed) in [("caf?", true), ("caf??", false)] {
        let mut client = alice_session(format!("hide_file={{{pattern}}}\n"));
        file_named(&client, "café".as_bytes(), "utf-8");
        client.passive();
        let transfer = client.transfer("NLST");
        let names = client.sent_bytes(transfer.job);
        assert_eq!(names == "café\r\n".as_bytes(), listed, "{pattern}");
    }
}
