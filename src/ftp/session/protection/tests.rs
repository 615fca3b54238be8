//! Tests of AUTH, PBSZ, PROT and vsftpd's rules on who must use TLS, without sockets.

use crate::ftp::session::test_support::*;

const TLS: &str = "ssl_enable=YES\n";
const PROCEED: &str = "234 Proceed with negotiation.\r\n";

#[test]
fn auth_tls_asks_the_shell_for_a_handshake_once() {
    let mut client = anonymous_server(TLS);
    assert_eq!(
        client.send("PBSZ 0"),
        "503 PBSZ needs a secure connection.\r\n"
    );
    assert_eq!(
        client.send("PROT P"),
        "503 PROT needs a secure connection.\r\n"
    );
    assert_eq!(client.send("AUTH KERBEROS"), "504 Unknown AUTH type.\r\n");
    assert_eq!(client.steps("auth tls"), [PROCEED, "start tls"]);
    // Once over TLS, another AUTH is a command vsftpd does not take before login.
    assert_eq!(client.send("AUTH TLS"), PLEASE_LOGIN);
    assert_eq!(client.send("PBSZ 12345"), "200 PBSZ set to 0.\r\n");
    assert_eq!(client.send("PROT S"), "536 PROT not supported.\r\n");
    assert_eq!(client.send("PROT E"), "536 PROT not supported.\r\n");
    assert_eq!(client.send("PROT X"), "504 PROT not recognized.\r\n");
    assert_eq!(client.send("PROT"), "504 PROT not recognized.\r\n");
    assert_eq!(client.send("PROT p"), "200 PROT now Private.\r\n");
    assert_eq!(client.send("PROT C"), "200 PROT now Clear.\r\n");
}

#[test]
fn implicit_ssl_shakes_hands_before_the_greeting_and_leaves_data_clear() {
    let mut client = anonymous_server(format!("{TLS}implicit_ssl=YES\nallow_anon_ssl=YES\n"));
    // The handshake comes first: the greeting is the first thing sent over TLS.
    assert_eq!(
        describe(&client.session.greeting()),
        ["start tls", "220 (ringd)\r\n"]
    );
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_SUCCESSFUL
    );
    let status = client.send("STAT");
    assert!(
        status.contains(
            "     Control connection is encrypted\r\n     Data connections will be plain text\r\n"
        ),
        "{status}"
    );
    client.passive();
    assert!(!client.transfer("LIST").private, "PROT P is not implied");
    assert_eq!(client.send("PROT P"), "200 PROT now Private.\r\n");
    assert!(client
        .send("STAT")
        .contains("     Data connections will be encrypted\r\n"));
    // AUTH is over: before login it is a command that needs a login, as vsftpd has it.
    let mut client = anonymous_server(format!("{TLS}implicit_ssl=YES\n"));
    client.session.greeting();
    assert_eq!(client.send("AUTH TLS"), PLEASE_LOGIN);
    assert_eq!(client.send("PBSZ 0"), "200 PBSZ set to 0.\r\n");
    // Without ssl_enable, implicit_ssl does nothing.
    let mut client = anonymous_server("implicit_ssl=YES\n");
    assert_eq!(describe(&client.session.greeting()), ["220 (ringd)\r\n"]);
}

#[test]
fn without_ssl_enable_tls_commands_are_refused_as_vsftpd_refuses_them() {
    let mut client = anonymous_server("");
    for line in ["AUTH TLS", "PBSZ 0", "PROT P"] {
        assert_eq!(client.send(line), PLEASE_LOGIN, "{line}");
    }
    let mut client = anonymous_session("");
    assert_eq!(client.send("AUTH TLS"), "500 Unknown command.\r\n");
    assert_eq!(client.send("PBSZ 0"), "550 Permission denied.\r\n");
    assert_eq!(client.send("PROT P"), "550 Permission denied.\r\n");
}

#[test]
fn logins_that_must_use_tls_end_the_session_in_plain_text() {
    // force_local_logins_ssl is on by default.
    let mut client = virtual_server(TLS);
    assert_eq!(
        client.steps("USER alice"),
        [
            "530 Non-anonymous sessions must use encryption.\r\n",
            "close"
        ]
    );
    let mut client = anonymous_server("ssl_enable=YES\nforce_anon_logins_ssl=YES\n");
    assert_eq!(
        client.steps("USER anonymous"),
        ["530 Anonymous sessions must use encryption.\r\n", "close"]
    );
    // Over TLS they log in.
    let mut client = virtual_server(TLS);
    client.steps("AUTH TLS");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
}

