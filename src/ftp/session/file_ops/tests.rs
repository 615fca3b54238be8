//! Tests of file operations: PWD, CWD, MKD, RMD, DELE, RNFR/RNTO, SIZE, MDTM and SITE, inside the root.

use crate::ftp::session::test_support::*;

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

/// India: 5 h 30 min east of UTC, no summer time.
const INDIA: i32 = 19_800;

#[test]
fn mdtm_with_use_localtime_reads_and_sets_local_time() {
    let mut client = alice_session_in_zone("write_enable=YES\nuse_localtime=YES\n", INDIA);
    let path = client.file("a.txt", "hello");
    assert_eq!(client.send("MDTM a.txt"), "213 20200714180800\r\n");
    assert_eq!(
        client.send("MDTM 20210101053000 a.txt"),
        "213 File modification time set.\r\n"
    );
    assert_eq!(fs::metadata(&path).unwrap().mtime(), 1_609_459_200);
    let mut in_utc = alice_session_in_zone("", INDIA);
    in_utc.file("a.txt", "hello");
    assert_eq!(
        in_utc.send("MDTM a.txt"),
        "213 20200714123800\r\n",
        "GMT without use_localtime, whatever the machine's zone"
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

#[test]
fn tilde_names_the_login_directory_where_vsftpd_resolves_it() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.file("sub/b.txt", "hi");
    assert_eq!(
        client.send("CWD ~/sub"),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(
        client.send("PWD"),
        "257 \"/sub\" is the current directory\r\n"
    );
    assert_eq!(client.send("SIZE ~/a.txt"), "213 5\r\n");
    assert_eq!(
        client.send("MDTM ~/a.txt"),
        "550 Could not get file modification time.\r\n",
        "vsftpd looks MDTM's file up before resolving ~"
    );
    let (_, contents) = client.download("RETR ~/a.txt");
    assert_eq!(contents, "hello");
    assert_eq!(client.listing("NLST ~"), "/a.txt\r\n/sub\r\n");
    assert_eq!(listed_names(&client.listing("LIST -l ~/sub")), ["b.txt"]);
    assert_eq!(
        client.listing("NLST ~sub"),
        "",
        "only ~ and ~/ are resolved"
    );
    assert_eq!(
        client.send("CWD ~"),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
}
