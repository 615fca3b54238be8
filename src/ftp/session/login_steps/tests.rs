//! Tests of logging in: anonymous, virtual and guest users, refusals, delays and directory messages.

use crate::ftp::session::test_support::*;

#[test]
fn pass_without_user_is_refused() {
    let mut client = anonymous_server("");
    assert_eq!(
        client.steps("PASS secret"),
        ["503 Login with USER first.\r\n"]
    );
}

#[test]
fn anonymous_names_log_in_in_any_case() {
    for name in ["ftp", "anonymous", "FTP", "Anonymous", "aNoNyMoUs"] {
        let mut client = anonymous_server("");
        assert_eq!(
            client.login(name, "guest@example.com"),
            LOGIN_SUCCESSFUL,
            "{name}"
        );
    }
    let mut client = anonymous_server("");
    assert_eq!(client.send("user ftp"), SPECIFY_PASSWORD);
    assert_eq!(client.send("pass "), LOGIN_SUCCESSFUL);
}

#[test]
fn no_anon_password_logs_in_right_after_user() {
    let mut client = anonymous_server("no_anon_password=YES\n");
    assert_eq!(client.steps("USER anonymous"), [LOGIN_SUCCESSFUL]);
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
}

#[test]
fn anonymous_only_server_refuses_other_names_without_delay_or_count() {
    let mut client = anonymous_server("max_login_fails=1\n");
    for _ in 0..3 {
        assert_eq!(
            client.steps("USER alice"),
            ["530 This FTP server is anonymous only.\r\n"]
        );
    }
    assert_eq!(client.steps("PASS x"), ["503 Login with USER first.\r\n"]);
    assert_eq!(client.login("ftp", "x"), LOGIN_SUCCESSFUL);
}

#[test]
fn anonymous_names_are_ordinary_users_when_anonymous_is_disabled() {
    let mut client = virtual_server("anonymous_enable=NO\ndelay_failed_login=0\n");
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_INCORRECT
    );
    assert_eq!(client.send("PWD"), PLEASE_LOGIN);
}

#[test]
fn banned_email_password_is_refused() {
    let tree = Tree::new();
    let banned = tree.name_list("banned", &["spam@example.com"]);
    let text = format!(
        "{}deny_email_enable=YES\nbanned_email_file={}\n",
        tree.base_config(),
        banned.display()
    );
    let mut client = Client::connect(tree, &text, "root", client_address(), server_address());
    assert_eq!(client.send("USER anonymous"), SPECIFY_PASSWORD);
    assert_eq!(
        client.steps("PASS spam@example.com"),
        ["pause 1s", LOGIN_INCORRECT]
    );
    assert_eq!(
        client.login("anonymous", "friend@example.com"),
        LOGIN_SUCCESSFUL
    );
}

#[test]
fn secure_email_list_admits_only_listed_passwords() {
    let tree = Tree::new();
    let listed = tree.name_list("emails", &["friend@example.com"]);
    let text = format!(
        "{}secure_email_list_enable=YES\nemail_password_file={}\ndelay_failed_login=0\n",
        tree.base_config(),
        listed.display()
    );
    let mut client = Client::connect(tree, &text, "root", client_address(), server_address());
    assert_eq!(client.login("ftp", "stranger@example.com"), LOGIN_INCORRECT);
    assert_eq!(client.login("ftp", "friend@example.com"), LOGIN_SUCCESSFUL);
}

