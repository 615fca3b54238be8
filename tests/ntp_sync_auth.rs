//! ringd following authenticated upstream sources over real loopback sockets: `key N` against another ringd and a test server that forges, `nts` against a ringd serving NTS, and `ringctl authdata`.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Ringd, TempDir};
use ringd::ntp::nts_cookies::ServerKeys;
use ringd::ntp::packet::{Header, NtpShort, NtpTimestamp, HEADER_LEN, MODE_SERVER};
use ringd::ntp::symmetric_keys::SymmetricKey;
use ringd::sys::clock::realtime_now;

/// Long enough for iburst at `minpoll -3` to select a source several times over.
const SYNC_WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "1 SHA1 HEX:1DC764E0791B11FA67EFC7ECBC4B0D73F68A070C\n";
/// Key 1 with another secret: what an attacker who does not know the key would sign with.
const FORGED_KEY: &str = "1 SHA1 HEX:00C764E0791B11FA67EFC7ECBC4B0D73F68A070C\n";

fn ntp_stratum(server: SocketAddr) -> (u8, u8) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = Header {
        version: 4,
        mode: 3,
        transmit: NtpTimestamp::from_unix(realtime_now()),
        ..Header::default()
    };
    socket.send_to(&request.to_bytes(), server).unwrap();
    let mut buf = [0u8; 64];
    let (len, _) = socket.recv_from(&mut buf).expect("a reply");
    let reply = Header::parse(&buf[..len]).unwrap();
    (reply.leap, reply.stratum)
}

/// `ringctl authdata`'s row for `name`, split into its columns.
fn authdata_row(ringd: &Ringd, name: &str) -> Vec<String> {
    let output = ringd.ringctl(&["authdata"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(
            "Name/IP address             Mode KeyID Type KLen Last Atmp  NAK Cook CLen\n"
        ),
        "{text}"
    );
    let row = text
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no row for {name}: {text}"));
    row.split_whitespace().map(str::to_string).collect()
}

#[test]
fn ringd_follows_a_ringd_that_signs_with_the_same_key() {
    let dir = TempDir::new("sync-key");
    let keyfile = dir.write("chrony.keys", KEY);
    let upstream = Ringd::start_ntp(
        &format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 3\nkeyfile {}\n",
            keyfile.display()
        ),
        &["--shards", "1"],
        1,
    );
    let port = upstream.ntp_addrs[0].port();
    let mut client = Ringd::start_ntp(
        &format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nkeyfile {}\n\
             server 127.0.0.1 port {port} key 1 iburst minpoll -3 maxpoll -3\n",
            keyfile.display()
        ),
        &["--shards", "1"],
        1,
    );
    let line = client.wait_for_line("synchronised to 127.0.0.1", SYNC_WAIT);
    assert!(line.contains("serving stratum 4"), "{line}");
    assert_eq!(ntp_stratum(client.ntp_addrs[0]), (0, 4));
    assert_eq!(
        authdata_row(&client, "127.0.0.1"),
        ["127.0.0.1", "SK", "1", "2", "160", "-", "0", "0", "0", "0"],
        "chronyc's row for a SHA1 key of 160 bits"
    );
    let ntpdata = client.ringctl(&["ntpdata"]);
    let text = String::from_utf8(ntpdata.stdout).unwrap();
    assert!(text.contains("Authenticated   : Yes\n"), "{text}");
    // Every reply the client took was signed: the upstream answered with MACs only.
    assert_eq!(upstream.ntp_counter(None, "ntp_dropped.auth_failed"), 0);
    client.stop();
    upstream.stop();
}

/// One answer of a server run by the test: the next request must carry `expected`'s MAC;
/// the reply is signed with `signer`. False when no request came in the socket's timeout.
fn answer_keyed(socket: &UdpSocket, expected: &SymmetricKey, signer: &SymmetricKey) -> bool {
    let mut buf = [0u8; 1024];
    let Ok((len, peer)) = socket.recv_from(&mut buf) else {
        return false;
    };
    assert_eq!(
        len,
        HEADER_LEN + 4 + 20,
        "48 bytes, key ID, SHA1 truncated to 20"
    );
    assert!(
        expected.check_mac(&buf[..len], HEADER_LEN, 4),
        "the request carries key 1's MAC"
    );
    let request = Header::parse(&buf[..len]).unwrap();
    let now = NtpTimestamp::from_unix(realtime_now());
    let reply = Header {
        leap: 0,
        version: 4,
        mode: MODE_SERVER,
        stratum: 2,
        poll: request.poll,
        precision: -20,
        root_delay: NtpShort::from_micros(10),
        root_dispersion: NtpShort::from_micros(10),
        reference_id: 0x0A00_0001,
        reference: now,
        origin: request.transmit,
        receive: now,
        transmit: now,
    };
    let mut out = [0u8; 128];
    out[..HEADER_LEN].copy_from_slice(&reply.to_bytes());
    let len = signer.append_mac(&mut out, HEADER_LEN, 4).unwrap();
    socket.send_to(&out[..len], peer).unwrap();
    true
}

