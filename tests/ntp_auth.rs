//! Authenticated NTP over real sockets: chrony's key file (MACs) and NTS (RFC 8915), ringd started on ephemeral ports.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use common::{Ringd, TempDir};
use ringd::ntp::nts_cookies::SessionKeys;
use ringd::ntp::nts_ke::{self, EXPORTER_LABEL};
use ringd::ntp::nts_ntp::{self, ReplyProblem, MAX_REPLY_LEN};
use ringd::ntp::packet::{Header, NtpTimestamp, MODE_CLIENT, MODE_SERVER};
use ringd::ntp::symmetric_keys::SymmetricKey;

const KEYS: &str = "1 SHA1 HEX:1DC764E0791B11FA67EFC7ECBC4B0D73F68A070C\n\
                    3 AES128 HEX:2B7E151628AED2A6ABF7158809CF4F3C\n";

/// The unique identifier of every NTS request here (RFC 8915 wants 32 bytes or more).
const UNIQUE_ID: [u8; 32] = [0xA5; 32];

fn client() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

fn header(transmit: u64) -> [u8; 48] {
    Header {
        version: 4,
        mode: MODE_CLIENT,
        transmit: NtpTimestamp(transmit),
        ..Header::default()
    }
    .to_bytes()
}

fn key(id: &str, kind: &str, secret: &str) -> SymmetricKey {
    SymmetricKey::from_words(id, kind, secret).unwrap()
}

#[test]
fn a_request_with_a_known_keys_mac_gets_a_reply_with_its_mac_and_a_wrong_one_nothing() {
    let dir = TempDir::new("ntp-keys");
    let keyfile = dir.write("chrony.keys", KEYS);
    let conf = format!(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\nkeyfile {}\n",
        keyfile.display()
    );
    let ringd = Ringd::start_ntp(&conf, &["--shards", "1"], 1);
    let server = ringd.ntp_addrs[0];
    let socket = client();
    let sha1 = key("1", "SHA1", "HEX:1DC764E0791B11FA67EFC7ECBC4B0D73F68A070C");
    let aes = key("3", "AES128", "HEX:2B7E151628AED2A6ABF7158809CF4F3C");
    let impostor = key("1", "SHA1", "HEX:00C764E0791B11FA67EFC7ECBC4B0D73F68A070C");
    let unknown = key("9", "SHA1", "HEX:1DC764E0791B11FA67EFC7ECBC4B0D73F68A070C");

    let mut buf = [0u8; 1200];
    for (transmit, signer, expected_len) in [(0x100, &sha1, 72), (0x200, &aes, 68)] {
        let mut request = [0u8; 128];
        request[..48].copy_from_slice(&header(transmit));
        let len = signer.append_mac(&mut request, 48, 4).unwrap();
        socket.send_to(&request[..len], server).unwrap();
        let (got, _) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(
            got,
            expected_len,
            "chronyd's reply length for key {}",
            signer.id()
        );
        let reply = Header::parse(&buf).unwrap();
        assert_eq!(
            (reply.mode, reply.origin),
            (MODE_SERVER, NtpTimestamp(transmit))
        );
        assert!(
            signer.check_mac(&buf[..got], 48, 4),
            "the reply carries the key's MAC"
        );
    }
    // A wrong MAC and an unknown key get nothing; the plain request after them is the next
    // reply, which shows they were dropped, not delayed.
    for (transmit, signer) in [(0x300, &impostor), (0x400, &unknown)] {
        let mut request = [0u8; 128];
        request[..48].copy_from_slice(&header(transmit));
        let len = signer.append_mac(&mut request, 48, 4).unwrap();
        socket.send_to(&request[..len], server).unwrap();
    }
    socket.send_to(&header(0x500), server).unwrap();
    let (got, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(got, 48);
    assert_eq!(Header::parse(&buf).unwrap().origin, NtpTimestamp(0x500));
    assert_eq!(ringd.ntp_counter(None, "ntp_dropped.auth_failed"), 2);
}

/// The keys and cookies of one NTS-KE handshake with `addr`, as a client makes it.
fn key_exchange(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
) -> (SessionKeys, nts_ke::Answer) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    #[allow(deprecated, reason = "ring, as ringd's own TLS")]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![nts_ke::ALPN.to_vec()];
    let mut connection =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut stream = rustls::Stream::new(&mut connection, &mut socket);
    stream.write_all(&nts_ke::client_request()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let export = |direction| {
        connection
            .export_keying_material(
                [0u8; 32],
                EXPORTER_LABEL,
                Some(&nts_ke::exporter_context(direction)),
            )
            .unwrap()
    };
    let keys = SessionKeys {
        c2s: export(false),
        s2c: export(true),
    };
    (keys, nts_ke::read_answer(&answer).unwrap())
}

/// Sends an NTS request with `cookie` and returns the reply.
fn nts_exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    keys: &SessionKeys,
    cookie: &[u8],
    transmit: u64,
) -> Vec<u8> {
    let mut request = [0u8; MAX_REPLY_LEN];
    request[..48].copy_from_slice(&header(transmit));
    let len =
        nts_ntp::write_client_request(&mut request, &UNIQUE_ID, cookie, 0, &keys.c2s, [7; 16])
            .unwrap();
    socket.send_to(&request[..len], server).unwrap();
    let mut buf = [0u8; 1200];
    let (got, _) = socket.recv_from(&mut buf).unwrap();
    assert!(
        got <= len,
        "no reply is longer than its request ({got} > {len})"
    );
    buf[..got].to_vec()
}

