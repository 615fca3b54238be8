//! What hostile testing found, kept closed: an atomic upload racing another upload of the same
//! name, the hidden files of atomic uploads, and `LIST -R` of a large tree (memory and the
//! other sessions' wait). Raw sockets on loopback against a real ringd.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::ftp_client::Control;
use common::{give_to_session_user, Ringd, TempDir, SESSION_USER_CONF};

/// An anonymous server on one shard whose root holds `upload/`, owned by the sessions' user;
/// and the directory of that root, which outlives the server.
fn start(extra: &str) -> (Ringd, PathBuf, TempDir) {
    let dir = TempDir::new("ftp-hostile");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("upload")).unwrap();
    give_to_session_user(&root.join("upload"));
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\n\
         local_enable=NO\nanon_root={}\npasv_min_port=0\npasv_max_port=0\nwrite_enable=YES\n\
         anon_upload_enable=YES\n{SESSION_USER_CONF}{extra}",
        root.display()
    );
    let ringd = Ringd::start_ftp(
        TempDir::new("ftp-hostile-conf"),
        &conf,
        &["--shards", "1"],
        1,
    );
    (ringd, root, dir)
}

/// Starts `STOR name`: the data connection, once ringd said to send.
fn begin_store(control: &mut Control, name: &str) -> TcpStream {
    let data = control.passive();
    control.send(format!("STOR {name}\r\n").as_bytes());
    let stream = TcpStream::connect(data).unwrap();
    let opening = control.reply();
    assert!(opening.starts_with("150"), "STOR {name}: {opening}");
    stream
}

fn store(control: &mut Control, name: &str, bytes: &[u8]) -> String {
    let mut stream = begin_store(control, name);
    stream.write_all(bytes).unwrap();
    drop(stream);
    control.reply()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_atomic_upload_never_replaces_a_file_created_meanwhile() {
    // Anonymous users may not overwrite (anon_other_write_enable=NO): the name is free when
    // the slow upload starts, and taken by another upload before it ends.
    let (ringd, root, _dir) = start("atomic_uploads=YES\n");
    let addr = ringd.ftp_addrs[0];
    let mut slow = Control::anonymous(addr);
    let mut data = begin_store(&mut slow, "upload/race.txt");
    data.write_all(b"the slow upload's first half").unwrap();
    let mut quick = Control::anonymous(addr);
    assert_eq!(
        store(&mut quick, "upload/race.txt", b"the quick upload, whole"),
        "226 Transfer complete.\r\n"
    );
    data.write_all(b" and second half").unwrap();
    drop(data);
    assert_eq!(slow.reply(), "553 Could not create file.\r\n");
    assert_eq!(
        std::fs::read(root.join("upload/race.txt")).unwrap(),
        b"the quick upload, whole"
    );
    assert_eq!(names_in(&root.join("upload")), ["race.txt"]);
    ringd.stop();
}

#[test]
fn atomic_uploads_leave_no_hidden_file_and_keep_the_replaced_files_mode_and_owner() {
    let (ringd, root, _dir) = start("atomic_uploads=YES\nanon_other_write_enable=YES\n");
    let addr = ringd.ftp_addrs[0];
    let upload = root.join("upload");
    let kept = upload.join("kept.txt");
    std::fs::write(&kept, "old").unwrap();
    give_to_session_user(&kept);
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::metadata(&kept).unwrap();
    // A hidden file an older ringd left on a file system without unnamed files.
    std::fs::write(upload.join(".ringd-upload-0123456789abcdef"), "leftover").unwrap();

    let mut uploader = Control::anonymous(addr);
    let mut data = begin_store(&mut uploader, "upload/kept.txt");
    data.write_all(b"new contents, in flight").unwrap();
    // Meanwhile: nothing of the upload is visible, by listing or on disk.
    let mut other = Control::anonymous(addr);
    let listed = list(&mut other, "LIST -a upload");
    assert!(!listed.contains(".ringd-upload-"), "{listed}");
    assert!(listed.contains("kept.txt"));
    assert_eq!(
        other.command("SIZE upload/.ringd-upload-0123456789abcdef"),
        "550 Permission denied.\r\n"
    );
    assert_eq!(
        names_in(&upload),
        [".ringd-upload-0123456789abcdef", "kept.txt"],
        "the upload in flight has no name"
    );
    assert_eq!(std::fs::read(&kept).unwrap(), b"old");
    drop(data);
    assert_eq!(uploader.reply(), "226 Transfer complete.\r\n");
    let after = std::fs::metadata(&kept).unwrap();
    assert_eq!(std::fs::read(&kept).unwrap(), b"new contents, in flight");
    assert_eq!(
        after.permissions().mode() & 0o7777,
        0o644,
        "anon_umask=077 would give 0600"
    );
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));

    // Killed mid-upload (SIGKILL: no chance to clean up), nothing is left behind.
    let mut data = begin_store(&mut uploader, "upload/killed.txt");
    data.write_all(b"never finished").unwrap();
    // Dropping the server kills it with SIGKILL and waits for it.
    drop(ringd);
    assert_eq!(
        names_in(&upload),
        [".ringd-upload-0123456789abcdef", "kept.txt"]
    );
}