fn key(line: &str) -> SymmetricKey {
    let words: Vec<&str> = line.split_whitespace().collect();
    SymmetricKey::from_words(words[0], words[1], words[2]).unwrap()
}

#[test]
fn replies_signed_by_another_key_are_never_samples_and_the_right_key_is_followed() {
    let dir = TempDir::new("sync-forged");
    let keyfile = dir.write("chrony.keys", KEY);
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let mut client = Ringd::start_ntp(
        &format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nkeyfile {}\n\
             server 127.0.0.1 port {port} key 1 iburst minpoll -3 maxpoll -3\n",
            keyfile.display()
        ),
        &["--shards", "1"],
        1,
    );
    // Six forged answers, each taken in and counted before its line is logged.
    let (right, wrong) = (key(KEY), key(FORGED_KEY));
    let forged = 6;
    for _ in 0..forged {
        assert!(
            answer_keyed(&server, &right, &wrong),
            "requests keep coming"
        );
        client.wait_for_line(
            &format!("reply from 127.0.0.1:{port}: rejected, failed authentication"),
            SYNC_WAIT,
        );
    }
    let ntpdata = client.ringctl_json(&["ntpdata"]);
    assert!(ntpdata[0]["total_tx"].as_u64() >= Some(forged), "{ntpdata}");
    assert_eq!(ntpdata[0]["total_rx"], forged, "{ntpdata}");
    assert_eq!(
        ntpdata[0]["total_valid_rx"], 0,
        "test 5 failed each time: {ntpdata}"
    );
    assert_eq!(ntpdata[0]["total_good_rx"], 0);
    let sources = client.ringctl_json(&["sources"]);
    assert_eq!(sources[0]["state"], "?", "never selected: {sources}");
    assert_eq!(sources[0]["last_rx"], serde_json::Value::Null, "no sample");
    assert_eq!(
        ntp_stratum(client.ntp_addrs[0]).0,
        3,
        "still unsynchronised"
    );

    // The same server signing with the right key is followed.
    // Requests come every 1/8 s: two seconds without one means ringd has stopped.
    server
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let honest = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut answered = 0;
            while !stop.load(Ordering::Relaxed)
                && answered < 1000
                && answer_keyed(&server, &right, &right)
            {
                answered += 1;
            }
            answered
        })
    };
    client.wait_for_line("synchronised to 127.0.0.1", SYNC_WAIT);
    stop.store(true, Ordering::Relaxed);
    client.stop();
    // With ringd gone no request comes: the server's read times out and it ends.
    assert!(
        honest.join().unwrap() >= 2,
        "two samples at least before selection"
    );
}

/// A ringd serving NTS at stratum 10 with a certificate for 127.0.0.1 made here, plus
/// `extra` lines; returns it, its directory (with `cert.pem`) and its KE port.
fn nts_upstream_with(extra: &str) -> (Ringd, TempDir, u16) {
    let dir = TempDir::new("sync-nts-server");
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = dir.write("cert.pem", made.cert.pem());
    let key = dir.write("key.pem", made.signing_key.serialize_pem());
    let upstream = Ringd::start_ntp(
        &format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n\
             ntsport 0\nntsservercert {}\nntsserverkey {}\n{extra}",
            cert.display(),
            key.display()
        ),
        &["--shards", "1"],
        1,
    );
    let ke_port = upstream.nts_ke_addrs[0].port();
    (upstream, dir, ke_port)
}

fn nts_upstream() -> (Ringd, TempDir, u16) {
    nts_upstream_with("")
}

/// A client of `nts_upstream` that trusts `trusted` only. No `port`: the NTP port comes from
/// the KE server's answer.
fn nts_client(ke_port: u16, trusted: &std::path::Path) -> Ringd {
    Ringd::start_ntp(
        &format!(
            "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\n\
             server 127.0.0.1 nts ntsport {ke_port} iburst minpoll -3 maxpoll -3\n\
             ntstrustedcerts {}\nnosystemcert\n",
            trusted.display()
        ),
        &["--shards", "1"],
        1,
    )
}

