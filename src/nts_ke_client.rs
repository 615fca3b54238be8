//! The sync service's NTS-KE client (RFC 8915 §4): one TLS 1.3 session with rustls per key establishment, each on a thread of its own, and the trusted certificates it checks servers against.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use tracing::{info, warn};

use crate::config::chrony_upstream::NtsClientSettings;
use crate::ntp::nts_cookies::SessionKeys;
use crate::ntp::nts_ke::{self, EXPORTER_LABEL, MAX_MESSAGE_LEN, SESSION_KEY_LEN};
use crate::shard::ftp::tls::crypto_provider;
use crate::sync::engine::SourceId;
use crate::sync::nts_client::{Established, KeFailure};

/// How long one key establishment may take to connect and each read or write may wait, as
/// chronyd's client (nts_ke_client.c's CLIENT_TIMEOUT).
const KE_TIMEOUT: Duration = Duration::from_secs(16);
/// Where the system's trusted CAs are, for certificate set 0 without `nosystemcert`: the
/// bundles Debian's and Fedora's ca-certificates install, which is where chronyd's GnuTLS
/// finds them too.
pub const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// One source's key establishment: where, and how its server is checked.
#[derive(Clone, Debug)]
pub struct KeTarget {
    /// The `server` line's name: the certificate must carry it.
    pub host: String,
    pub ke_address: SocketAddr,
    /// Where NTP goes when the server names no other host or port.
    pub default_ntp: SocketAddr,
    pub cert_set: u32,
}

/// What a key establishment gave, for the source and attempt it was started for.
pub struct KeDone {
    pub source: SourceId,
    pub attempt: u64,
    pub outcome: Result<(Established, SocketAddr), KeFailure>,
}

/// Starts a key establishment with `target` on its own thread; its outcome is sent to `done`.
/// A thread, not the sync loop: TLS with a slow or silent server may take up to 16 s per
/// step, and the sync loop must keep polling the other sources meanwhile. Sessions are rare
/// (at start, when cookies run out, every `ntsrefresh`) and bounded by the timeouts.
pub fn start(
    target: KeTarget,
    trust: NtsClientSettings,
    source: SourceId,
    attempt: u64,
    done: mpsc::Sender<KeDone>,
) {
    let spawned = std::thread::Builder::new()
        .name("nts-ke-client".into())
        .spawn(move || {
            let outcome = match establish(&target, &trust) {
                Ok((established, ntp)) => {
                    // Rare (at start, after a NAK or lost cookies, every `ntsrefresh`), so
                    // worth a line: it says why a source's keys changed.
                    info!(
                        "NTS-KE with {} ({}): {} cookies, NTP at {ntp}",
                        target.host,
                        target.ke_address,
                        established.cookies.len()
                    );
                    Ok((established, ntp))
                }
                Err((failure, why)) => {
                    warn!(
                        "NTS-KE with {} ({}) failed: {why}",
                        target.host, target.ke_address
                    );
                    Err(failure)
                }
            };
            let _ = done.send(KeDone {
                source,
                attempt,
                outcome,
            });
        });
    if let Err(err) = spawned {
        warn!("cannot start an NTS-KE thread: {err}");
    }
}

type Failed = (KeFailure, String);

fn before_tls(why: impl ToString) -> Failed {
    (KeFailure { reached_tls: false }, why.to_string())
}

fn in_tls(why: impl ToString) -> Failed {
    (KeFailure { reached_tls: true }, why.to_string())
}

/// How far an I/O error on the TLS stream got: rustls reports its own errors inside it.
fn stream_failure(err: io::Error) -> Failed {
    if err
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
    {
        in_tls(err)
    } else {
        before_tls(err)
    }
}

