//! Verifying FTP logins off the shard threads: crypt(3) for virtual users, PAM and the account database for system accounts, /etc/shells, and per-user option files.
//!
//! A hash takes tens of milliseconds and PAM may take seconds (`pam_faildelay`, a remote
//! directory), so no shard ever runs them: a small pool of threads does, started with the
//! FTP service before any session, with ringd's own credentials. Sessions wait for the answer
//! on their shard without blocking it. PAM's fail delay is not slept on these threads either:
//! it comes back with the refusal and the session waits it out.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use futures_channel::oneshot;
use tracing::{debug, info, warn};

use crate::config::source_file::{self, Expected, VSFTPD_FILE_MAX};
use crate::ftp::context::SessionContext;
use crate::ftp::login::{Account, AuthMethod, AuthOutcome, AuthRequest};
use crate::sys::{accounts, pam};

/// Threads verifying logins: enough that one slow PAM module does not hold every login up.
const WORKERS: usize = 4;
/// Largest /etc/shells read.
const SHELLS_MAX_BYTES: u64 = 64 * 1024;
const SHELLS_FILE: &str = "/etc/shells";

struct Job {
    /// The configuration of the session that asks: a reload may have changed it since.
    context: Arc<SessionContext>,
    request: AuthRequest,
    answer: oneshot::Sender<AuthOutcome>,
}

/// The pool; dropping it stops the threads once the jobs in hand are done.
pub struct Authenticator {
    jobs: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Authenticator {
    pub fn start() -> io::Result<Authenticator> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::with_capacity(WORKERS);
        for index in 0..WORKERS {
            let receiver = Arc::clone(&receiver);
            threads.push(crate::privileges::spawn(
                format!("ftp-auth-{index}"),
                crate::privileges::Role::FtpAuth,
                move || loop {
                    let job = match receiver.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    let Ok(Job {
                        context,
                        request,
                        answer,
                    }) = job
                    else {
                        return;
                    };
                    let _ = answer.send(verify(&context, request));
                },
            )?);
        }
        Ok(Authenticator {
            jobs: Some(sender),
            threads,
        })
    }

    /// Verifies `request` under `context` on a pool thread; the caller's task waits, its
    /// thread does not.
    pub async fn verify(&self, context: Arc<SessionContext>, request: AuthRequest) -> AuthOutcome {
        let (answer, outcome) = oneshot::channel();
        let sent = self.jobs.as_ref().is_some_and(|jobs| {
            jobs.send(Job {
                context,
                request,
                answer,
            })
            .is_ok()
        });
        if !sent {
            return AuthOutcome::Refused {
                delay: std::time::Duration::ZERO,
            };
        }
        outcome.await.unwrap_or(AuthOutcome::Refused {
            delay: std::time::Duration::ZERO,
        })
    }
}

impl Drop for Authenticator {
    fn drop(&mut self) {
        self.jobs = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn refused() -> AuthOutcome {
    AuthOutcome::Refused {
        delay: std::time::Duration::ZERO,
    }
}

/// One login, as vsftpd's privileged process checks it.
pub fn verify(context: &SessionContext, request: AuthRequest) -> AuthOutcome {
    let AuthRequest {
        user,
        mut password,
        method,
        remote_ip,
        user_config_dir,
    } = request;
    let verified = match method {
        AuthMethod::Nothing => Ok((user, None)),
        AuthMethod::VirtualUser => {
            let ok = context
                .virtual_users
                .as_ref()
                .is_some_and(|users| users.verify(&user, &String::from_utf8_lossy(&password)));
            if ok {
                Ok((user, None))
            } else {
                Err(refused())
            }
        }
        AuthMethod::SystemAccount {
            service,
            check_shell,
        } => system_account(&service, &user, &password, remote_ip, check_shell),
    };
    password.fill(0);
    match verified {
        Ok((user, account)) => {
            let user_config = user_config_dir
                .as_deref()
                .and_then(|dir| read_user_config(dir, &user));
            AuthOutcome::Accepted {
                user,
                account,
                user_config,
            }
        }
        Err(outcome) => outcome,
    }
}

/// PAM first (it may map the name), then the account as the account database has it.
fn system_account(
    service: &str,
    user: &str,
    password: &[u8],
    remote_ip: std::net::IpAddr,
    check_shell: bool,
) -> Result<(String, Option<Account>), AuthOutcome> {
    let remote = remote_ip.to_string();
    let check = pam::LoginCheck {
        service,
        user,
        password,
        remote_host: Some(&remote),
    };
    let user = match pam::check_login(&check) {
        Ok(pam::PamVerdict::Accepted { user }) => user,
        Ok(pam::PamVerdict::Refused { reason, delay, .. }) => {
            debug!(
                "FTP login of {user:?} from {remote} refused by PAM service {service}: {reason}"
            );
            return Err(AuthOutcome::Refused { delay });
        }
        Err(err) => {
            warn!("FTP login of {user:?} from {remote}: {err}");
            return Err(refused());
        }
    };
    let account = match accounts::user_by_name(&user) {
        Ok(Some(account)) => account,
        Ok(None) => {
            info!("FTP login of {user:?}: PAM accepted a name the account database does not know");
            return Err(refused());
        }
        Err(err) => {
            warn!("FTP login of {user:?}: cannot read the account database: {err}");
            return Err(refused());
        }
    };
    if check_shell && !shell_listed(&account.shell) {
        debug!(
            "FTP login of {user:?} refused: shell {} is not in {SHELLS_FILE} (check_shell=YES)",
            account.shell.display()
        );
        return Err(refused());
    }
    let groups = accounts::group_ids(&user, account.gid).unwrap_or_else(|_| vec![account.gid]);
    Ok((
        user,
        Some(Account {
            uid: account.uid,
            gid: account.gid,
            groups,
            home: account.home,
        }),
    ))
}

/// Whether `shell` is one of /etc/shells' lines (a missing file lists none, as
/// getusershell(3) then falls back to /bin/sh and /bin/csh only).
fn shell_listed(shell: &Path) -> bool {
    let shells = Expected::described("/etc/shells", SHELLS_MAX_BYTES);
    let Ok(text) = source_file::read_text(Path::new(SHELLS_FILE), shells) else {
        return shell == Path::new("/bin/sh") || shell == Path::new("/bin/csh");
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .any(|line| Path::new(line) == shell)
}

/// `user_config_dir/user`, as vsftpd reads it: a name with `/` has none, a missing file is no
/// error, and the file must be a regular file owned by ringd's user.
fn read_user_config(dir: &Path, user: &str) -> Option<Result<Vec<u8>, String>> {
    if user.contains('/') {
        return None;
    }
    let path = dir.join(user);
    let metadata = match std::fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return None,
        Err(_) => return Some(Err("error opening per-user config file".into())),
    };
    if !metadata.is_file() || metadata.uid() != rustix::process::geteuid().as_raw() {
        return Some(Err(
            "config file not owned by correct user, or not a file".into()
        ));
    }
    Some(
        source_file::read(
            &path,
            Expected::named_by("user_config_dir", VSFTPD_FILE_MAX),
        )
        .map_err(|err| err.to_string()),
    )
}
