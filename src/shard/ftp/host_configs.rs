//! Per-host configurations: the vsftpd.conf files tcp_wrappers rules name with `setenv VSFTPD_LOAD_CONF`, read over the main configuration when the service loads.

use std::path::{Path, PathBuf};

use tracing::warn;

use crate::config::source_file::{read, Expected, VSFTPD_FILE_MAX};
use crate::config::vsftpd;
use crate::ftp::context::SessionContext;
use crate::ftp::replies::Reply;

/// vsftpd reads the file as it reads vsftpd.conf, up to the same size.
const LOAD_CONF_FILE: Expected = Expected::named_by("setenv VSFTPD_LOAD_CONF", VSFTPD_FILE_MAX);

/// A per-host file as sessions from its hosts see it: the context to serve them with, or the
/// `500 OOPS` reply vsftpd's session process would die with.
pub type HostContext = Result<SessionContext, Reply>;

/// Every file `main`'s tcp_wrappers rules name, each read over `main`'s options. vsftpd reads
/// it per session, after the connection limits and the access check, and may set any option
/// with it; options that act before that point (listening, `max_clients`, `max_per_ip`,
/// tcp_wrappers itself) therefore keep the main file's values, here as there. A file that
/// cannot be used does not stop ringd (vsftpd starts too): its hosts are answered with the
/// `500 OOPS` vsftpd sends them, and the reason is logged now.
pub fn load_all(main: &SessionContext) -> Vec<(PathBuf, HostContext)> {
    read_all(main)
        .map(|(file, read)| {
            let context = read.map_err(|(why, reply)| {
                warn!("tcp_wrappers setenv VSFTPD_LOAD_CONF: {why}; its clients get \"500 OOPS\"");
                reply
            });
            (file, context)
        })
        .collect()
}

/// The contexts of the usable per-host files, read without a word: what Landlock must let
/// their sessions reach. [`load_all`] reports the others when the service loads them.
pub fn usable(main: &SessionContext) -> Vec<SessionContext> {
    read_all(main).filter_map(|(_, read)| read.ok()).collect()
}

/// Each file and its context, or why it cannot be used and the reply its clients get.
fn read_all(
    main: &SessionContext,
) -> impl Iterator<Item = (PathBuf, Result<SessionContext, (String, Reply)>)> + '_ {
    let files = main
        .hosts
        .as_ref()
        .map(|hosts| hosts.load_conf_files())
        .unwrap_or_default();
    files
        .into_iter()
        .map(move |file| (file.to_path_buf(), read_one(main, file)))
}

fn read_one(main: &SessionContext, file: &Path) -> Result<SessionContext, (String, Reply)> {
    let shown = file.display();
    let text = read(file, LOAD_CONF_FILE).map_err(|err| {
        (
            err.to_string(),
            oops(format!("cannot read config file: {shown}")),
        )
    })?;
    let unusable = |why: String| (why, oops(format!("cannot use config file: {shown}")));
    let config = vsftpd::apply_user_options(&main.config, &text, &shown.to_string())
        .map_err(|err| unusable(err.to_string()))?;
    SessionContext::load(config).map_err(|err| unusable(format!("{shown}: {err}")))
}

fn oops(text: String) -> Reply {
    Reply::new(500, format!("OOPS: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vsftpd::parse_str;
    use crate::test_dirs::TempDir;

    fn main_context(dir: &TempDir, allow: &str) -> SessionContext {
        let allow = dir.write("hosts.allow", allow);
        let conf = format!(
            "listen=YES\nanon_root={}\nftpd_banner=main\ntcp_wrappers=YES\nhosts_allow_file={}\n\
             hosts_deny_file=/dev/null\nftpusers_file=/dev/null\n",
            dir.path().display(),
            allow.display()
        );
        SessionContext::load(parse_str(&conf, "main.conf").unwrap()).unwrap()
    }

    #[test]
    fn each_named_file_is_read_over_the_main_options() {
        let dir = TempDir::new("host-configs");
        let special = dir.write("special.conf", "ftpd_banner=  special\nmax_clients=1\n");
        let main = main_context(
            &dir,
            &format!(
                "vsftpd: 127.0.0.2: setenv VSFTPD_LOAD_CONF {0}\n\
                 vsftpd: 127.0.0.3: setenv VSFTPD_LOAD_CONF {0}\n",
                special.display()
            ),
        );
        let loaded = load_all(&main);
        assert_eq!(loaded.len(), 1, "one context per file, not per rule");
        let (file, context) = &loaded[0];
        assert_eq!(file, &special);
        let context = context.as_ref().unwrap();
        assert_eq!(context.config.ftpd_banner.as_deref(), Some(&b"special"[..]));
        assert_eq!(context.config.max_clients, 1);
        // Everything the per-host file does not set is the main file's.
        assert_eq!(context.config.anon_root.as_deref(), Some(dir.path()));
        assert!(context.config.tcp_wrappers);
    }

    #[test]
    fn a_file_that_cannot_be_used_answers_with_vsftpds_oops() {
        let dir = TempDir::new("host-configs-bad");
        let bad = dir.write("bad.conf", "write_enable=maybe\n");
        let missing = dir.join("missing.conf");
        let main = main_context(
            &dir,
            &format!(
                "vsftpd: 127.0.0.2: setenv VSFTPD_LOAD_CONF {}\n\
                 vsftpd: 127.0.0.3: setenv VSFTPD_LOAD_CONF {}\n",
                bad.display(),
                missing.display()
            ),
        );
        let replies: Vec<String> = load_all(&main)
            .into_iter()
            .map(|(_, context)| {
                let mut bytes = Vec::new();
                context.err().expect("refused").encode(&mut bytes);
                String::from_utf8(bytes).unwrap()
            })
            .collect();
        assert_eq!(
            replies,
            [
                format!("500 OOPS: cannot use config file: {}\r\n", bad.display()),
                format!(
                    "500 OOPS: cannot read config file: {}\r\n",
                    missing.display()
                ),
            ]
        );
        // Without tcp_wrappers no file is read.
        let conf = format!(
            "listen=YES\nanon_root={}\nftpusers_file=/dev/null\n",
            dir.path().display()
        );
        let plain = SessionContext::load(parse_str(&conf, "plain.conf").unwrap()).unwrap();
        assert!(load_all(&plain).is_empty());
    }
}
