//! Tests of listings: LIST, NLST, MLSD, MLST and STAT of a path, and what they hide.

use crate::ftp::session::test_support::*;

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
    // vsftpd's default shows the ids; text_userdb_names the names.
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    let uid = fs::metadata(client.path("a.txt")).unwrap().uid();
    let listing = client.listing("LIST");
    assert!(
        listing.starts_with(&format!("-rw-r--r--    1 {uid:<8} ")),
        "{listing}"
    );
    let mut client = anonymous_session("text_userdb_names=YES\n");
    client.file("a.txt", "hello");
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
fn use_localtime_shows_listing_times_in_the_local_zone() {
    // 14 hours west of UTC: the file's 12:38 UTC on 14 July is 22:38 on 13 July there.
    let west = -14 * 3600;
    let mut client = anonymous_session_in_zone("hide_ids=YES\nuse_localtime=YES\n", west);
    client.file("a.txt", "hello");
    assert_eq!(
        client.listing("LIST"),
        "-rw-r--r--    1 ftp      ftp             5 Jul 13  2020 a.txt\r\n"
    );
    assert!(
        client
            .send("STAT a.txt")
            .contains(" Jul 13  2020 a.txt\r\n"),
        "STAT of a path lists as LIST does"
    );
    assert!(
        client.listing("MLSD").contains(";modify=20200714123800;"),
        "MLSD keeps UTC, as RFC 3659 says"
    );
    let mut client = anonymous_session_in_zone("hide_ids=YES\n", west);
    client.file("a.txt", "hello");
    assert!(
        client.listing("LIST").contains(" Jul 14  2020 a.txt\r\n"),
        "GMT without use_localtime"
    );
}

#[test]
fn mlsd_of_a_missing_directory_or_a_file_is_550() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.passive();
    for line in ["MLSD missing", "MLSD a.txt"] {
        assert_eq!(
            client.send(line),
            "550 Could not list directory.\r\n",
            "{line}"
        );
    }
    assert!(
        client.listing("MLSD").contains("; a.txt\r\n"),
        "the passive connection is still there for a good MLSD"
    );
}

#[test]
fn nlst_takes_the_long_and_recursive_flags_as_vsftpd() {
    let mut client = anonymous_session("hide_ids=YES\nls_recurse_enable=YES\n");
    client.file("a.txt", "hello");
    client.dir("sub");
    client.file("sub/b.txt", "hello");
    assert_eq!(
        client.listing("NLST -l a.txt"),
        "-rw-r--r--    1 ftp      ftp             5 Jul 14  2020 a.txt\r\n"
    );
    assert_eq!(
        client.listing("NLST -R"),
        ".:\r\na.txt\r\nsub\r\n\r\n./sub:\r\n./sub/b.txt\r\n"
    );
    let long = client.listing("NLST -lR sub");
    let lines = lines(&long);
    assert_eq!(lines[0], "sub:", "{long}");
    assert!(lines[1].ends_with(" 5 Jul 14  2020 b.txt"), "{long}");
    let mut client = anonymous_session("");
    client.dir("sub");
    client.file("sub/b.txt", "hello");
    assert_eq!(
        client.listing("NLST -R"),
        "sub\r\n",
        "no recursion without ls_recurse_enable"
    );
}