/// The lines a listing command sends on a new data connection.
fn list(control: &mut Control, command: &str) -> String {
    let data = control.passive();
    control.send(format!("{command}\r\n").as_bytes());
    let mut stream = TcpStream::connect(data).unwrap();
    assert!(control.reply().starts_with("150"));
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(control.reply().starts_with("226"));
    text
}

/// Resident memory of `pid` now and at its highest, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

#[test]
fn list_dash_r_of_a_large_tree_streams_and_holds_no_session_up() {
    const DIRECTORIES: usize = 100;
    const FILES_PER_DIRECTORY: usize = 1_000;
    let (ringd, root, _dir) = start("ls_recurse_enable=YES\n");
    let tree = root.join("tree");
    for d in 0..DIRECTORIES {
        let dir = tree.join(format!("directory-{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES_PER_DIRECTORY {
            std::fs::File::create(dir.join(format!("a-file-with-a-longish-name-{f:04}.dat")))
                .unwrap();
        }
    }
    let addr = ringd.ftp_addrs[0];
    let pid = ringd.pid();
    let mut lister = Control::anonymous(addr);
    let mut neighbour = Control::anonymous(addr);
    assert_eq!(neighbour.command("NOOP"), "200 NOOP ok.\r\n");
    let (resident_before, _) = memory(pid);

    let data = lister.passive();
    lister.send(b"LIST -R tree\r\n");
    let mut stream = TcpStream::connect(data).unwrap();
    assert!(lister.reply().starts_with("150"));
    // Read the listing on a thread; meanwhile the neighbour on the same shard keeps asking.
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        stream.read_to_end(&mut text).unwrap();
        text
    });
    let mut slowest = Duration::ZERO;
    let mut asked = 0;
    while !reader.is_finished() {
        let sent = Instant::now();
        assert_eq!(neighbour.command("NOOP"), "200 NOOP ok.\r\n");
        slowest = slowest.max(sent.elapsed());
        asked += 1;
    }
    let listing = reader.join().unwrap();
    assert_eq!(lister.reply(), "226 Directory send OK.\r\n");
    let (_, peak) = memory(pid);

    let text = String::from_utf8(listing).unwrap();
    let files = text.lines().filter(|line| line.ends_with(".dat")).count();
    assert_eq!(files, DIRECTORIES * FILES_PER_DIRECTORY);
    assert!(text.len() > 6_000_000, "{} bytes", text.len());
    assert!(
        asked > 5,
        "the neighbour was answered {asked} times during the listing"
    );
    assert!(
        slowest < Duration::from_millis(50),
        "a NOOP waited {slowest:?} for the listing"
    );
    let grown_kib = peak.saturating_sub(resident_before);
    assert!(
        grown_kib < 4 * 1024,
        "a {} MB listing grew ringd by {grown_kib} KiB",
        text.len() / 1_000_000
    );
    ringd.stop();
}
