//! A session's filesystem: its jail, used with its credentials, so the kernel checks every file access of the session as it would a process of that user.
//!
//! Each call first makes the shard thread act as the session's user (`sys::credentials`,
//! switched only when the previous call was another user's), then resolves the path inside the
//! session's root. What only ringd may do for a session (`chown_uploads`, keeping a replaced
//! file's owner) runs with ringd's own credentials, on a descriptor the session opened, never
//! on a path.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use super::jail::{Jail, Staged};
use crate::config::vsftpd::FtpConfig;
use crate::ftp::filesystem::{Download, FileHandle, SessionFs, StagedUpload, Staging, WriteHow};
use crate::ftp::listing::EntryInfo;
use crate::ftp::login::SessionIdentity;
use crate::sys::accounts;
use crate::sys::credentials::{self, FsIdentity};
use crate::sys::fs as sysfs;

/// Whose rights a session's file operations carry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// ringd's own: not started as root, or `run_as_launching_user=YES`.
    Process,
    User(Arc<FsIdentity>),
}

impl Credentials {
    /// Makes the calling thread act with these credentials.
    pub fn enter(&self) -> io::Result<()> {
        match self {
            Credentials::Process => credentials::act_as_process(),
            Credentials::User(identity) => credentials::act_as(identity),
        }
    }
}

/// The filesystem of a logged-in session.
pub struct SessionFilesystem {
    jail: Arc<Jail>,
    credentials: Credentials,
}

impl SessionFilesystem {
    pub fn new(jail: Arc<Jail>, credentials: Credentials) -> SessionFilesystem {
        SessionFilesystem { jail, credentials }
    }

    fn enter(&self) -> io::Result<&Jail> {
        self.credentials.enter()?;
        Ok(&self.jail)
    }

    /// Runs `change` on `file` with ringd's own credentials (what vsftpd's privileged
    /// process does for a session), then lets the next call switch back.
    fn privileged(&self, change: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        credentials::act_as_process()?;
        change()
    }

    /// The uid and gid this session's new files get.
    fn own_ids(&self) -> Option<(u32, u32)> {
        match &self.credentials {
            Credentials::User(identity) => Some((identity.uid, identity.gid)),
            Credentials::Process => None,
        }
    }
}

fn handle(file: File) -> FileHandle {
    file.into()
}

impl SessionFs for SessionFilesystem {
    fn stat(&self, vpath: &[u8]) -> io::Result<EntryInfo> {
        self.enter()?.stat(vpath)
    }

    fn stat_follow(&self, vpath: &[u8]) -> io::Result<EntryInfo> {
        self.enter()?.stat_follow(vpath)
    }

    fn is_dir(&self, vpath: &[u8]) -> bool {
        self.enter().is_ok_and(|jail| jail.is_dir(vpath))
    }

    fn read_dir_names(&self, vpath: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        self.enter()?.read_dir_names(vpath)
    }

    fn stat_entries(&self, dir: &[u8], names: &[Vec<u8>]) -> io::Result<Vec<EntryInfo>> {
        self.enter()?.stat_entries(dir, names)
    }

    fn read_small(&self, vpath: &[u8], max: usize) -> Option<Vec<u8>> {
        self.enter().ok()?.read_small(vpath, max)
    }

    fn open_download(&self, vpath: &[u8]) -> io::Result<Download> {
        let (file, mode) = self.enter()?.open_download(vpath)?;
        Ok(Download {
            file: handle(file),
            mode,
        })
    }

    fn open_upload(&self, vpath: &[u8], how: WriteHow, mode: u32) -> io::Result<FileHandle> {
        self.enter()?.open_write(vpath, how, mode).map(handle)
    }

    fn create_unique(
        &self,
        dir: &[u8],
        base: &[u8],
        mode: u32,
    ) -> io::Result<(FileHandle, Vec<u8>)> {
        let (file, vpath) = self.enter()?.create_unique(dir, base, mode)?;
        Ok((handle(file), vpath))
    }

