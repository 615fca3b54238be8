//! What ringd keeps of root's rights for the running configuration, decided before any thread starts: the capabilities of each kind of thread and why, the user an NTP-only ringd becomes, and the user threads that need no one's rights run as.
//!
//! Linux keeps capabilities per thread, so each thread keeps only what its own work needs:
//! an FTP shard may switch to its sessions' users, an NTP shard may do nothing but answer.
//! The main thread keeps only what binding needs, for a reload that changes a listening address. `sys::privileges`
//! applies the plan; `ringd --check` prints it.

use std::fmt;
use std::sync::{mpsc, OnceLock};
use std::thread::JoinHandle;

use rustix::thread::CapabilitySet;

use crate::sys::privileges as sys;

/// The kinds of ringd's threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Reads the configuration, binds the sockets, starts the rest, waits for signals.
    Main,
    NtpShard,
    /// `ntp-clock` and `ntp-sync`: publish the served time; with `--control-clock`, steer
    /// the system clock.
    Clock,
    /// Answers `ringctl`.
    Control,
    FtpShard,
    /// Verifies FTP logins (crypt, PAM).
    FtpAuth,
    /// Serves NTS key establishment: TLS and the `ntsdumpdir` files, as the process's user
    /// with no capability.
    NtsKe,
}

/// One capability kept, by which threads, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub capability: CapabilitySet,
    pub roles: Vec<Role>,
    pub why: String,
}

/// What the running configuration needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Started as root (euid 0 with the set-id capabilities); otherwise there is nothing to
    /// give up and no user to switch to.
    pub root: bool,
    /// Ports bound at start below 1024 (NTP's 123, FTP's 21).
    pub privileged_ports: Vec<u16>,
    pub ntp: bool,
    /// `--control-clock` with upstream sources.
    pub controls_clock: bool,
    /// chrony.conf's `user` (or `-u`): an NTP-only ringd becomes this user after binding.
    pub ntp_user: Option<String>,
    pub ftp: bool,
    /// FTP sessions act as their users (root, without `run_as_launching_user`).
    pub ftp_switches_users: bool,
    /// `chown_uploads`, or atomic uploads keeping a replaced file's owner.
    pub ftp_chowns: bool,
    /// `connect_from_port_20` with an `ftp_data_port` below 1024.
    pub ftp_data_port_below_1024: Option<u16>,
    /// System accounts log in through PAM, which reads /etc/shadow (mode 0000 on Red Hat
    /// systems, readable only with `CAP_DAC_READ_SEARCH`).
    pub ftp_system_accounts: bool,
    /// `nopriv_user`: NTP shards, the control thread and the clock thread (unless it steers
    /// the clock) become it when the process stays root for FTP.
    pub nopriv_user: Option<String>,
}

/// The decided plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub kept: Vec<Kept>,
    /// The user the whole process becomes (NTP only).
    pub process_user: Option<String>,
    /// The user NTP shards, the clock and the control threads become (FTP keeps the process
    /// root).
    pub thread_user: Option<String>,
    pub root: bool,
}