fn start_nts_server(dir: &TempDir) -> Ringd {
    start_nts_node(dir, "dump", "")
}

/// A ringd serving NTS with `dir`'s certificate and its keys in `dir/dump_dir`, plus `extra`
/// lines of chrony.conf.
fn start_nts_node(dir: &TempDir, dump_dir: &str, extra: &str) -> Ringd {
    let conf = format!(
        "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n\
         ntsport 0\nntsservercert {}\nntsserverkey {}\nntsdumpdir {}\n{extra}",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display(),
        dir.join(dump_dir).display()
    );
    let conf_dir = TempDir::new("nts-conf");
    let path = conf_dir.write("chrony.conf", &conf);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ringd"));
    command
        .arg("--ntp-conf")
        .arg(&path)
        .args(["--shards", "1", "--control-socket"])
        .arg(conf_dir.join("ringd.sock"));
    Ringd::spawn(command, conf_dir, 1)
}

/// A directory with a certificate for `localhost`, its key and an empty `dump/`; the
/// certificate is returned as the client's trust anchor.
fn nts_certificate(tag: &str) -> (TempDir, rustls::pki_types::CertificateDer<'static>) {
    let dir = TempDir::new(tag);
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    dir.write("cert.pem", made.cert.pem());
    dir.write("key.pem", made.signing_key.serialize_pem());
    std::fs::create_dir(dir.join("dump")).unwrap();
    (dir, made.cert.der().clone())
}