    fn stage_upload(&self, target: &[u8], mode: u32, replace: bool) -> io::Result<StagedUpload> {
        let jail = self.enter()?;
        let Staged {
            file,
            hidden_name,
            replaced,
        } = jail.stage(target, mode)?;
        if replaced.is_some() && !replace {
            if let Some(hidden) = &hidden_name {
                jail.discard(target, hidden);
            }
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let kept = file.try_clone()?;
        Ok(StagedUpload {
            file: handle(file),
            staging: Staging {
                target: target.to_vec(),
                file: handle(kept),
                hidden_name,
                replace,
                replaced,
            },
        })
    }

    fn commit_upload(&self, staging: Staging) -> io::Result<()> {
        let file = File::from(staging.file);
        if let Some((uid, gid, mode)) = staging.replaced {
            // As a plain STOR, which rewrites the file in place, would leave them.
            self.enter()?;
            let _ = sysfs::fchmod_fd(file.as_fd(), mode);
            if self.own_ids().is_some_and(|own| own != (uid, gid)) {
                let _ = self.privileged(|| sysfs::fchown_fd(file.as_fd(), Some(uid), Some(gid)));
            }
        }
        let jail = self.enter()?;
        jail.commit(
            &file,
            staging.hidden_name.as_deref(),
            &staging.target,
            staging.replace,
        )
    }

    fn discard_upload(&self, staging: Staging) {
        if let (Some(hidden), Ok(jail)) = (&staging.hidden_name, self.enter()) {
            jail.discard(&staging.target, hidden);
        }
    }

    fn mkdir(&self, vpath: &[u8], mode: u32) -> io::Result<()> {
        self.enter()?.mkdir(vpath, mode)
    }

    fn rmdir(&self, vpath: &[u8]) -> io::Result<()> {
        self.enter()?.rmdir(vpath)
    }

    fn unlink(&self, vpath: &[u8]) -> io::Result<()> {
        self.enter()?.unlink(vpath)
    }

    fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        self.enter()?.rename(from, to)
    }

    fn chmod(&self, vpath: &[u8], mode: u32) -> io::Result<()> {
        self.enter()?.chmod(vpath, mode)
    }

    fn set_mtime(&self, vpath: &[u8], unix_secs: i64) -> io::Result<()> {
        self.enter()?.set_mtime(vpath, unix_secs)
    }

    fn give_away(&self, file: &FileHandle, uid: u32, mode: u32) -> io::Result<()> {
        // The mode as the file's owner, then the owner as ringd: vsftpd's order.
        self.enter()?;
        sysfs::fchmod_fd(file.as_fd(), mode & 0o7777)?;
        self.privileged(|| sysfs::fchown_fd(file.as_fd(), Some(uid), None))
    }

    fn truncate(&self, file: &FileHandle) -> io::Result<()> {
        rustix::fs::ftruncate(file, 0).map_err(io::Error::from)
    }

    fn size_of(&self, file: &FileHandle) -> io::Result<u64> {
        Ok(sysfs::fstat(file.as_fd())?.size)
    }
}

/// The filesystem of a session not logged in yet: it can reach nothing.
pub struct NoFilesystem;

fn nothing<T>() -> io::Result<T> {
    Err(io::Error::from_raw_os_error(libc::EACCES))
}

