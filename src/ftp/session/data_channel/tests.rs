//! Tests of the data channel: PASV, EPSV, PORT and EPRT, and who may connect.

use crate::ftp::session::test_support::*;

#[test]
fn transfers_need_pasv_or_port_first() {
    let mut client = alice_session("write_enable=YES\n");
    client.file("a.txt", "hello");
    for line in [
        "RETR a.txt",
        "LIST",
        "NLST",
        "MLSD",
        "STOR up.txt",
        "APPE a.txt",
        "STOU",
    ] {
        assert_eq!(client.steps(line), [USE_PORT_OR_PASV], "{line}");
    }
    // PASV asked for, but the shell has not said it listens yet.
    assert_eq!(client.steps("PASV"), ["listen passive"]);
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn pasv_reports_the_control_connections_local_address() {
    let mut client = anonymous_session("");
    assert_eq!(client.steps("PASV"), ["listen passive"]);
    assert_eq!(
        describe(&client.session.passive_listening(Some(PASV_PORT))),
        ["227 Entering Passive Mode (192,0,2,1,195,80).\r\n"]
    );
    assert_eq!(client.steps("P@SW"), ["listen passive"]);
}

#[test]
fn pasv_reports_pasv_address() {
    let mut client = anonymous_session("pasv_address=203.0.113.5\n");
    assert_eq!(
        client.passive(),
        "227 Entering Passive Mode (203,0,113,5,195,80).\r\n"
    );
}

#[test]
fn pasv_on_an_ipv6_control_connection() {
    let v6_peer = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10), 40000));
    let v6_local = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 21));
    let mut client = virtual_server_at(Tree::new(), "", v6_peer, v6_local);
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(
        client.passive(),
        "227 Entering Passive Mode (0,0,0,0,195,80).\r\n"
    );
    assert_eq!(client.steps("EPSV 2"), ["listen passive"]);

    let mapped_peer = SocketAddr::from((CLIENT_IP.to_ipv6_mapped(), 40000));
    let mapped_local = SocketAddr::from((SERVER_IP.to_ipv6_mapped(), 21));
    let mut client = virtual_server_at(Tree::new(), "", mapped_peer, mapped_local);
    assert_eq!(client.login("alice", ALICE_PASSWORD), LOGIN_SUCCESSFUL);
    assert_eq!(
        client.passive(),
        "227 Entering Passive Mode (192,0,2,1,195,80).\r\n"
    );
    assert_eq!(
        client.send("PORT 192,0,2,10,195,80"),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
}

#[test]
fn failed_passive_listener_gets_425() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    assert_eq!(client.steps("PASV"), ["listen passive"]);
    assert_eq!(
        describe(&client.session.passive_listening(None)),
        ["425 Could not listen for a passive data connection.\r\n"]
    );
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn shell_reports_without_a_request_are_ignored() {
    let mut client = anonymous_session("");
    assert!(client.session.passive_listening(Some(PASV_PORT)).is_empty());
    assert!(client
        .session
        .transfer_finished(TransferOutcome::Complete { bytes: 0 }, &NoFilesystem)
        .is_empty());
}

#[test]
fn epsv_reports_the_port_only() {
    let mut client = anonymous_session("");
    assert_eq!(client.steps("EPSV"), ["listen passive"]);
    assert_eq!(
        describe(&client.session.passive_listening(Some(PASV_PORT))),
        ["229 Entering Extended Passive Mode (|||50000|)\r\n"]
    );
    assert_eq!(client.steps("EPSV 1"), ["listen passive"]);
    assert_eq!(client.steps("EPSV 2"), ["522 Bad network protocol.\r\n"]);
    assert_eq!(client.steps("EPSV 3"), ["522 Bad network protocol.\r\n"]);
}

#[test]
fn epsv_all_refuses_pasv_and_port_afterwards() {
    let mut client = anonymous_session("");
    assert_eq!(client.send("EPSV ALL"), "200 EPSV ALL ok.\r\n");
    assert_eq!(client.steps("PASV"), [NO_PERMISSION]);
    assert_eq!(client.steps("PORT 192,0,2,10,195,80"), [NO_PERMISSION]);
    assert_eq!(client.steps("EPSV"), ["listen passive"]);
    assert_eq!(
        client.send("EPRT |1|192.0.2.10|50000|"),
        "200 EPRT command successful. Consider using EPSV.\r\n"
    );
}

#[test]
fn pasv_enable_no_and_port_enable_no() {
    let mut client = anonymous_session("pasv_enable=NO\n");
    assert_eq!(client.steps("PASV"), [NO_PERMISSION]);
    assert_eq!(client.steps("EPSV"), [NO_PERMISSION]);
    let mut client = anonymous_session("port_enable=NO\n");
    assert_eq!(client.steps("PORT 192,0,2,10,195,80"), [NO_PERMISSION]);
    assert_eq!(client.steps("PORT garbage"), [NO_PERMISSION]);
    assert_eq!(client.steps("EPRT |1|192.0.2.10|50000|"), [NO_PERMISSION]);
}

