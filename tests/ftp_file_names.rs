//! File names that are not UTF-8 over real connections: listed, downloaded, renamed, uploaded and deleted as the bytes on disk, and logged as vsftpd logs them.

mod common;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::ftp_client::Control;
use common::{give_to_session_user, Ringd, TempDir, SESSION_USER_CONF};

/// "한글.txt" in EUC-KR (and CP949): not UTF-8.
const HANGUL: &[u8] = b"\xc7\xd1\xb1\xdb.txt";
/// "café" in Latin-1.
const CAFE: &[u8] = b"caf\xe9";

fn named(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

fn line(verb: &str, name: &[u8]) -> Vec<u8> {
    [verb.as_bytes(), b" ", name].concat()
}

/// An anonymous server whose root holds `pub/한글.txt` and `pub/café/`, and a writable
/// `upload/`, logging transfers to `xferlog`; and the root.
fn start(dir: TempDir) -> (Ringd, PathBuf, PathBuf) {
    let root = dir.join("root");
    std::fs::create_dir_all(named(&root.join("pub"), CAFE)).unwrap();
    std::fs::create_dir_all(root.join("upload")).unwrap();
    give_to_session_user(&root.join("upload"));
    std::fs::write(named(&root.join("pub"), HANGUL), "hello").unwrap();
    let xferlog = dir.join("xferlog");
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
         local_enable=NO\nanon_root={}\nhide_ids=YES\npasv_min_port=0\npasv_max_port=0\n\
         write_enable=YES\nanon_upload_enable=YES\nanon_mkdir_write_enable=YES\n\
         anon_other_write_enable=YES\nanon_umask=022\nxferlog_enable=YES\n\
         xferlog_std_format=YES\nxferlog_file={}\n{SESSION_USER_CONF}",
        root.display(),
        xferlog.display()
    );
    (Ringd::start_ftp(dir, &conf, &[], 1), root, xferlog)
}

/// Sends `command` for a data transfer over a passive connection; the 150 reply.
fn open_transfer(control: &mut Control, command: &[u8]) -> (TcpStream, Vec<u8>) {
    let data_address = control.passive();
    let data = TcpStream::connect(data_address).unwrap();
    let opening = control.raw_command(command);
    assert!(
        opening.starts_with(b"150 "),
        "{}",
        String::from_utf8_lossy(&opening)
    );
    (data, opening)
}

fn download(control: &mut Control, command: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut data, opening) = open_transfer(control, command);
    data.set_read_timeout(Some(common::ftp_client::PROMPT))
        .unwrap();
    let mut received = Vec::new();
    data.read_to_end(&mut received).unwrap();
    let done = control.raw_reply_within(common::ftp_client::PROMPT);
    assert!(done.is_some_and(|reply| reply.starts_with(b"226 ")));
    (opening, received)
}

fn upload(control: &mut Control, command: &[u8], contents: &[u8]) {
    let (mut data, _) = open_transfer(control, command);
    data.write_all(contents).unwrap();
    drop(data);
    let done = control.raw_reply_within(common::ftp_client::PROMPT);
    assert_eq!(done.as_deref(), Some(&b"226 Transfer complete.\r\n"[..]));
}

#[test]
fn names_that_are_not_utf8_keep_their_bytes_end_to_end() {
    let (ringd, root, xferlog) = start(TempDir::new("ftp-names"));
    let mut control = Control::anonymous(ringd.ftp_addrs[0]);
    assert_eq!(
        control.command("TYPE I"),
        "200 Switching to Binary mode.\r\n"
    );
    assert_eq!(
        control.command("CWD pub"),
        "250 Directory successfully changed.\r\n"
    );

    let (_, listing) = download(&mut control, b"NLST");
    let mut names: Vec<&[u8]> = listing
        .split(|&byte| byte == b'\n')
        .filter(|name| !name.is_empty())
        .map(|name| name.strip_suffix(b"\r").unwrap_or(name))
        .collect();
    names.sort();
    assert_eq!(names, [CAFE, HANGUL]);

    assert_eq!(control.raw_command(&line("SIZE", HANGUL)), b"213 5\r\n");
    assert!(control
        .raw_command(&line("MDTM", HANGUL))
        .starts_with(b"213 2"));
    let (opening, contents) = download(&mut control, &line("RETR", HANGUL));
    assert_eq!(
        opening,
        b"150 Opening BINARY mode data connection for \xc7\xd1\xb1\xdb.txt (5 bytes).\r\n"
    );
    assert_eq!(contents, b"hello");

    assert_eq!(
        control.raw_command(&line("CWD", CAFE)),
        b"250 Directory successfully changed.\r\n"
    );
    assert_eq!(
        control.raw_command(b"PWD"),
        b"257 \"/pub/caf\xe9\" is the current directory\r\n"
    );

    assert_eq!(
        control.command("CWD /upload"),
        "250 Directory successfully changed.\r\n"
    );
    upload(&mut control, &line("STOR", HANGUL), b"uploaded");
    let upload_dir = root.join("upload");
    assert_eq!(
        std::fs::read(named(&upload_dir, HANGUL)).unwrap(),
        b"uploaded"
    );
    assert_eq!(
        control.raw_command(&line("RNFR", HANGUL)),
        b"350 Ready for RNTO.\r\n"
    );
    assert_eq!(
        control.raw_command(&line("RNTO", CAFE)),
        b"250 Rename successful.\r\n"
    );
    assert!(!named(&upload_dir, HANGUL).exists());
    assert_eq!(
        std::fs::read(named(&upload_dir, CAFE)).unwrap(),
        b"uploaded"
    );
    assert_eq!(
        control.raw_command(&line("DELE", CAFE)),
        b"250 Delete operation successful.\r\n"
    );
    assert!(!named(&upload_dir, CAFE).exists());
    assert_eq!(
        control.raw_command(&line("MKD", HANGUL)),
        b"257 \"/upload/\xc7\xd1\xb1\xdb.txt\" created\r\n"
    );
    assert!(named(&upload_dir, HANGUL).is_dir());
    // Each transfer is logged before its 226 is sent. vsftpd runs in the C locale: bytes
    // above 0x7e are unprintable, logged as `?`.
    let log = std::fs::read_to_string(&xferlog).unwrap();
    assert!(
        log.contains(" 5 /pub/????.txt b _ o a "),
        "the download is logged: {log}"
    );
    assert!(
        log.contains(" 8 /upload/????.txt b _ i a "),
        "the upload is logged: {log}"
    );
    drop(control);
    ringd.stop();
}
