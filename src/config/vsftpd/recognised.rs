//! vsftpd options ringd recognises without acting on them, and why: by design, not yet, or
//! TLS settings that rustls decides for itself.

/// The value type and vsftpd 3.0.3 default of an option ringd recognises but does not parse
/// into `FtpConfig`.
#[derive(Clone, Copy)]
pub(super) enum Typed {
    Bool(bool),
    Number(u32),
    Text(Option<&'static str>),
}

/// What ringd does with a recognised option it does not act on.
#[derive(Clone, Copy)]
pub(super) enum Treatment {
    /// Accepted with any value: it tunes vsftpd's process model, and ringd's design already
    /// gives what it asks for (the reason says how).
    ByDesign(&'static str),
    /// Not supported yet: accepted only at vsftpd's default value. The text names the feature.
    NotYet(&'static str),
    /// A TLS setting accepted with any value: the text says what ringd does instead.
    Tls(&'static str),
    /// A protocol ringd never serves: accepted only at vsftpd's default (off); the text says
    /// what is served instead.
    Never(&'static str),
}

pub(super) struct Recognised {
    pub(super) name: &'static str,
    pub(super) typed: Typed,
    pub(super) treatment: Treatment,
}

pub(super) const SANDBOX: &str =
    "it confines vsftpd's per-session processes; ringd has none, resolves every \
                       path inside the session root with openat2(RESOLVE_IN_ROOT), and leaves \
                       process confinement to the service manager";
pub(super) const PRELOGIN: &str =
    "vsftpd's unprivileged pre-login process; ringd reads commands before \
                        login without touching the file system";

pub(super) const fn by_design(
    name: &'static str,
    typed: Typed,
    reason: &'static str,
) -> Recognised {
    Recognised {
        name,
        typed,
        treatment: Treatment::ByDesign(reason),
    }
}

pub(super) const fn not_yet(name: &'static str, typed: Typed, feature: &'static str) -> Recognised {
    Recognised {
        name,
        typed,
        treatment: Treatment::NotYet(feature),
    }
}

pub(super) const fn tls(name: &'static str, typed: Typed, instead: &'static str) -> Recognised {
    Recognised {
        name,
        typed,
        treatment: Treatment::Tls(instead),
    }
}

pub(super) const fn never(name: &'static str, instead: &'static str) -> Recognised {
    Recognised {
        name,
        typed: Typed::Bool(false),
        treatment: Treatment::Never(instead),
    }
}

/// What ringd serves, for the protocol switches it cannot honour.
const SERVED: &str = "ringd serves TLS 1.2 and 1.3 only (ssl_tlsv1_2, ssl_tlsv1_3)";

/// Every other option vsftpd 3.0.3 (Debian's build included) knows, with its compiled-in default.
pub(super) const RECOGNISED: &[Recognised] = &[
    // vsftpd's process model: accepted with any value.
    by_design(
        "one_process_model",
        Typed::Bool(false),
        "ringd's sessions are tasks in one process already",
    ),
    by_design("seccomp_sandbox", Typed::Bool(true), SANDBOX),
    by_design("ptrace_sandbox", Typed::Bool(false), SANDBOX),
    by_design("isolate", Typed::Bool(true), SANDBOX),
    by_design("isolate_network", Typed::Bool(true), SANDBOX),
    by_design(
        "secure_chroot_dir",
        Typed::Text(Some("/usr/share/empty")),
        PRELOGIN,
    ),
    by_design(
        "setproctitle_enable",
        Typed::Bool(false),
        "there is no per-session process to retitle; ringctl lists the sessions",
    ),
    by_design(
        "trans_chunk_size",
        Typed::Number(0),
        "ringd's transfer engine sizes its chunks and paces rate limits itself",
    ),
    // Not supported yet: accepted at vsftpd's default only.
    not_yet(
        "force_dot_files",
        Typed::Bool(false),
        "dot files in listings without -a",
    ),
    not_yet(
        "background",
        Typed::Bool(false),
        "detaching into the background; run ringd under a service manager",
    ),
    not_yet(
        "session_support",
        Typed::Bool(false),
        "PAM sessions and utmp/wtmp records",
    ),
    not_yet("no_log_lock", Typed::Bool(false), "unlocked log writes"),
    not_yet("tilde_user_enable", Typed::Bool(false), "~user paths"),
    not_yet("ftp_enable", Typed::Bool(true), "turning FTP off"),
    not_yet("http_enable", Typed::Bool(false), "vsftpd's HTTP mode"),
    not_yet(
        "delay_successful_login",
        Typed::Number(0),
        "delaying successful logins",
    ),
    not_yet(
        "download_file",
        Typed::Text(None),
        "Debian's download name filter",
    ),
    not_yet(
        "upload_file",
        Typed::Text(None),
        "Debian's upload name filter",
    ),
    // TLS settings rustls decides for itself, or that need what ringd does not do yet.
    never("ssl_sslv2", SERVED),
    never("ssl_sslv3", SERVED),
    never("ssl_tlsv1_1", SERVED),
    tls(
        "ssl_tlsv1",
        Typed::Bool(true),
        "TLS 1.0 is never served; TLS 1.2 and 1.3 are (ssl_tlsv1_2, ssl_tlsv1_3)",
    ),
    // 3.0.3 turned this on (Changelog: "We still have tunable_strict_ssl_read_eof defaulted").
    tls(
        "strict_ssl_read_eof",
        Typed::Bool(true),
        "an upload that ends without TLS close_notify always fails, as with YES",
    ),
    tls(
        "strict_ssl_write_shutdown",
        Typed::Bool(false),
        "ringd always ends a TLS data connection with close_notify",
    ),
    // 3.0.3's default (3.0.2 had AES128-SHA:DES-CBC3-SHA).
    tls(
        "ssl_ciphers",
        Typed::Text(Some("ECDHE-RSA-AES256-GCM-SHA384")),
        "rustls's cipher suites are offered: AES-GCM and ChaCha20-Poly1305 with ECDHE",
    ),
    tls(
        "dsa_cert_file",
        Typed::Text(None),
        "TLS 1.2 and 1.3 servers cannot use DSA keys; rsa_cert_file (RSA or ECDSA) is used",
    ),
    tls(
        "dsa_private_key_file",
        Typed::Text(None),
        "TLS 1.2 and 1.3 servers cannot use DSA keys; rsa_private_key_file is used",
    ),
];