impl Plan {
    pub fn from_needs(needs: &Needs) -> Plan {
        let mut kept = Vec::new();
        if !needs.root {
            return Plan {
                kept,
                process_user: None,
                thread_user: None,
                root: false,
            };
        }
        let mut keep = |capability, roles: &[Role], why: String| {
            kept.push(Kept {
                capability,
                roles: roles.to_vec(),
                why,
            })
        };
        // Binding uses it on the main thread, at start and when a reload changes a listening
        // address; active data connections from a port below 1024 need it on the FTP shards.
        if let Some(port) = needs.ftp_data_port_below_1024 {
            keep(
                CapabilitySet::NET_BIND_SERVICE,
                &[Role::FtpShard],
                format!("active data connections from port {port} (connect_from_port_20)"),
            );
        }
        if !needs.privileged_ports.is_empty() {
            keep(
                CapabilitySet::NET_BIND_SERVICE,
                &[Role::Main],
                format!(
                    "binding port {} at start, and a reload's new listening address (main \
                     thread only)",
                    join_ports(&needs.privileged_ports)
                ),
            );
        }
        if needs.ftp && needs.ftp_switches_users {
            keep(
                CapabilitySet::SETUID | CapabilitySet::SETGID,
                &[Role::FtpShard],
                "FTP sessions act as their users: file-system uid, gid and groups per session"
                    .into(),
            );
            if needs.ftp_chowns {
                keep(
                    CapabilitySet::CHOWN,
                    &[Role::FtpShard],
                    "chown_uploads, and atomic uploads keeping a replaced file's owner".into(),
                );
            }
            if needs.ftp_system_accounts {
                keep(
                    CapabilitySet::DAC_READ_SEARCH,
                    &[Role::FtpAuth],
                    "PAM reads /etc/shadow for system accounts (local_enable=YES)".into(),
                );
            }
        }
        if needs.ntp && needs.controls_clock {
            keep(
                CapabilitySet::SYS_TIME,
                &[Role::Clock],
                "--control-clock: the sync engine steers the system clock".into(),
            );
        }
        let ntp_only = needs.ntp && !needs.ftp;
        let process_user = needs.ntp_user.clone().filter(|_| ntp_only);
        let thread_user = if needs.ftp && needs.ntp {
            needs.nopriv_user.clone()
        } else {
            None
        };
        // Becoming another user needs the set-id capabilities on the threads that do it.
        if process_user.is_some() {
            keep(
                CapabilitySet::SETUID | CapabilitySet::SETGID,
                &[],
                format!(
                    "becoming user {} (chrony.conf `user`) before any thread starts",
                    process_user.as_deref().unwrap_or_default()
                ),
            );
        }
        if thread_user.is_some() {
            let roles: &[Role] = if needs.controls_clock {
                &[Role::NtpShard, Role::Control]
            } else {
                &[Role::NtpShard, Role::Control, Role::Clock]
            };
            keep(
                CapabilitySet::SETUID | CapabilitySet::SETGID,
                roles,
                format!(
                    "NTP shards, the clock and the control threads become {} (nopriv_user) as \
                     they start",
                    thread_user.as_deref().unwrap_or_default()
                ),
            );
        }
        Plan {
            kept,
            process_user,
            thread_user,
            root: true,
        }
    }

    /// Whether a process running with this plan has every right `other` needs once running:
    /// what a reload may ask for without a restart.
    pub fn covers(&self, other: &Plan) -> bool {
        const ROLES: [Role; 7] = [
            Role::Main,
            Role::NtpShard,
            Role::Clock,
            Role::Control,
            Role::FtpShard,
            Role::FtpAuth,
            Role::NtsKe,
        ];
        (self.root, &self.process_user, &self.thread_user)
            == (other.root, &other.process_user, &other.thread_user)
            && ROLES
                .iter()
                .all(|role| self.for_role(*role).contains(other.for_role(*role)))
    }

    /// Every capability some thread keeps, at any time.
    pub fn union(&self) -> CapabilitySet {
        self.kept
            .iter()
            .fold(CapabilitySet::empty(), |all, kept| all | kept.capability)
    }

    /// What a thread of `role` keeps once running.
    pub fn for_role(&self, role: Role) -> CapabilitySet {
        self.kept
            .iter()
            .filter(|kept| kept.roles.contains(&role))
            .fold(CapabilitySet::empty(), |all, kept| all | kept.capability)
    }
}

