//! What TLS costs with the crypto provider ringd is built with (ring; `--features aws-lc-rs` for
//! the other): encrypting a download's 256 KiB chunk into records, as RETR over PROT P does, and
//! the handshakes every TLS session (full) and data connection (resumed) pays, both ends in one
//! process, for an ECDSA P-256 and an RSA 2048 certificate (the latter made with openssl, and
//! skipped without it).

use std::hint::black_box;
use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringd::shard::ftp::tls::{crypto_provider, ticketer};
use ringd::sys::test_dirs::TempDir;
use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::ServerConnection;
use rustls::{ClientConfig, ClientConnection, Connection, NamedGroup, RootCertStore, ServerConfig};

/// The chunk a TLS download encrypts at a time (`transfer::run_tls`).
const CHUNK: usize = 256 * 1024;

/// A certificate for localhost and its key, PEM.
struct Identity {
    name: &'static str,
    cert: String,
    key: String,
}

fn ecdsa() -> Identity {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    Identity {
        name: "ecdsa_p256",
        cert: made.cert.pem(),
        key: made.signing_key.serialize_pem(),
    }
}

fn rsa(dir: &TempDir) -> Option<Identity> {
    let (cert, key) = (dir.join("rsa.pem"), dir.join("rsa.key"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        // rustls refuses a CA certificate as a server's, which openssl makes by default.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    made.status.success().then(|| Identity {
        name: "rsa_2048",
        cert: std::fs::read_to_string(&cert).unwrap(),
        key: std::fs::read_to_string(&key).unwrap(),
    })
}

fn configs(identity: &Identity) -> (Arc<ServerConfig>, ClientConfig) {
    let provider = Arc::new(crypto_provider());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(identity.cert.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(identity.key.as_bytes()).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(chain[0].clone()).unwrap();
    let mut server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    // As each FTP session's (`TlsServer::accept_control`): stateless, multi-use tickets.
    server.ticketer = ticketer().unwrap();
    // X25519 first, as curl, lftp and FileZilla (OpenSSL, GnuTLS) offer it; rustls with ring
    // offers P-384 first.
    let mut client_provider = crypto_provider();
    client_provider
        .kx_groups
        .sort_by_key(|group| group.name() != NamedGroup::X25519);
    let client = ClientConfig::builder_with_provider(Arc::new(client_provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), client)
}

/// Moves what `from` has to send into `to`.
fn deliver(from: &mut Connection, to: &mut Connection, wire: &mut Vec<u8>) {
    while from.wants_write() {
        wire.clear();
        from.write_tls(wire).unwrap();
        let mut records = &wire[..];
        while !records.is_empty() {
            to.read_tls(&mut records).unwrap();
            to.process_new_packets().unwrap();
        }
    }
}

/// A client and a server connection through their handshake (and the tickets after it).
fn connect(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> (Connection, Connection) {
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = Connection::Client(ClientConnection::new(Arc::clone(client), name).unwrap());
    let mut server = Connection::Server(ServerConnection::new(Arc::clone(server)).unwrap());
    let mut wire = Vec::new();
    while client.is_handshaking() || server.is_handshaking() || server.wants_write() {
        deliver(&mut client, &mut server, &mut wire);
        deliver(&mut server, &mut client, &mut wire);
    }
    (client, server)
}

fn tls(c: &mut Criterion) {
    let dir = TempDir::new("bench-tls");
    let identities = [Some(ecdsa()), rsa(&dir)];
    for identity in identities.iter().flatten() {
        let (server, client) = configs(identity);
        let mut fresh = client.clone();
        fresh.resumption = Resumption::disabled();
        let fresh = Arc::new(fresh);
        let resuming = Arc::new(client);

        let mut group = c.benchmark_group(format!("tls_{}", identity.name));
        let (_, mut sender) = connect(&server, &fresh);
        if let Connection::Server(connection) = &sender {
            println!(
                "{}: {:?} {:?} {:?}",
                identity.name,
                connection.protocol_version().unwrap(),
                connection.negotiated_cipher_suite().unwrap().suite(),
                connection.negotiated_key_exchange_group().unwrap().name()
            );
        }
        let chunk = vec![0x5a; CHUNK];
        let mut records = Vec::with_capacity(CHUNK + CHUNK / 8);
        group.throughput(Throughput::Bytes(CHUNK as u64));
        group.bench_function("encrypt_256k_chunk", |b| {
            b.iter(|| {
                let mut rest = &chunk[..];
                while !rest.is_empty() {
                    let taken = sender.writer().write(rest).unwrap();
                    rest = &rest[taken..];
                    while sender.wants_write() {
                        records.clear();
                        sender.write_tls(&mut records).unwrap();
                        black_box(&records);
                    }
                }
            })
        });
        group.throughput(Throughput::Elements(1));
        group.bench_function("full_handshake", |b| {
            b.iter(|| black_box(connect(&server, &fresh)))
        });
        connect(&server, &resuming);
        group.bench_function("resumed_handshake", |b| {
            b.iter(|| black_box(connect(&server, &resuming)))
        });
        group.finish();
    }
}

criterion_group!(benches, tls);
criterion_main!(benches);