#[test]
fn virtual_user_logs_in_to_their_own_root() {
    let mut client = virtual_server("");
    client.file("alices.txt", "mine\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(client.send("SIZE alices.txt"), "213 5\r\n");
    assert_eq!(client.send("PWD"), "257 \"/\" is the current directory\r\n");
}

#[test]
fn wrong_password_or_unknown_user_is_login_incorrect() {
    let mut client = virtual_server("");
    assert_eq!(client.send("USER alice"), SPECIFY_PASSWORD);
    assert_eq!(client.steps("PASS wrong"), ["pause 1s", LOGIN_INCORRECT]);
    assert_eq!(client.send("USER mallory"), SPECIFY_PASSWORD);
    assert_eq!(client.steps("PASS anything"), ["pause 1s", LOGIN_INCORRECT]);
    assert_eq!(client.send("PWD"), PLEASE_LOGIN);
    // The failed PASS used up the USER.
    assert_eq!(
        client.send("PASS wonderland"),
        "503 Login with USER first.\r\n"
    );
}

#[test]
fn ftpusers_member_gets_331_then_login_incorrect() {
    let tree = Tree::new();
    tree.name_list("ftpusers", &["root", "alice"]);
    let mut client = virtual_server_in(tree, "delay_failed_login=0\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_INCORRECT);
    assert_eq!(client.login("bob", BOB_PASSWORD), LOGIN_SUCCESSFUL);
}

#[test]
fn user_list_with_userlist_deny_refuses_right_after_user() {
    let mut client = server_with_user_list("");
    assert_eq!(
        client.steps("USER bob"),
        ["pause 1s", "530 Permission denied.\r\n"]
    );
    assert_eq!(
        client.send("PASS builder"),
        "503 Login with USER first.\r\n"
    );
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
}

#[test]
fn user_list_with_userlist_deny_no_admits_only_listed_users() {
    let mut client = server_with_user_list("userlist_deny=NO\ndelay_failed_login=0\n");
    assert_eq!(client.steps("USER alice"), ["530 Permission denied.\r\n"]);
    assert_eq!(
        client.steps("USER anonymous"),
        ["530 Permission denied.\r\n"]
    );
    assert_eq!(client.login("bob", BOB_PASSWORD), LOGIN_SUCCESSFUL);
}

#[test]
fn delay_failed_login_pauses_before_the_refusal() {
    let mut client = virtual_server("delay_failed_login=5\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), ["pause 5s", LOGIN_INCORRECT]);
    let mut client = virtual_server("delay_failed_login=0\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT]);
}

#[test]
fn max_login_fails_closes_after_the_last_failure() {
    let mut client = virtual_server("max_login_fails=2\ndelay_failed_login=0\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT]);
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT, "close"]);
}

#[test]
fn max_login_fails_zero_closes_after_the_first_failure() {
    let mut client = virtual_server("max_login_fails=0\ndelay_failed_login=0\n");
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT, "close"]);
}

#[test]
fn user_list_refusals_count_towards_max_login_fails() {
    let mut client = server_with_user_list("max_login_fails=2\ndelay_failed_login=0\n");
    assert_eq!(client.steps("USER bob"), ["530 Permission denied.\r\n"]);
    assert_eq!(
        client.steps("USER bob"),
        ["530 Permission denied.\r\n", "close"]
    );
}

#[test]
fn default_max_login_fails_is_three() {
    let mut client = virtual_server("delay_failed_login=0\n");
    for _ in 0..2 {
        assert_eq!(client.login("alice", "wrong"), LOGIN_INCORRECT);
    }
    client.send("USER alice");
    assert_eq!(client.steps("PASS wrong"), [LOGIN_INCORRECT, "close"]);
}

#[test]
fn pass_after_login_is_already_logged_in() {
    let mut client = alice_session("");
    assert_eq!(client.send("PASS again"), "230 Already logged in.\r\n");
}

#[test]
fn user_after_login_names_another_user() {
    let mut client = alice_session("");
    assert_eq!(
        client.send("USER bob"),
        "530 Can't change to another user.\r\n"
    );
}

#[test]
fn user_after_anonymous_login_cannot_change_from_guest() {
    let mut client = anonymous_session("");
    assert_eq!(
        client.send("USER bob"),
        "530 Can't change from guest user.\r\n"
    );
}

#[test]
fn user_again_after_login_any_password_will_do() {
    let mut client = alice_session("");
    assert_eq!(client.send("USER alice"), "331 Any password will do.\r\n");
}

#[test]
fn guests_have_anonymous_privileges() {
    let mut client = virtual_server("guest_enable=YES\nwrite_enable=YES\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(client.send("STOR new.txt"), NO_PERMISSION);
    assert_eq!(client.send("SITE HELP"), NO_PERMISSION);
    let mut client =
        virtual_server("guest_enable=YES\nwrite_enable=YES\nvirtual_use_local_privs=YES\n");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    client.upload("STOR new.txt", "local privileges\n");
}

#[test]
fn guest_without_local_root_logs_in_to_the_guest_users_home() {
    let tree = Tree::new();
    let users = tree.virtual_users_config();
    let users = users
        .lines()
        .filter(|line| !line.starts_with("local_root=") && !line.starts_with("user_sub_token="))
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let text = format!(
        "{}{users}guest_enable=YES\nguest_username=root\n",
        tree.base_config()
    );
    let mut client = Client::connect(tree, &text, "root", client_address(), server_address());
    assert_eq!(client.send("USER alice"), SPECIFY_PASSWORD);
    assert_eq!(
        client.steps(&format!("PASS {ALICE_PASSWORD}")),
        [LOGIN_SUCCESSFUL]
    );
}

#[test]
fn directory_messages_are_shown_once_per_directory() {
    let mut client = anonymous_server("dirmessage_enable=YES\n");
    client.file(".message", "Welcome to the root.\n");
    client.dir("pub");
    client.file("pub/.message", "Public files.\nRead-only.\n");
    assert_eq!(
        client.login("ftp", "x"),
        "230-Welcome to the root.\r\n230 Login successful.\r\n"
    );
    assert_eq!(
        client.send("CWD pub"),
        "250-Public files.\r\n250-Read-only.\r\n250 Directory successfully changed.\r\n"
    );
    assert_eq!(client.send("CDUP"), DIRECTORY_CHANGED);
    assert_eq!(client.send("CWD pub"), DIRECTORY_CHANGED);
}

#[test]
fn message_file_names_the_message() {
    let mut client = anonymous_server("dirmessage_enable=YES\nmessage_file=WELCOME\n");
    client.file(".message", "not this one\n");
    client.file("WELCOME", "This one.\n");
    assert_eq!(
        client.login("ftp", "x"),
        "230-This one.\r\n230 Login successful.\r\n"
    );
}

#[test]
fn no_directory_messages_without_dirmessage_enable() {
    let mut client = anonymous_server("");
    client.file(".message", "Welcome to the root.\n");
    client.dir("pub");
    client.file("pub/.message", "Public files.\n");
    assert_eq!(client.login("ftp", "x"), LOGIN_SUCCESSFUL);
    assert_eq!(client.send("CWD pub"), DIRECTORY_CHANGED);
}
