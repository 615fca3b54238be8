//! The TLS client side ringload's subcommands share: trusted certificates from a PEM file, X25519 offered first, and a server's chain checked once per run.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, DigitallySignedStruct, NamedGroup, RootCertStore, SignatureScheme,
    SupportedProtocolVersion,
};
use serde::Serialize;

/// A client configuration for `versions` that trusts the certificates of `ca_file` (PEM);
/// `flag` names the option in errors. No client certificate; resumption as rustls's default.
pub fn client_config(
    ca_file: &Path,
    flag: &str,
    versions: &[&'static SupportedProtocolVersion],
) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(ca_file)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("{flag} {}: not a PEM file", ca_file.display()))?;
    if certificates.is_empty() {
        bail!("{flag} {}: no certificate in it", ca_file.display());
    }
    for certificate in certificates {
        roots.add(certificate).with_context(|| {
            format!("{flag} {}: a certificate cannot be used", ca_file.display())
        })?;
    }
    #[allow(
        deprecated,
        reason = "ring, as ringd: no post-quantum key exchange, which FTP and NTS clients do not offer yet"
    )]
    let mut provider = rustls::crypto::ring::default_provider();
    // X25519 first, as curl, lftp, FileZilla and NTS clients offer it; rustls with ring offers
    // P-384 first, which would measure a key exchange no real client asks for.
    provider
        .kx_groups
        .sort_by_key(|group| group.name() != NamedGroup::X25519);
    let provider = Arc::new(provider);
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .context(flag.to_string())?;
    Ok(ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .context("TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RememberingVerifier {
            webpki: verifier,
            verified: Mutex::new(None),
        }))
        .with_no_client_auth())
}

/// `name` as the name the server's certificate must carry; `flag` names the option in errors.
pub fn server_name(name: &str, flag: &str) -> anyhow::Result<ServerName<'static>> {
    ServerName::try_from(name.to_string())
        .with_context(|| format!("{flag} {name}: not a DNS name or IP address"))
}

/// What a TLS handshake agreed on, by rustls's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Negotiated {
    pub tls_version: String,
    pub tls_cipher_suite: String,
    pub tls_key_exchange: String,
}

impl Negotiated {
    /// What `connection` agreed on, once its handshake is done.
    pub fn of(connection: &rustls::ClientConnection) -> Option<Negotiated> {
        Some(Negotiated {
            tls_version: format!("{:?}", connection.protocol_version()?),
            tls_cipher_suite: format!("{:?}", connection.negotiated_cipher_suite()?.suite()),
            tls_key_exchange: format!("{:?}", connection.negotiated_key_exchange_group()?.name()),
        })
    }
}

/// webpki's check of the server's certificate chain, done once per chain: every session of a
/// run is shown the same chain, and checking it again would make the load generator, not the
/// server, the bottleneck. The handshake's signature, which proves the server holds the key,
/// is checked every time.
#[derive(Debug)]
struct RememberingVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    verified: Mutex<Option<VerifiedChain>>,
}

/// The end-entity certificate, intermediates and name last verified.
#[derive(Debug, PartialEq)]
struct VerifiedChain {
    end_entity: Vec<u8>,
    intermediates: Vec<Vec<u8>>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for RememberingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = VerifiedChain {
            end_entity: end_entity.to_vec(),
            intermediates: intermediates.iter().map(|c| c.to_vec()).collect(),
            name: server_name.to_owned(),
        };
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.as_ref() == Some(&chain) {
            return Ok(ServerCertVerified::assertion());
        }
        let outcome = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        *verified = Some(chain);
        Ok(outcome)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
