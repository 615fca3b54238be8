"""The certificate the TLS comparisons give every server: one ECDSA P-256 key, made per run."""

import re
import subprocess

CERT = "cert.pem"
KEY = "key.pem"
# ECDSA P-256: what certbot issues by default and what the servers here sign fastest with;
# rustls refuses a CA certificate as a server's, hence CA:FALSE.
CERTIFICATE = ("ECDSA P-256 (prime256v1), self-signed, CN=localhost, subjectAltName "
               "DNS:localhost and IP:127.0.0.1, basicConstraints critical CA:FALSE")
OPENSSL_REQ = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
               "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
               "-addext", "basicConstraints=critical,CA:FALSE"]


def make_certificate(work_dir):
    """The run's certificate and key, WORK/cert.pem and WORK/key.pem."""
    subprocess.run([*OPENSSL_REQ, "-keyout", work_dir / KEY, "-out", work_dir / CERT],
                   check=True, capture_output=True)
    (work_dir / KEY).chmod(0o600)


def rustls_version(cargo_lock_text):
    """rustls's version in Cargo.lock (ringload's and ringd's TLS), or "?"."""
    found = re.search(r'name = "rustls"\nversion = "([^"]+)"', cargo_lock_text)
    return found.group(1) if found else "?"