fn join_ports(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CAP_SETUID`-style names, for people.
pub fn capability_names(set: CapabilitySet) -> Vec<&'static str> {
    const NAMES: [(CapabilitySet, &str); 7] = [
        (CapabilitySet::CHOWN, "CAP_CHOWN"),
        (CapabilitySet::DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"),
        (CapabilitySet::SETGID, "CAP_SETGID"),
        (CapabilitySet::SETUID, "CAP_SETUID"),
        (CapabilitySet::NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"),
        (CapabilitySet::SYS_TIME, "CAP_SYS_TIME"),
        (CapabilitySet::SYS_ADMIN, "CAP_SYS_ADMIN"),
    ];
    NAMES
        .iter()
        .filter(|(capability, _)| set.contains(*capability))
        .map(|(_, name)| *name)
        .collect()
}

/// `ringd --check`'s account of the plan.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.root {
            return writeln!(
                f,
                "# not started as root: ringd keeps no capability and every FTP session acts as \
                 this user (as vsftpd's run_as_launching_user=YES)"
            );
        }
        if let Some(user) = &self.process_user {
            writeln!(f, "# runs as user {user} once its ports are bound")?;
        }
        if let Some(user) = &self.thread_user {
            writeln!(
                f,
                "# NTP shards, the clock and the control threads run as user {user} (nopriv_user)"
            )?;
        }
        if self.kept.is_empty() {
            return writeln!(f, "# capabilities kept: none");
        }
        writeln!(
            f,
            "# capabilities kept (every other one is dropped, no-new-privileges is set):"
        )?;
        for kept in &self.kept {
            writeln!(
                f,
                "#   {}: {}",
                capability_names(kept.capability).join(", "),
                kept.why
            )?;
        }
        Ok(())
    }
}

/// The plan in force, and the ids of its `thread_user`.
static PLAN: OnceLock<(Plan, Option<(u32, u32)>)> = OnceLock::new();

/// Applies `plan` to the process while it has one thread: the bounding set, no-new-privileges
/// and, for an NTP-only ringd, its user (`process_user`: uid, gid, groups). `thread_user` are
/// the ids of the plan's `thread_user`. Threads started afterwards call [`enter`].
pub fn prepare(
    plan: Plan,
    process_user: Option<(u32, u32, Vec<u32>)>,
    thread_user: Option<(u32, u32)>,
) -> std::io::Result<()> {
    if plan.root {
        sys::limit_bounding_set(plan.union())?;
        if let Some((uid, gid, groups)) = process_user {
            sys::become_user(uid, gid, &groups, plan.union())?;
        }
    }
    sys::set_no_new_privs()?;
    let _ = PLAN.set((plan, thread_user));
    Ok(())
}

/// Called first thing by every thread ringd starts (and by the main thread once the services
/// listen): keeps only what `role` needs, and for the roles that need no one's rights, becomes
/// the plan's `thread_user`. Nothing happens without a plan (ringd's library in tests) or
/// when not root.
pub fn enter(role: Role) -> std::io::Result<()> {
    let Some((plan, thread_user)) = PLAN.get().filter(|(plan, _)| plan.root) else {
        return Ok(());
    };
    let needs_no_one = match role {
        Role::NtpShard | Role::Control => true,
        // Reading the system clock's state needs no one's rights; steering it needs root's
        // CAP_SYS_TIME.
        Role::Clock => !plan.for_role(Role::Clock).contains(CapabilitySet::SYS_TIME),
        Role::Main | Role::FtpShard | Role::FtpAuth | Role::NtsKe => false,
    };
    if let Some((uid, gid)) = thread_user.filter(|_| needs_no_one) {
        return sys::become_user(uid, gid, &[gid], CapabilitySet::empty());
    }
    sys::restrict_thread(plan.for_role(role))
}

/// Like [`enter`], for threads whose work goes on without it: a failure is logged.
pub fn enter_or_warn(role: Role) {
    if let Err(err) = enter(role) {
        tracing::warn!("cannot give up the rights a {role:?} thread does not need: {err}");
    }
}

/// Starts a thread named `name` that enters `role` before running `work`, and returns once
/// it has: ringd's readiness line says every thread keeps only its rights, so no thread may
/// still hold the starting thread's rights when it is printed.
pub fn spawn<T, F>(name: String, role: Role, work: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (entered_tx, entered) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new().name(name).spawn(move || {
        enter_or_warn(role);
        let _ = entered_tx.send(());
        work()
    })?;
    // A thread that panicked while entering its role dropped the sender: nothing to wait for.
    let _ = entered.recv();
    Ok(thread)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Needs {
        Needs {
            root: true,
            ..Needs::default()
        }
    }

    #[test]
    fn an_ntp_only_ringd_keeps_nothing_but_what_binding_port_123_needs() {
        let plan = Plan::from_needs(&Needs {
            ntp: true,
            privileged_ports: vec![123],
            ntp_user: Some("_chrony".into()),
            ..root()
        });
        assert_eq!(plan.process_user.as_deref(), Some("_chrony"));
        assert_eq!(plan.for_role(Role::NtpShard), CapabilitySet::empty());
        assert_eq!(plan.for_role(Role::Clock), CapabilitySet::empty());
        assert_eq!(
            plan.for_role(Role::Main),
            CapabilitySet::NET_BIND_SERVICE,
            "a reload may bind a new address on port 123"
        );
        let text = plan.to_string();
        assert!(text.contains("runs as user _chrony"), "{text}");
        assert!(
            text.contains("CAP_NET_BIND_SERVICE: binding port 123"),
            "{text}"
        );
    }

    #[test]
    fn a_reload_may_change_privileged_ports_but_not_ask_for_a_right_given_up() {
        let port = |ports: Vec<u16>| {
            Plan::from_needs(&Needs {
                ntp: true,
                privileged_ports: ports,
                ..root()
            })
        };
        assert!(port(vec![123]).covers(&port(vec![124])));
        assert!(port(vec![123]).covers(&port(vec![])));
        assert!(!port(vec![]).covers(&port(vec![123])));
        let clock = Plan::from_needs(&Needs {
            ntp: true,
            controls_clock: true,
            ..root()
        });
        assert!(!port(vec![123]).covers(&clock));
    }

    #[test]
    fn control_clock_keeps_sys_time_for_the_clock_threads_only() {
        let plan = Plan::from_needs(&Needs {
            ntp: true,
            controls_clock: true,
            ..root()
        });
        assert_eq!(plan.for_role(Role::Clock), CapabilitySet::SYS_TIME);
        assert_eq!(plan.for_role(Role::NtpShard), CapabilitySet::empty());
        assert_eq!(plan.for_role(Role::Main), CapabilitySet::empty());
    }

    #[test]
    fn ftp_shards_keep_the_set_id_capabilities_and_chown_when_asked() {
        let needs = Needs {
            ftp: true,
            ftp_switches_users: true,
            privileged_ports: vec![21],
            ..root()
        };
        let plan = Plan::from_needs(&needs);
        assert_eq!(
            plan.for_role(Role::FtpShard),
            CapabilitySet::SETUID | CapabilitySet::SETGID
        );
        assert_eq!(plan.for_role(Role::FtpAuth), CapabilitySet::empty());
        let plan = Plan::from_needs(&Needs {
            ftp_chowns: true,
            ftp_system_accounts: true,
            ftp_data_port_below_1024: Some(20),
            ..needs
        });
        assert_eq!(
            plan.for_role(Role::FtpShard),
            CapabilitySet::SETUID
                | CapabilitySet::SETGID
                | CapabilitySet::CHOWN
                | CapabilitySet::NET_BIND_SERVICE
        );
        assert_eq!(plan.for_role(Role::FtpAuth), CapabilitySet::DAC_READ_SEARCH);
        assert!(plan.to_string().contains("connect_from_port_20"));
    }

    #[test]
    fn with_ftp_the_process_stays_root_and_ntp_threads_become_nopriv_user() {
        let plan = Plan::from_needs(&Needs {
            ntp: true,
            ftp: true,
            ftp_switches_users: true,
            ntp_user: Some("_chrony".into()),
            nopriv_user: Some("nobody".into()),
            ..root()
        });
        assert_eq!(plan.process_user, None);
        assert_eq!(plan.thread_user.as_deref(), Some("nobody"));
        assert!(plan
            .for_role(Role::NtpShard)
            .contains(CapabilitySet::SETUID | CapabilitySet::SETGID));
    }

    #[test]
    fn not_root_keeps_nothing_and_says_so() {
        let plan = Plan::from_needs(&Needs {
            ftp: true,
            ..Needs::default()
        });
        assert_eq!(plan.union(), CapabilitySet::empty());
        assert!(plan.to_string().contains("run_as_launching_user"));
    }
}