#[test]
fn anonymous_logins_over_tls_need_allow_anon_ssl() {
    let mut client = anonymous_server(TLS);
    client.steps("AUTH TLS");
    assert_eq!(
        client.steps("USER anonymous"),
        ["530 Anonymous sessions may not use encryption.\r\n"]
    );
    let mut client = anonymous_server("ssl_enable=YES\nallow_anon_ssl=YES\n");
    client.steps("AUTH TLS");
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_SUCCESSFUL
    );
    // Plain anonymous logins stay allowed unless force_anon_logins_ssl.
    let mut client = anonymous_server(TLS);
    assert_eq!(
        client.login("anonymous", "guest@example.com"),
        LOGIN_SUCCESSFUL
    );
}

#[test]
fn data_must_be_private_where_the_configuration_says_so() {
    let mut client = virtual_server("ssl_enable=YES\nwrite_enable=YES\n");
    client.steps("AUTH TLS");
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    // 425 comes first, as in vsftpd.
    assert_eq!(client.send("LIST"), USE_PORT_OR_PASV);
    client.passive();
    for line in [
        "LIST",
        "NLST",
        "RETR a.txt",
        "STOR a.txt",
        "APPE a.txt",
        "STOU",
    ] {
        assert_eq!(
            client.send(line),
            "522 Data connections must be encrypted.\r\n",
            "{line}"
        );
    }
    assert_eq!(client.send("PROT P"), "200 PROT now Private.\r\n");
    let transfer = client.transfer("LIST");
    assert!(transfer.private);
    // Anonymous data may stay clear unless force_anon_data_ssl.
    let mut client = anonymous_session(TLS);
    client.passive();
    assert!(!client.transfer("LIST").private);
}

#[test]
fn auth_ssl_and_tls_p_protect_data_from_the_start() {
    for mechanism in ["SSL", "TLS-P"] {
        let mut client = virtual_server(TLS);
        assert_eq!(
            client.steps(&format!("AUTH {mechanism}")),
            [PROCEED, "start tls"]
        );
        assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
        client.passive();
        assert!(client.transfer("LIST").private, "{mechanism}");
    }
    let mut client = virtual_server(TLS);
    client.steps("AUTH TLS-C");
    client.login("alice", ALICE_PASSWORD);
    client.passive();
    assert_eq!(
        client.send("LIST"),
        "522 Data connections must be encrypted.\r\n"
    );
}

#[test]
fn a_data_connection_that_does_not_resume_the_session_ends_it() {
    // A session whose protected LIST is under way.
    let listing = || {
        let mut client = virtual_server(TLS);
        client.steps("AUTH TLS");
        client.login("alice", ALICE_PASSWORD);
        client.send("PROT P");
        client.passive();
        client.transfer("LIST");
        client
    };
    assert_eq!(
        listing().finish(TransferOutcome::TlsFailed(DataTlsFailure::Handshake)),
        ["522 SSL connection failed\r\n"]
    );
    for failure in [DataTlsFailure::NotResumed, DataTlsFailure::OtherCertificate] {
        assert_eq!(
            listing().finish(TransferOutcome::TlsFailed(failure)),
            [
                "522 SSL connection failed: session reuse required\r\n",
                "close"
            ],
            "{failure:?}"
        );
    }
    // Without require_ssl_reuse another certificate fails the transfer, not the session.
    let mut client = virtual_server(format!("{TLS}require_ssl_reuse=NO\n"));
    client.steps("AUTH TLS");
    client.login("alice", ALICE_PASSWORD);
    client.send("PROT P");
    client.passive();
    client.transfer("LIST");
    assert_eq!(
        client.finish(TransferOutcome::TlsFailed(DataTlsFailure::OtherCertificate)),
        ["522 SSL connection failed\r\n"]
    );
    assert_eq!(client.send("NOOP"), "200 NOOP ok.\r\n");
}