#[test]
fn an_nts_client_is_served_authentic_time_and_its_cookies_outlive_a_restart() {
    let (dir, ca) = nts_certificate("nts");

    let ringd = start_nts_server(&dir);
    let server = ringd.ntp_addrs[0];
    let (keys, answer) = key_exchange(ringd.nts_ke_addrs[0], &ca);
    assert_eq!(answer.cookies.len(), 8);
    assert_eq!(
        answer.port,
        Some(server.port()),
        "the KE names the NTP port, not 123"
    );
    let socket = client();
    let reply = nts_exchange(&socket, server, &keys, &answer.cookies[0], 0x1000);
    let mut fresh = Vec::new();
    nts_ntp::open_reply(&reply, &UNIQUE_ID, &keys.s2c, |c| fresh.push(c.to_vec())).unwrap();
    assert_eq!(fresh.len(), 1, "one new cookie for the one spent");
    // The same session's keys sealed again: only the nonce tells the cookies apart, and a
    // cookie repeated would link a client's requests.
    let again = nts_exchange(&socket, server, &keys, &answer.cookies[2], 0x1800);
    nts_ntp::open_reply(&again, &UNIQUE_ID, &keys.s2c, |c| fresh.push(c.to_vec())).unwrap();
    assert_ne!(
        fresh[0], fresh[1],
        "each cookie is sealed with a nonce of its own"
    );
    let header = Header::parse(&reply).unwrap();
    assert_eq!(
        (header.mode, header.stratum, header.origin),
        (MODE_SERVER, 10, NtpTimestamp(0x1000))
    );

    let mut forged = answer.cookies[1].clone();
    forged[40] ^= 1;
    let nak = nts_exchange(&socket, server, &keys, &forged, 0x2000);
    assert_eq!(
        nts_ntp::open_reply(&nak, &UNIQUE_ID, &keys.s2c, |_| {}),
        Err(ReplyProblem::Nak)
    );
    assert_eq!(&nak[12..16], b"NTSN");
    drop(ringd);

    // The server keys were saved: a cookie from before the restart is still served.
    let ringd = start_nts_server(&dir);
    let reply = nts_exchange(&socket, ringd.ntp_addrs[0], &keys, &fresh[0], 0x3000);
    assert_eq!(
        nts_ntp::open_reply(&reply, &UNIQUE_ID, &keys.s2c, |_| {}),
        Ok(())
    );
}

#[test]
fn servers_sharing_the_saved_keys_accept_each_others_cookies_and_take_up_a_rotation() {
    let (dir, ca) = nts_certificate("nts-fleet");
    let keys_file = |dump: &str| dir.join(dump).join("ntskeys");
    // Node A rotates and saves its keys; node B serves copies of them (`ntsrotate 0`).
    let node_a = start_nts_node(&dir, "dump", "");
    std::fs::create_dir(dir.join("dump-b")).unwrap();
    std::fs::copy(keys_file("dump"), keys_file("dump-b")).unwrap();
    let node_b = start_nts_node(&dir, "dump-b", "ntsrotate 0\n");
    let (keys, answer) = key_exchange(node_a.nts_ke_addrs[0], &ca);
    let socket = client();
    let reply = nts_exchange(
        &socket,
        node_b.ntp_addrs[0],
        &keys,
        &answer.cookies[0],
        0x10,
    );
    assert_eq!(
        nts_ntp::open_reply(&reply, &UNIQUE_ID, &keys.s2c, |_| {}),
        Ok(()),
        "node B answers a cookie node A issued"
    );

    // Node A's keys change (as at its rotation: here a restart without its file); until B
    // takes up the new file, A's new cookies get an NTS NAK from B, then they are served.
    drop(node_a);
    std::fs::remove_file(keys_file("dump")).unwrap();
    let node_a = start_nts_node(&dir, "dump", "");
    let (keys, answer) = key_exchange(node_a.nts_ke_addrs[0], &ca);
    let nak = nts_exchange(
        &socket,
        node_b.ntp_addrs[0],
        &keys,
        &answer.cookies[0],
        0x20,
    );
    assert_eq!(
        nts_ntp::open_reply(&nak, &UNIQUE_ID, &keys.s2c, |_| {}),
        Err(ReplyProblem::Nak)
    );
    std::fs::copy(keys_file("dump"), keys_file("dump-b")).unwrap();
    let reloaded = node_b.ringctl(&["reload"]);
    assert!(reloaded.status.success(), "{reloaded:?}");
    let reply = nts_exchange(
        &socket,
        node_b.ntp_addrs[0],
        &keys,
        &answer.cookies[1],
        0x30,
    );
    assert_eq!(
        nts_ntp::open_reply(&reply, &UNIQUE_ID, &keys.s2c, |_| {}),
        Ok(()),
        "after its reload node B serves node A's new cookies"
    );
}