impl SessionFs for NoFilesystem {
    fn stat(&self, _: &[u8]) -> io::Result<EntryInfo> {
        nothing()
    }
    fn stat_follow(&self, _: &[u8]) -> io::Result<EntryInfo> {
        nothing()
    }
    fn is_dir(&self, _: &[u8]) -> bool {
        false
    }
    fn read_dir_names(&self, _: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        nothing()
    }
    fn stat_entries(&self, _: &[u8], _: &[Vec<u8>]) -> io::Result<Vec<EntryInfo>> {
        nothing()
    }
    fn read_small(&self, _: &[u8], _: usize) -> Option<Vec<u8>> {
        None
    }
    fn open_download(&self, _: &[u8]) -> io::Result<Download> {
        nothing()
    }
    fn open_upload(&self, _: &[u8], _: WriteHow, _: u32) -> io::Result<FileHandle> {
        nothing()
    }
    fn create_unique(&self, _: &[u8], _: &[u8], _: u32) -> io::Result<(FileHandle, Vec<u8>)> {
        nothing()
    }
    fn stage_upload(&self, _: &[u8], _: u32, _: bool) -> io::Result<StagedUpload> {
        nothing()
    }
    fn commit_upload(&self, _: Staging) -> io::Result<()> {
        nothing()
    }
    fn discard_upload(&self, _: Staging) {}
    fn mkdir(&self, _: &[u8], _: u32) -> io::Result<()> {
        nothing()
    }
    fn rmdir(&self, _: &[u8]) -> io::Result<()> {
        nothing()
    }
    fn unlink(&self, _: &[u8]) -> io::Result<()> {
        nothing()
    }
    fn rename(&self, _: &[u8], _: &[u8]) -> io::Result<()> {
        nothing()
    }
    fn chmod(&self, _: &[u8], _: u32) -> io::Result<()> {
        nothing()
    }
    fn set_mtime(&self, _: &[u8], _: i64) -> io::Result<()> {
        nothing()
    }
    fn give_away(&self, _: &FileHandle, _: u32, _: u32) -> io::Result<()> {
        nothing()
    }
    fn truncate(&self, _: &FileHandle) -> io::Result<()> {
        nothing()
    }
    fn size_of(&self, _: &FileHandle) -> io::Result<u64> {
        nothing()
    }
}

/// The users sessions act as, resolved once when the FTP service starts.
#[derive(Debug)]
pub struct SessionIdentities {
    anonymous: Credentials,
    guest: Credentials,
    /// Sessions of system accounts act as themselves; without root every session acts as
    /// ringd's own user.
    switching: bool,
}

/// A system account's credentials, as the account database gives them.
fn account_credentials(name: &str, option: &str) -> Result<Credentials, String> {
    let account = accounts::user_by_name(name)
        .map_err(|err| format!("cannot look {option}={name} up: {err}"))?
        .ok_or_else(|| {
            format!(
                "{option}={name} is not a user of this system, and sessions act as it (as \
                 vsftpd's); create it (useradd --system --shell /usr/sbin/nologin {name}) or \
                 set {option} to an existing user"
            )
        })?;
    let groups = accounts::group_ids(name, account.gid).unwrap_or_else(|_| vec![account.gid]);
    Ok(Credentials::User(Arc::new(FsIdentity {
        uid: account.uid,
        gid: account.gid,
        groups,
    })))
}

impl SessionIdentities {
    /// Resolves `ftp_username` and `guest_username` where sessions act as them. `switching`:
    /// ringd may act as other users (started as root, `run_as_launching_user=NO`).
    pub fn resolve(
        config: &FtpConfig,
        virtual_users: bool,
        switching: bool,
    ) -> Result<SessionIdentities, String> {
        if !switching {
            if config.local_enable && !virtual_users {
                return Err(
                    "local_enable=YES logs system accounts in with their own rights, which needs \
                     ringd started as root without run_as_launching_user=YES (or serve virtual \
                     users with virtual_users_file=)"
                        .into(),
                );
            }
            return Ok(SessionIdentities {
                anonymous: Credentials::Process,
                guest: Credentials::Process,
                switching,
            });
        }
        let anonymous = if config.anonymous_enable {
            account_credentials(&config.ftp_username, "ftp_username")?
        } else {
            Credentials::Process
        };
        let guests = config.local_enable && (config.guest_enable || virtual_users);
        let guest = if guests {
            account_credentials(&config.guest_username, "guest_username")?
        } else {
            Credentials::Process
        };
        Ok(SessionIdentities {
            anonymous,
            guest,
            switching,
        })
    }

    /// The credentials of a session that logged in as `identity`.
    pub fn credentials(&self, identity: &SessionIdentity) -> Credentials {
        match identity {
            SessionIdentity::Anonymous => self.anonymous.clone(),
            SessionIdentity::Guest => self.guest.clone(),
            SessionIdentity::Account(identity) if self.switching => {
                Credentials::User(Arc::new(identity.clone()))
            }
            SessionIdentity::Account(_) => Credentials::Process,
        }
    }
}