#[test]
fn port_to_the_client_is_accepted_and_used_by_the_next_transfer() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    assert_eq!(
        client.send("PORT 192,0,2,10,195,80"),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(
        transfer.channel,
        DataChannel::Active(SocketAddr::from((CLIENT_IP, PASV_PORT)))
    );
    assert_eq!(
        client.finish(TransferOutcome::Complete { bytes: 5 }),
        [TRANSFER_COMPLETE]
    );
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn port_to_another_host_or_a_privileged_port_is_refused() {
    let mut client = anonymous_session("");
    for line in [
        "PORT 198,51,100,7,195,80",
        "PORT 192,0,2,10,0,21",
        "PORT 192,0,2,10,3,255",
        "PORT 1,2,3",
        "PORT 192,0,2,10,256,1",
    ] {
        assert_eq!(
            client.steps(line),
            ["500 Illegal PORT command.\r\n"],
            "{line}"
        );
    }
    assert_eq!(
        client.send("PORT 192,0,2,10,4,0"),
        "200 PORT command successful. Consider using PASV.\r\n",
        "1024 is not privileged"
    );
}

#[test]
fn refused_port_cancels_an_earlier_pasv() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.passive();
    assert_eq!(
        client.send("PORT 198,51,100,7,195,80"),
        "500 Illegal PORT command.\r\n"
    );
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
    client.passive();
    assert_eq!(client.send("PORT 1,2"), "500 Illegal PORT command.\r\n");
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
}

#[test]
fn port_promiscuous_allows_any_address_and_port() {
    let mut client = anonymous_session("port_promiscuous=YES\n");
    client.file("a.txt", "hello");
    assert_eq!(
        client.send("PORT 198,51,100,7,0,21"),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(
        transfer.channel,
        DataChannel::Active(SocketAddr::from((Ipv4Addr::new(198, 51, 100, 7), 21)))
    );
}

#[test]
fn eprt_to_the_client_is_accepted() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    assert_eq!(
        client.send("EPRT |1|192.0.2.10|50000|"),
        "200 EPRT command successful. Consider using EPSV.\r\n"
    );
    let transfer = client.transfer("RETR a.txt");
    assert_eq!(
        transfer.channel,
        DataChannel::Active(SocketAddr::from((CLIENT_IP, PASV_PORT)))
    );
    assert_eq!(client.send("EPRT x"), "500 Bad EPRT command.\r\n");
    assert_eq!(
        client.send("EPRT |3|192.0.2.10|50000|"),
        "500 Bad EPRT protocol.\r\n"
    );
}

#[test]
fn eprt_to_another_host_or_a_privileged_port_is_illegal_eprt() {
    let mut client = anonymous_session("");
    assert_eq!(
        client.send("EPRT |1|198.51.100.7|50000|"),
        "500 Illegal EPRT command.\r\n"
    );
    assert_eq!(
        client.send("EPRT |1|192.0.2.10|21|"),
        "500 Illegal EPRT command.\r\n"
    );
}

#[test]
fn eprt_with_ipv6_on_an_ipv4_connection_is_a_bad_protocol() {
    let mut client = anonymous_session("port_promiscuous=YES\n");
    assert_eq!(
        client.send("EPRT |2|2001:db8::10|50000|"),
        "500 Bad EPRT protocol.\r\n"
    );
}

#[test]
fn passive_transfers_check_the_peer_unless_pasv_promiscuous() {
    let mut client = anonymous_session("pasv_promiscuous=YES\n");
    client.passive();
    let transfer = client.transfer("LIST");
    assert_eq!(transfer.channel, DataChannel::Passive { check_peer: false });
    let mut client = anonymous_session("");
    client.passive();
    let transfer = client.transfer("LIST");
    assert_eq!(transfer.channel, DataChannel::Passive { check_peer: true });
}

#[test]
fn each_transfer_needs_a_new_pasv() {
    let mut client = anonymous_session("");
    client.file("a.txt", "hello");
    client.download("RETR a.txt");
    assert_eq!(client.steps("RETR a.txt"), [USE_PORT_OR_PASV]);
    assert_eq!(client.steps("LIST"), [USE_PORT_OR_PASV]);
    client.passive();
    client.transfer("LIST");
    client.finish(TransferOutcome::NoConnection);
    assert_eq!(
        client.steps("LIST"),
        [USE_PORT_OR_PASV],
        "even after a failed transfer"
    );
}