fn establish(
    target: &KeTarget,
    trust: &NtsClientSettings,
) -> Result<(Established, SocketAddr), Failed> {
    let roots = trust_anchors(trust, target.cert_set);
    if roots.is_empty() {
        return Err(before_tls(format!(
            "no trusted certificate for certificate set {} (ntstrustedcerts{})",
            target.cert_set,
            if target.cert_set == 0 && !trust.no_system_cert {
                ", or the system's CA bundle"
            } else {
                ""
            }
        )));
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(crypto_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(before_tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![nts_ke::ALPN.to_vec()];
    let name = ServerName::try_from(target.host.clone())
        .map_err(|_| before_tls(format!("`{}` cannot name a certificate", target.host)))?;
    let mut connection = ClientConnection::new(Arc::new(config), name).map_err(before_tls)?;
    let mut socket =
        TcpStream::connect_timeout(&target.ke_address, KE_TIMEOUT).map_err(before_tls)?;
    socket
        .set_read_timeout(Some(KE_TIMEOUT))
        .and_then(|()| socket.set_write_timeout(Some(KE_TIMEOUT)))
        .map_err(before_tls)?;
    let mut stream = rustls::Stream::new(&mut connection, &mut socket);
    stream
        .write_all(&nts_ke::client_request())
        .map_err(stream_failure)?;
    let mut answer = Vec::new();
    stream
        .take(MAX_MESSAGE_LEN as u64)
        .read_to_end(&mut answer)
        .map_err(stream_failure)?;
    if connection.alpn_protocol() != Some(nts_ke::ALPN) {
        return Err(in_tls("the server did not agree to ALPN ntske/1"));
    }
    let agreed = nts_ke::read_answer(&answer).map_err(in_tls)?;
    let export = |server_to_client| {
        connection
            .export_keying_material(
                [0u8; SESSION_KEY_LEN],
                EXPORTER_LABEL,
                Some(&nts_ke::exporter_context(server_to_client)),
            )
            .map_err(in_tls)
    };
    let keys = SessionKeys {
        c2s: export(false)?,
        s2c: export(true)?,
    };
    let ntp = negotiated_address(target, agreed.server.as_deref(), agreed.port)?;
    Ok((
        Established {
            keys,
            cookies: agreed.cookies,
        },
        ntp,
    ))
}

/// The NTP server the KE server named, else its own address, at the port it named, else
/// the configured one.
fn negotiated_address(
    target: &KeTarget,
    server: Option<&str>,
    port: Option<u16>,
) -> Result<SocketAddr, Failed> {
    let port = port.unwrap_or(target.default_ntp.port());
    let Some(server) = server else {
        return Ok(SocketAddr::new(target.default_ntp.ip(), port));
    };
    let addresses: Vec<SocketAddr> = (server, port)
        .to_socket_addrs()
        .map_err(|err| {
            in_tls(format!(
                "cannot resolve the NTP server {server} it named: {err}"
            ))
        })?
        .collect();
    addresses
        .iter()
        .find(|addr| addr.is_ipv4() == target.ke_address.is_ipv4())
        .or(addresses.first())
        .copied()
        .ok_or_else(|| in_tls(format!("the NTP server {server} it named has no address")))
}

/// The certificates trusted for `cert_set`: its `ntstrustedcerts` files and directories and,
/// for set 0 unless `nosystemcert`, the system's CAs, as chronyd trusts them.
pub fn trust_anchors(settings: &NtsClientSettings, cert_set: u32) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for (set, path) in &settings.trusted_certs {
        if *set != cert_set {
            continue;
        }
        let files = if path.is_dir() {
            directory_files(path)
        } else {
            vec![path.clone()]
        };
        for file in files {
            add_pem_file(&mut roots, &file, "ntstrustedcerts");
        }
    }
    if cert_set == 0 && !settings.no_system_cert {
        if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
            add_pem_file(&mut roots, bundle, "the system's CA bundle");
        }
    }
    roots
}

fn directory_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file())
            .collect(),
        Err(err) => {
            warn!("ntstrustedcerts {}: {err}", dir.display());
            Vec::new()
        }
    };
    files.sort();
    files
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path, what: &str) {
    match CertificateDer::pem_file_iter(path) {
        Ok(certificates) => {
            let (_, unusable) =
                roots.add_parsable_certificates(certificates.filter_map(Result::ok));
            if unusable > 0 {
                warn!(
                    "{what} {}: {unusable} certificate(s) unusable",
                    path.display()
                );
            }
        }
        Err(err) => warn!("{what} {}: {err}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dirs::TempDir;

    fn pem(tag: &str) -> String {
        rcgen::generate_simple_self_signed(vec![tag.to_string()])
            .unwrap()
            .cert
            .pem()
    }

    #[test]
    fn each_certificate_set_trusts_its_own_files_and_set_0_the_system_too() {
        let dir = TempDir::new("nts-trust");
        let one = dir.write("one.pem", pem("one.example"));
        std::fs::create_dir(dir.join("many")).unwrap();
        std::fs::write(dir.join("many/a.pem"), pem("a.example")).unwrap();
        std::fs::write(dir.join("many/b.pem"), pem("b.example")).unwrap();
        let settings = NtsClientSettings {
            trusted_certs: vec![(0, one), (2, dir.join("many"))],
            no_system_cert: true,
            refresh: 1,
        };
        assert_eq!(trust_anchors(&settings, 0).len(), 1);
        assert_eq!(
            trust_anchors(&settings, 2).len(),
            2,
            "every file of a directory"
        );
        assert!(trust_anchors(&settings, 1).is_empty());
        let with_system = NtsClientSettings {
            no_system_cert: false,
            ..settings.clone()
        };
        let system = SYSTEM_BUNDLES.iter().any(|p| Path::new(p).is_file());
        assert_eq!(trust_anchors(&with_system, 0).len() > 1, system);
        assert_eq!(
            trust_anchors(&with_system, 2).len(),
            2,
            "only set 0 adds the system's"
        );
    }

    #[test]
    fn the_ntp_server_is_the_one_the_ke_server_named_else_its_own_address() {
        let target = KeTarget {
            host: "localhost".into(),
            ke_address: "127.0.0.1:4460".parse().unwrap(),
            default_ntp: "127.0.0.1:123".parse().unwrap(),
            cert_set: 0,
        };
        let same = |server, port| negotiated_address(&target, server, port).unwrap();
        assert_eq!(same(None, None), target.default_ntp);
        assert_eq!(same(None, Some(11123)), "127.0.0.1:11123".parse().unwrap());
        assert_eq!(
            same(Some("127.0.0.2"), None),
            "127.0.0.2:123".parse().unwrap()
        );
    }
}