#[test]
fn ringd_follows_an_nts_server_with_the_keys_and_cookies_of_its_handshake() {
    let (upstream, dir, ke_port) = nts_upstream();
    let mut client = nts_client(ke_port, &dir.join("cert.pem"));
    let moved = client.wait_for_line("NTS: NTP goes to", SYNC_WAIT);
    assert!(
        moved.contains(&upstream.ntp_addrs[0].to_string()),
        "the port of the KE answer, not 123: {moved}"
    );
    let line = client.wait_for_line("synchronised to 127.0.0.1", SYNC_WAIT);
    assert!(line.contains("serving stratum 11"), "{line}");
    assert_eq!(ntp_stratum(client.ntp_addrs[0]), (0, 11));
    let row = authdata_row(&client, "127.0.0.1");
    assert_eq!(
        row[1..5],
        ["NTS", "1", "15", "256"],
        "one KE session, AES-SIV-CMAC-256's 256-bit keys: {row:?}"
    );
    assert_eq!(
        row[6..8],
        ["0", "0"],
        "attempts reset by an authentic reply, no NAK"
    );
    let cookies: u32 = row[8].parse().unwrap();
    assert!(
        (7..=8).contains(&cookies),
        "replies keep the cookies topped up: {row:?}"
    );
    assert_eq!(row[9], "100", "ringd's cookies are 100 bytes");
    // The upstream saw NTS requests only, each authentic.
    assert_eq!(upstream.ntp_counter(None, "ntp_dropped.auth_failed"), 0);
    client.stop();
    upstream.stop();
}

#[test]
fn an_nts_server_whose_certificate_is_not_trusted_is_not_followed() {
    let (upstream, _dir, ke_port) = nts_upstream();
    let other = TempDir::new("sync-nts-other");
    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let trusted = other.write("other.pem", stranger.cert.pem());
    let mut client = nts_client(ke_port, &trusted);
    let failed = client.wait_for_line("NTS-KE with 127.0.0.1", SYNC_WAIT);
    assert!(
        failed.contains("failed: invalid peer certificate"),
        "the handshake refused the server's certificate: {failed}"
    );
    assert_eq!(
        authdata_row(&client, "127.0.0.1"),
        ["127.0.0.1", "NTS", "0", "0", "0", "-", "1", "0", "0", "0"],
        "no keys, no cookies, one attempt"
    );
    // Nothing was sent to the NTP port without keys, so nothing can be a sample.
    let ntpdata = client.ringctl_json(&["ntpdata"]);
    assert_eq!(ntpdata.as_array().map(Vec::len), Some(1), "{ntpdata}");
    assert_eq!(
        (&ntpdata[0]["total_tx"], &ntpdata[0]["total_rx"]),
        (&serde_json::json!(0), &serde_json::json!(0)),
        "as chronyd counts them, polls without keys sent nothing: {ntpdata}"
    );
    assert_eq!(ntp_stratum(client.ntp_addrs[0]).0, 3, "unsynchronised");
    client.stop();
    upstream.stop();
}

#[test]
fn a_nak_after_the_server_changed_its_keys_brings_a_new_key_establishment() {
    // `ntsrotate 0`: a reload takes up the keys in `ntsdumpdir`, which the test replaces.
    let dump = TempDir::new("sync-nts-dump");
    let (mut upstream, dir, ke_port) = nts_upstream_with(&format!(
        "ntsdumpdir {}\nntsrotate 0\n",
        dump.path().display()
    ));
    let mut client = nts_client(ke_port, &dir.join("cert.pem"));
    client.wait_for_line("NTS-KE with 127.0.0.1 (", SYNC_WAIT);
    client.wait_for_line("synchronised to 127.0.0.1", SYNC_WAIT);
    assert_eq!(authdata_row(&client, "127.0.0.1")[2], "1");

    let mut seed = 0u8;
    let other = ServerKeys::generate(|| {
        seed += 1;
        [seed.wrapping_mul(37); 36]
    });
    std::fs::write(dump.join("ntskeys"), other.to_dump(Duration::ZERO)).unwrap();
    let reloaded = upstream.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    upstream.wait_for_line("Loaded NTS server keys from", SYNC_WAIT);

    // The next request's cookie no longer opens: NAK, then a new session, and the source is
    // followed with its keys.
    let again = client.wait_for_line("NTS-KE with 127.0.0.1 (", SYNC_WAIT);
    assert!(again.contains(": 8 cookies"), "{again}");
    // Attempts go back to 0 with the first authentic reply under the new keys.
    client.wait_for_line(
        &format!("reply from {}: accepted", upstream.ntp_addrs[0]),
        SYNC_WAIT,
    );
    let auth = client.ringctl_json(&["authdata"]);
    assert_eq!(auth[0]["key_id"], 2, "{auth}");
    assert_eq!(auth[0]["ke_attempts"], 0, "{auth}");
    assert_eq!(auth[0]["nak"], false, "{auth}");
    assert_eq!(ntp_stratum(client.ntp_addrs[0]), (0, 11));
    let ntpdata = client.ringctl_json(&["ntpdata"]);
    let (rx, valid) = (
        ntpdata[0]["total_rx"].as_u64().unwrap(),
        ntpdata[0]["total_valid_rx"].as_u64().unwrap(),
    );
    assert!(
        rx > valid,
        "the NAK was received and failed test 5: {ntpdata}"
    );
    client.stop();
    upstream.stop();
}
