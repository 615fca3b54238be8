//! File operations: CWD, SIZE, MDTM, MKD, RMD, DELE, RNFR/RNTO and SITE.

use super::*;

impl LoggedIn {
    pub(super) fn change_directory(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let Some(target) = self.path_argument(arg) else {
            return say(replies::CHANGE_DIRECTORY_FAILED);
        };
        if self.denied(&target) {
            return say(replies::NO_PERMISSION);
        }
        if !fs.is_dir(&target) {
            return say(replies::CHANGE_DIRECTORY_FAILED);
        }
        self.user.cwd = target.clone();
        let message = self.directory_message(&target, fs);
        send(replies::with_message(&message, replies::DIRECTORY_CHANGED))
    }

    pub(super) fn regular_file(
        &self,
        path: &[u8],
        fs: &dyn SessionFs,
    ) -> Option<listing::EntryInfo> {
        fs.stat_follow(path)
            .ok()
            .filter(|info| info.kind == EntryKind::File)
    }

    pub(super) fn size(&self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let Some(path) = self.path_argument(arg) else {
            return say(replies::COULD_NOT_GET_SIZE);
        };
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        match self.regular_file(&path, fs) {
            Some(info) => send(replies::size(info.size)),
            None => say(replies::COULD_NOT_GET_SIZE),
        }
    }

    pub(super) fn modification_time(
        &mut self,
        path: &[u8],
        set: Option<command::SetModificationTime>,
        fs: &dyn SessionFs,
    ) -> Vec<Action> {
        let Some(resolved) = self.path_argument(path) else {
            return say(replies::COULD_NOT_GET_MDTM);
        };
        if self.denied(&resolved) {
            return say(replies::NO_PERMISSION);
        }
        let utc_offset = self.context.listing_utc_offset(&self.config);
        if let Some(info) = self.regular_file(&resolved, fs) {
            return send(replies::modification_time(
                info.mtime.saturating_add(utc_offset),
            ));
        }
        let config = &self.config;
        let writable = config.write_enable && config.mdtm_write && !self.user.anonymous;
        match set {
            Some(set) if writable => {
                let Some(target) = self.path_argument(&set.path) else {
                    return say(replies::COULD_NOT_SET_MDTM);
                };
                if self.denied(&target) {
                    return say(replies::NO_PERMISSION);
                }
                match fs.set_mtime(&target, set.unix_time.saturating_sub(utc_offset)) {
                    Ok(()) => say(replies::MDTM_SET),
                    Err(_) => say(replies::COULD_NOT_SET_MDTM),
                }
            }
            _ => say(replies::COULD_NOT_GET_MDTM),
        }
    }

    /// A file operation vsftpd logs: the `deny_file` check, the filesystem call, the log event
    /// and the reply for either outcome. An empty argument names no file, as vsftpd's system
    /// call on `""` finds none.
    pub(super) fn logged_operation(
        &self,
        arg: &[u8],
        operate: impl FnOnce(&[u8]) -> std::io::Result<()>,
        event: fn(bool, IpAddr, Vec<u8>, Vec<u8>) -> LogEvent,
        done: impl FnOnce(&[u8]) -> Reply,
        failed: FixedReply,
    ) -> Vec<Action> {
        let path = self.path_argument(arg);
        if path.as_deref().is_some_and(|path| self.denied(path)) {
            return say(replies::NO_PERMISSION);
        }
        let ok = path.as_deref().is_some_and(|path| operate(path).is_ok());
        let log = event(
            ok,
            self.peer.ip(),
            self.user.shown_name.clone(),
            self.log_path(arg),
        );
        let reply = match (&path, ok) {
            (Some(path), true) => done(path),
            _ => failed.reply(),
        };
        vec![Action::Log(Box::new(log)), Action::Reply(reply)]
    }

