//! Logging in: USER and PASS, the verdict the shell brings back from the login threads, and entering the session's root.

use std::os::unix::ffi::OsStrExt;

use super::*;

impl BeforeLogin {
    pub(super) fn is_anonymous_name(&self, name: &[u8]) -> bool {
        self.config.anonymous_enable
            && (name.eq_ignore_ascii_case(b"ftp") || name.eq_ignore_ascii_case(b"anonymous"))
    }

    pub(super) fn handle_user(&mut self, name: Vec<u8>) -> Vec<Action> {
        let config = &self.config;
        let anonymous = self.is_anonymous_name(&name);
        self.pending_user = None;
        if !config.local_enable && !anonymous {
            return say(replies::ANONYMOUS_ONLY);
        }
        if let Some(refusal) = self.tls_login_refusal(anonymous) {
            return refusal;
        }
        if config.userlist_enable {
            let listed = self.context.user_list.contains(&text(&name));
            if listed == config.userlist_deny {
                return self.login_failed(replies::LOGIN_PERMISSION_DENIED);
            }
        }
        self.pending_user = Some(name);
        if anonymous && config.no_anon_password {
            return self.handle_pass(b"<no password>".to_vec());
        }
        say(replies::SPECIFY_PASSWORD)
    }

    /// A refused login: vsftpd's delay first, then the reply, and the session ends after
    /// `max_login_fails` refusals.
    pub(super) fn login_failed(&mut self, refusal: FixedReply) -> Vec<Action> {
        let mut actions = Vec::new();
        let delay = self.config.delay_failed_login;
        if delay > 0 {
            actions.push(Action::Pause(Duration::from_secs(u64::from(delay))));
        }
        actions.push(Action::Reply(refusal.reply()));
        self.login_failures += 1;
        let max = self.config.max_login_fails;
        // vsftpd closes once `++fails >= max_login_fails`, so 0 closes on the first failure.
        if self.login_failures >= max {
            actions.push(Action::Close);
        }
        actions
    }

    /// A refused password: vsftpd logs `FAIL LOGIN` first, then waits (the verifier's own
    /// delay, such as PAM's, and then `delay_failed_login`) and refuses.
    pub(super) fn password_refused(
        &mut self,
        name: Vec<u8>,
        verifier_delay: Duration,
    ) -> Vec<Action> {
        let mut actions = vec![Action::Log(Box::new(LogEvent::Login {
            ok: false,
            remote_ip: self.peer.ip(),
            user: name,
            anon_password: None,
        }))];
        if !verifier_delay.is_zero() {
            actions.push(Action::Pause(verifier_delay));
        }
        actions.extend(self.login_failed(replies::LOGIN_INCORRECT));
        actions
    }

    pub(super) fn handle_pass(&mut self, password: Vec<u8>) -> Vec<Action> {
        let Some(name) = self.pending_user.take() else {
            return say(replies::LOGIN_WITH_USER_FIRST);
        };
        let context = Arc::clone(&self.context);
        let config = &context.config;
        let anonymous = self.is_anonymous_name(&name);
        if anonymous {
            let password_text = text(&password);
            let banned = config.deny_email_enable && context.banned_emails.contains(&password_text);
            let not_listed =
                config.secure_email_list_enable && !context.secure_emails.contains(&password_text);
            if banned || not_listed {
                return self.password_refused(name, Duration::ZERO);
            }
            self.login = Some(Box::new(PendingLogin {
                name: name.clone(),
                anonymous: true,
                anon_password: password,
                plan: None,
            }));
            // vsftpd reads the anonymous user's options file under ftp_username's name.
            return match &config.user_config_dir {
                Some(dir) => vec![Action::Authenticate(Box::new(AuthRequest {
                    user: config.ftp_username.clone(),
                    password: Vec::new(),
                    method: AuthMethod::Nothing,
                    remote_ip: self.peer.ip(),
                    user_config_dir: Some(dir.clone()),
                }))],
                None => self.login_verified(config.ftp_username.clone(), None, None),
            };
        }
        let name_text = text(&name).into_owned();
        if !login::plausible(&name, &password) || context.ftpusers.contains(&name_text) {
            return self.password_refused(name, Duration::ZERO);
        }
        let method = if context.virtual_users.is_some() {
            AuthMethod::VirtualUser
        } else {
            AuthMethod::SystemAccount {
                service: config.pam_service_name.clone(),
                check_shell: config.check_shell,
            }
        };
        self.login = Some(Box::new(PendingLogin {
            name,
            anonymous: false,
            anon_password: Vec::new(),
            plan: None,
        }));
        vec![Action::Authenticate(Box::new(AuthRequest {
            user: name_text,
            password,
            method,
            remote_ip: self.peer.ip(),
            user_config_dir: config.user_config_dir.clone(),
        }))]
    }

    pub(super) fn authenticated(&mut self, outcome: AuthOutcome) -> Vec<Action> {
        let Some(pending) = self.login.as_ref() else {
            return Vec::new();
        };
        match outcome {
            AuthOutcome::Refused { delay } => {
                let name = pending.name.clone();
                self.login = None;
                self.password_refused(name, delay)
            }
            AuthOutcome::Accepted {
                user,
                account,
                user_config,
            } => self.login_verified(user, account, user_config),
        }
    }

    /// A login the shell verified (or an anonymous one): apply the user's options, decide
    /// where the session lives, and ask the shell to open it.
    pub(super) fn login_verified(
        &mut self,
        user: String,
        account: Option<login::Account>,
        user_config: Option<Result<Vec<u8>, String>>,
    ) -> Vec<Action> {
        let Some(mut pending) = self.login.take() else {
            return Vec::new();
        };
        if let Some(per_user) = user_config {
            let applied = per_user.and_then(|text| {
                let origin = self
                    .config
                    .user_config_dir
                    .as_ref()
                    .map(|dir| dir.join(&user).display().to_string())
                    .unwrap_or_default();
                vsftpd::apply_user_options(&self.config, &text, &origin)
                    .map_err(|error| error.to_string())
            });
            match applied {
                Ok(config) => self.config = Arc::new(config),
                Err(error) => return oops(&error),
            }
        }
        let context = Arc::clone(&self.context);
        let server = PlanContext {
            anonymous_root: context.anonymous_root(),
            guest_home: context.guest_home(),
            chroot_list: &context.chroot_list,
        };
        let kind = match (&account, pending.anonymous) {
            (_, true) => LoginKind::Anonymous,
            (Some(account), false) => LoginKind::SystemAccount {
                name: &user,
                account,
            },
            (None, false) => LoginKind::VirtualUser { name: &user },
        };
        let plan = match login::plan(&self.config, kind, &server) {
            Ok(plan) => plan,
            Err(Oops(text)) => return oops(&text),
        };
        if !pending.anonymous {
            pending.name = user.into_bytes();
        }
        let open = plan.open.clone();
        pending.plan = Some(plan);
        self.login = Some(pending);
        vec![Action::OpenRoot(Box::new(open))]
    }

    /// Enters the root the shell opened (`opened`), or could not: the logged-in session with
    /// its `230`, or what to reply instead (nothing when no login waits for its root).
    pub(super) fn enter_root(
        &mut self,
        opened: bool,
        fs: &dyn SessionFs,
    ) -> Result<(LoggedIn, Vec<Action>), Vec<Action>> {
        let Some(pending) = self.login.take() else {
            return Err(Vec::new());
        };
        let Some(plan) = pending.plan else {
            return Err(Vec::new());
        };
        if !opened {
            return Err(oops(&format!(
                "cannot change directory:{}",
                plan.open.root.display()
            )));
        }
        let cwd = match &plan.fallback_cwd {
            // Not jailed: local_root if it can be entered, else the home, as vsftpd does.
            Some(home) if !fs.is_dir(&plan.cwd) => {
                if !fs.is_dir(home) {
                    return Err(oops(&format!(
                        "cannot change directory:{}",
                        String::from_utf8_lossy(home)
                    )));
                }
                home.clone()
            }
            None if plan.cwd != b"/" && !fs.is_dir(&plan.cwd) => {
                return Err(oops(&format!(
                    "cannot change directory:{}",
                    String::from_utf8_lossy(&plan.cwd)
                )));
            }
            _ => plan.cwd.clone(),
        };
        let umask = if plan.anonymous_privileges {
            self.config.anon_umask
        } else {
            self.config.local_umask
        };
        let mut logged_in = LoggedIn {
            context: Arc::clone(&self.context),
            config: Arc::clone(&self.config),
            peer: self.peer,
            local: self.local,
            facts: self.facts,
            security: self.security,
            user: User {
                shown_name: plan.shown_name,
                anonymous: plan.anonymous_privileges,
                access: plan.access,
                anon_password: pending.anon_password.clone(),
                cwd: cwd.clone(),
                home: cwd.clone(),
                umask,
                messages_shown: HashSet::new(),
            },
            data: DataSetup::None,
            epsv_all: false,
            restart_offset: 0,
            rename_from: None,
            // RFC 959's default, and vsftpd's: the transfers convert only where
            // ascii_download_enable/ascii_upload_enable say so.
            ascii: true,
            clients_at_start: self.clients_at_start,
            transfer: None,
            upload: None,
            awaiting_lock: None,
        };
        let message = logged_in.directory_message(&cwd, fs);
        let welcome = vec![
            Action::Log(Box::new(LogEvent::Login {
                ok: true,
                remote_ip: self.peer.ip(),
                user: logged_in.user.shown_name.clone(),
                anon_password: pending.anonymous.then_some(pending.anon_password),
            })),
            Action::Reply(replies::with_message(&message, replies::LOGIN_SUCCESSFUL)),
        ];
        Ok((logged_in, welcome))
    }
}

impl LoggedIn {
    /// The `message_file` of `dir`, once per directory per session, as vsftpd shows it.
    pub(super) fn directory_message(&mut self, dir: &[u8], fs: &dyn SessionFs) -> Vec<u8> {
        if !self.config.dirmessage_enable || !self.user.messages_shown.insert(dir.to_vec()) {
            return Vec::new();
        }
        let path = resolve(dir, self.config.message_file.as_os_str().as_bytes());
        fs.read_small(&path, replies::MESSAGE_FILE_MAX_BYTES)
            .unwrap_or_default()
    }

    pub(super) fn user_after_login(&self, name: &[u8]) -> Vec<Action> {
        let user = &self.user;
        if user.anonymous {
            say(replies::CANNOT_CHANGE_FROM_GUEST)
        } else if user.shown_name == name {
            say(replies::ANY_PASSWORD_WILL_DO)
        } else {
            say(replies::CANNOT_CHANGE_USER)
        }
    }
}

#[cfg(test)]
mod tests;