    pub(super) fn make_directory(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let mode = 0o777 & !self.user.umask;
        self.logged_operation(
            arg,
            |path| fs.mkdir(path, mode),
            |ok, remote_ip, user, path| LogEvent::Mkdir {
                ok,
                remote_ip,
                user,
                path,
            },
            replies::directory_created,
            replies::MKDIR_FAILED,
        )
    }

    pub(super) fn remove_directory(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.logged_operation(
            arg,
            |path| fs.rmdir(path),
            |ok, remote_ip, user, path| LogEvent::Rmdir {
                ok,
                remote_ip,
                user,
                path,
            },
            |_| replies::RMDIR_OK.reply(),
            replies::RMDIR_FAILED,
        )
    }

    pub(super) fn delete(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.logged_operation(
            arg,
            |path| fs.unlink(path),
            |ok, remote_ip, user, path| LogEvent::Delete {
                ok,
                remote_ip,
                user,
                path,
            },
            |_| replies::DELETE_OK.reply(),
            replies::DELETE_FAILED,
        )
    }

    pub(super) fn rename_from(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        self.rename_from = None;
        let Some(path) = self.path_argument(arg) else {
            return say(replies::RNFR_FAILED);
        };
        if self.denied(&path) {
            return say(replies::NO_PERMISSION);
        }
        if fs.stat(&path).is_err() {
            return say(replies::RNFR_FAILED);
        }
        self.rename_from = Some(path);
        say(replies::READY_FOR_RNTO)
    }

    pub(super) fn rename_to(&mut self, arg: &[u8], fs: &dyn SessionFs) -> Vec<Action> {
        let Some(from) = self.rename_from.take() else {
            return say(replies::RNFR_REQUIRED_FIRST);
        };
        let to = self.path_argument(arg);
        if to.as_deref().is_some_and(|to| self.denied(to)) {
            return say(replies::NO_PERMISSION);
        }
        let renamed = to.as_deref().is_some_and(|to| fs.rename(&from, to).is_ok());
        let log = Action::Log(Box::new(LogEvent::Rename {
            ok: renamed,
            remote_ip: self.peer.ip(),
            user: self.user.shown_name.clone(),
            from,
            to: Some(self.log_path(arg)),
        }));
        let reply = if renamed {
            replies::RENAME_OK
        } else {
            replies::RENAME_FAILED
        };
        vec![log, Action::Reply(reply.reply())]
    }

    pub(super) fn site(&mut self, site: SiteCommand, fs: &dyn SessionFs) -> Vec<Action> {
        let chmod_enable = self.config.chmod_enable && self.config.write_enable;
        match site {
            SiteCommand::Help => send(replies::site_help(chmod_enable)),
            SiteCommand::Chmod(_, path) if chmod_enable && path.is_empty() => {
                say(replies::SITE_CHMOD_NEEDS_ARGUMENTS)
            }
            SiteCommand::Chmod(mode, arg) if chmod_enable => {
                let path = self.resolve(&arg);
                if self.denied(&path) {
                    return say(replies::NO_PERMISSION);
                }
                // vsftpd masks the mode with 0777: no set-id or sticky bits through FTP.
                let changed = fs.chmod(&path, mode & 0o777).is_ok();
                let log = Action::Log(Box::new(LogEvent::Chmod {
                    ok: changed,
                    remote_ip: self.peer.ip(),
                    user: self.user.shown_name.clone(),
                    path: self.log_path(&arg),
                    mode: format!("{mode:o}").into_bytes(),
                }));
                let reply = if changed {
                    replies::SITE_CHMOD_OK
                } else {
                    replies::SITE_CHMOD_FAILED
                };
                vec![log, Action::Reply(reply.reply())]
            }
            SiteCommand::Umask(Some(mask)) => {
                self.user.umask = mask & 0o777;
                send(replies::umask_set(mask & 0o777))
            }
            SiteCommand::Umask(None) => send(replies::current_umask(self.user.umask)),
            SiteCommand::Chmod(..) | SiteCommand::Other(_) => say(replies::UNKNOWN_SITE_COMMAND),
        }
    }
}

#[cfg(test)]
mod tests;
