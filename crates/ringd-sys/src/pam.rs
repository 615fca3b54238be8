//! A minimal Linux-PAM client for FTP logins of system accounts: vsftpd 3.0.3's authenticate and account checks, without its sleeps or pam_setcred.
//!
//! libpam.so.0 is declared and linked here by its verbatim name, as fs.rs links libcrypt.so.1,
//! rather than through the `pam` or `pam-client` crates: their pam-sys links `-lpam` (the
//! libpam.so symlink only libpam0g-dev installs) or runs bindgen (clang and the PAM headers),
//! and ringd must build where only the runtime package libpam0g is installed.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::time::Duration;

// Values and layouts from Linux-PAM's libpam/include/security/_pam_types.h (checked against
// Linux-PAM 1.5.2, Debian 12's libpam0g; they have not changed since Linux-PAM 0.x).
const PAM_SUCCESS: c_int = 0;
const PAM_CONV_ERR: c_int = 19;
const PAM_USER: c_int = 2;
const PAM_TTY: c_int = 3;
const PAM_RHOST: c_int = 4;
const PAM_RUSER: c_int = 8;
const PAM_FAIL_DELAY: c_int = 10;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;
const PAM_MAX_NUM_MSG: c_int = 32;

/// `pam_handle_t`: opaque, only ever behind a pointer libpam gave out.
#[repr(C)]
struct PamHandle {
    _opaque: [u8; 0],
}

/// `struct pam_message`.
#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

/// `struct pam_response`: the array and each `resp` are freed by libpam with free(3).
#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

/// The `conv` member of `struct pam_conv`. Linux-PAM passes `msg` as an array of `num_msg`
/// pointers (`const struct pam_message **`), not as a pointer to an array as Solaris does.
type ConversationFn = unsafe extern "C" fn(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int;

/// `struct pam_conv`.
#[repr(C)]
struct PamConv {
    conv: Option<ConversationFn>,
    appdata_ptr: *mut c_void,
}

/// The PAM_FAIL_DELAY item: `void (*)(int retval, unsigned usec_delay, void *appdata_ptr)`,
/// called with the conversation's appdata_ptr.
type FailDelayFn =
    unsafe extern "C" fn(retval: c_int, usec_delay: c_uint, appdata_ptr: *mut c_void);

#[link(name = "libpam.so.0", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn pam_start(
        service_name: *const c_char,
        user: *const c_char,
        pam_conversation: *const PamConv,
        pamh: *mut *mut PamHandle,
    ) -> c_int;
    fn pam_end(pamh: *mut PamHandle, pam_status: c_int) -> c_int;
    fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_get_item(pamh: *const PamHandle, item_type: c_int, item: *mut *const c_void) -> c_int;
    fn pam_authenticate(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_acct_mgmt(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_strerror(pamh: *mut PamHandle, errnum: c_int) -> *const c_char;
}

/// One login attempt to put to a PAM service. Not `Debug`: it holds the password.
pub struct LoginCheck<'a> {
    /// The PAM service: `/etc/pam.d/<service>` (vsftpd.conf's `pam_service_name`).
    pub service: &'a str,
    /// The name the client sent with USER.
    pub user: &'a str,
    /// The password the client sent with PASS; it only ever goes to PAM.
    pub password: &'a [u8],
    /// The client's address as text, which vsftpd passes as PAM_RHOST (no reverse lookup).
    pub remote_host: Option<&'a str>,
}

/// Which call of the PAM stack refused a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PamStage {
    /// pam_authenticate: wrong password, unknown user, a module that said no.
    Authenticate,
    /// pam_acct_mgmt: the account expired, is locked, or is not allowed in now.
    Account,
}

/// What the PAM stack decided about a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PamVerdict {
    /// The stack accepted; `user` is PAM_USER after it ran (a module may map the name).
    Accepted { user: String },
    /// The stack refused. `reason` is pam_strerror's text; `delay` is how long the stack asked
    /// a failure to be held back (pam_unix: about 2 s), which the caller applies: PAM did not
    /// sleep.
    Refused {
        stage: PamStage,
        reason: String,
        delay: Duration,
    },
}

/// The PAM service could not be used at all (as opposed to refusing a login).
#[derive(Debug, thiserror::Error)]
pub enum PamError {
    #[error(
        "PAM service {service:?} cannot start: {reason} (check /etc/pam.d/{service}, or \
         /etc/pam.d/other if that file does not exist, and that the modules it names are installed)"
    )]
    Start { service: String, reason: String },
    #[error("PAM service {service:?}: setting {item} failed: {reason}")]
    SetItem {
        service: String,
        item: &'static str,
        reason: String,
    },
    #[error(
        "PAM service {service:?} accepted user {user:?} but left no usable user name \
         (PAM_USER): {reason}; check the modules in /etc/pam.d/{service} that map user names"
    )]
    MappedUser {
        service: String,
        user: String,
        reason: String,
    },
    #[error("PAM service {service:?}: {what} contains a NUL byte")]
    NulByte { service: String, what: &'static str },
}

/// What the conversation and the fail-delay callback share with [`check_login`], through the
/// conversation's appdata pointer.
struct Conversation<'a> {
    password: &'a [u8],
    /// The delay the stack asked for when pam_authenticate failed.
    failure_delay: Cell<Option<Duration>>,
}

/// A started PAM transaction; dropping it calls pam_end with the last status, as vsftpd does
/// on every path out.
struct Transaction {
    handle: *mut PamHandle,
    status: c_int,
}

impl Drop for Transaction {
    fn drop(&mut self) {
        // SAFETY: `handle` came from a successful pam_start and pam_end is called once, here.
        // The conversation data it points to is still alive: check_login declares it before
        // the Transaction, so it is dropped after.
        unsafe {
            pam_end(self.handle, self.status);
        }
    }
}

impl Transaction {
    fn set_item(
        &mut self,
        service: &str,
        item: c_int,
        item_name: &'static str,
        value: *const c_void,
    ) -> Result<(), PamError> {
        // SAFETY: the handle is live; `value` is a NUL-terminated string for the string items
        // (libpam copies it) or a function with the FailDelayFn signature for PAM_FAIL_DELAY
        // (libpam keeps the pointer; the function is static).
        let status = unsafe { pam_set_item(self.handle, item, value) };
        if status == PAM_SUCCESS {
            return Ok(());
        }
        self.status = status;
        Err(PamError::SetItem {
            service: service.to_owned(),
            item: item_name,
            reason: describe(status),
        })
    }
}

/// pam_strerror's text for `status`.
fn describe(status: c_int) -> String {
    // SAFETY: Linux-PAM's pam_strerror ignores its handle (so NULL is fine, also before
    // pam_start succeeded) and returns a static string for any value.
    let text = unsafe { pam_strerror(std::ptr::null_mut(), status) };
    if text.is_null() {
        return format!("PAM error {status}");
    }
    // SAFETY: a non-NULL result is a static NUL-terminated string.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// Puts a login to the PAM service `check.service` as vsftpd 3.0.3's `vsf_sysdep_check_auth`
/// does (with local_enable=YES): pam_start, PAM_RHOST, PAM_TTY "ftp", PAM_RUSER,
/// pam_authenticate, PAM_USER, pam_acct_mgmt, pam_end.
///
/// This blocks: modules may read files, fork helpers or ask a directory server, which can take
/// seconds. Call it off the I/O threads. It never sleeps out the stack's failure delay; that is
/// returned in [`PamVerdict::Refused`] for the caller to apply without holding a thread.
///
/// The password goes nowhere but to PAM's conversation: it is in no error, log or verdict.
pub fn check_login(check: &LoginCheck<'_>) -> Result<PamVerdict, PamError> {
    let nul_in = |what| PamError::NulByte {
        service: check.service.to_owned(),
        what,
    };
    let service = CString::new(check.service).map_err(|_| nul_in("the service name"))?;
    let remote_host = check
        .remote_host
        .map(CString::new)
        .transpose()
        .map_err(|_| nul_in("the remote host"))?;
    let Ok(user) = CString::new(check.user) else {
        // No account can have this name; PAM would only see a truncated one.
        return Ok(PamVerdict::Refused {
            stage: PamStage::Authenticate,
            reason: "the user name contains a NUL byte".to_owned(),
            delay: Duration::ZERO,
        });
    };

    // Declared before `transaction`, so it outlives the pam_end in the transaction's drop.
    let conversation = Conversation {
        password: check.password,
        failure_delay: Cell::new(None),
    };
    let conv = PamConv {
        conv: Some(converse),
        appdata_ptr: &conversation as *const Conversation<'_> as *mut c_void,
    };
    let mut handle: *mut PamHandle = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated and `conv` and `handle` are valid for the call;
    // libpam copies the strings and `conv`, and keeps `appdata_ptr`, which points to
    // `conversation`: alive until after pam_end (see above), and only read through shared
    // references (its one mutable field is a Cell) by the callbacks, which run on this thread
    // inside the pam_* calls below.
    let status = unsafe { pam_start(service.as_ptr(), user.as_ptr(), &conv, &mut handle) };
    if status != PAM_SUCCESS || handle.is_null() {
        return Err(PamError::Start {
            service: check.service.to_owned(),
            reason: describe(status),
        });
    }
    let mut transaction = Transaction {
        handle,
        status: PAM_SUCCESS,
    };

    // Unlike vsftpd: without this item libpam sleeps out the stack's failure delay inside
    // pam_authenticate (pam_unix asks 2 s), which here would hold one of ringd's worker
    // threads. With it, libpam calls record_fail_delay with the delay instead, and the caller
    // holds back the reply without blocking a thread.
    let record: FailDelayFn = record_fail_delay;
    transaction.set_item(
        check.service,
        PAM_FAIL_DELAY,
        "PAM_FAIL_DELAY",
        record as *const c_void,
    )?;
    if let Some(host) = &remote_host {
        transaction.set_item(check.service, PAM_RHOST, "PAM_RHOST", host.as_ptr().cast())?;
    }
    // vsftpd's values: modules such as pam_time, pam_access and pam_succeed_if match rules
    // against the tty "ftp", and vsftpd names the user itself as the remote user.
    transaction.set_item(check.service, PAM_TTY, "PAM_TTY", c"ftp".as_ptr().cast())?;
    transaction.set_item(check.service, PAM_RUSER, "PAM_RUSER", user.as_ptr().cast())?;

    // Flags 0, as vsftpd: no PAM_SILENT, and PAM_DISALLOW_NULL_AUTHTOK left to the stack.
    // SAFETY: the handle is live; the callbacks it runs use `conversation` as described above.
    let status = unsafe { pam_authenticate(transaction.handle, 0) };
    if status != PAM_SUCCESS {
        transaction.status = status;
        return Ok(PamVerdict::Refused {
            stage: PamStage::Authenticate,
            reason: describe(status),
            delay: conversation.failure_delay.get().unwrap_or(Duration::ZERO),
        });
    }

    // Read right after pam_authenticate, as vsftpd does: an auth module may have mapped the
    // name, and the account checks and the session run as the mapped user.
    let user = match mapped_user(&transaction) {
        Ok(user) => user,
        Err(reason) => {
            return Err(PamError::MappedUser {
                service: check.service.to_owned(),
                user: check.user.to_owned(),
                reason,
            })
        }
    };

    // SAFETY: the handle is live; the callbacks it runs use `conversation` as described above.
    let status = unsafe { pam_acct_mgmt(transaction.handle, 0) };
    if status != PAM_SUCCESS {
        transaction.status = status;
        // libpam runs its failure-delay timer around pam_authenticate only, so an account
        // refusal asks for no delay (vsftpd's own delay_failed_login still applies).
        return Ok(PamVerdict::Refused {
            stage: PamStage::Account,
            reason: describe(status),
            delay: Duration::ZERO,
        });
    }

    // Unlike vsftpd, no pam_setcred (nor pam_open_session): modules such as pam_group call
    // setgroups(), which glibc applies to every thread of the process, so in ringd they would
    // change the groups of all sessions at once. ringd takes a session's uid, gid and groups
    // from the account database (sys::accounts) instead.
    Ok(PamVerdict::Accepted { user })
}

/// PAM_USER, copied out of the handle.
fn mapped_user(transaction: &Transaction) -> Result<String, String> {
    let mut item: *const c_void = std::ptr::null();
    // SAFETY: the handle is live and `item` is writable; libpam stores a pointer to its own
    // copy of the name there, valid until the item changes or pam_end.
    let status = unsafe { pam_get_item(transaction.handle, PAM_USER, &mut item) };
    if status != PAM_SUCCESS {
        return Err(describe(status));
    }
    if item.is_null() {
        return Err("PAM_USER is not set".to_owned());
    }
    // SAFETY: a non-NULL PAM_USER is a NUL-terminated string owned by the live handle; it is
    // copied before any other PAM call.
    let name = unsafe { CStr::from_ptr(item.cast::<c_char>()) };
    name.to_str()
        .map(str::to_owned)
        .map_err(|_| format!("PAM_USER {name:?} is not UTF-8"))
}

/// The PAM_FAIL_DELAY callback: libpam calls it at the end of every pam_authenticate, even a
/// successful one or with a zero delay, so only a failure's delay is kept.
///
/// # Safety
/// `appdata_ptr` is NULL or the [`Conversation`] that check_login passed to pam_start.
unsafe extern "C" fn record_fail_delay(
    retval: c_int,
    usec_delay: c_uint,
    appdata_ptr: *mut c_void,
) {
    if retval == PAM_SUCCESS || appdata_ptr.is_null() {
        return;
    }
    // SAFETY: per this function's contract; only shared references to it exist meanwhile.
    let conversation = unsafe { &*appdata_ptr.cast::<Conversation<'_>>() };
    conversation
        .failure_delay
        .set(Some(Duration::from_micros(u64::from(usec_delay))));
}

/// The conversation, answering as vsftpd's pam_conv_func does: PAM_PROMPT_ECHO_OFF gets the
/// password; PAM_ERROR_MSG and PAM_TEXT_INFO get an empty answer (NULL), since an FTP client
/// cannot be shown them before the reply to PASS; anything else, PAM_PROMPT_ECHO_ON included
/// (a second visible prompt, such as a one-time code, that an FTP login has no way to ask),
/// fails the conversation with PAM_CONV_ERR. So does a password with a NUL byte, which PAM
/// would see cut short (vsftpd passes it cut short).
///
/// # Safety
/// libpam's contract: `msg` holds `num_msg` pointers to messages, `resp` is writable, and
/// `appdata_ptr` is the [`Conversation`] check_login passed to pam_start.
unsafe extern "C" fn converse(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int {
    if !(1..=PAM_MAX_NUM_MSG).contains(&num_msg)
        || msg.is_null()
        || resp.is_null()
        || appdata_ptr.is_null()
    {
        return PAM_CONV_ERR;
    }
    // SAFETY: per this function's contract; only shared references to it exist meanwhile.
    let conversation = unsafe { &*appdata_ptr.cast::<Conversation<'_>>() };
    let count = num_msg as usize;
    // calloc, because libpam frees the array and each answer with free(3); zeroed, so every
    // answer starts as NULL with resp_retcode 0 (which Linux-PAM expects).
    // SAFETY: a plain allocation; the result is checked for NULL.
    let responses =
        unsafe { libc::calloc(count, std::mem::size_of::<PamResponse>()) }.cast::<PamResponse>();
    if responses.is_null() {
        return PAM_CONV_ERR;
    }
    for i in 0..count {
        // SAFETY: `msg` holds `count` message pointers (checked non-NULL before use), which
        // point to messages libpam keeps alive for the call.
        let style = unsafe {
            let message = *msg.add(i);
            if message.is_null() {
                None
            } else {
                Some((*message).msg_style)
            }
        };
        let answer = match style {
            Some(PAM_PROMPT_ECHO_OFF) => match malloc_c_string(conversation.password) {
                Some(copy) => copy,
                None => {
                    // SAFETY: `responses` is the array allocated above, holding `count` answers
                    // that are each NULL or a malloc'd string, and is not used after this.
                    unsafe { free_responses(responses, count) };
                    return PAM_CONV_ERR;
                }
            },
            Some(PAM_ERROR_MSG | PAM_TEXT_INFO) => std::ptr::null_mut(),
            _ => {
                // SAFETY: as above.
                unsafe { free_responses(responses, count) };
                return PAM_CONV_ERR;
            }
        };
        // SAFETY: `i < count`, inside the array allocated above.
        unsafe { (*responses.add(i)).resp = answer };
    }
    // SAFETY: `resp` is writable per the contract; libpam now owns the array and its answers.
    unsafe { *resp = responses };
    PAM_SUCCESS
}

/// A malloc'd NUL-terminated copy of `bytes` (libpam frees it with free(3) after wiping it),
/// or None if `bytes` holds a NUL or memory ran out.
fn malloc_c_string(bytes: &[u8]) -> Option<*mut c_char> {
    if bytes.contains(&0) {
        return None;
    }
    // SAFETY: a plain allocation; the result is checked for NULL.
    let copy = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if copy.is_null() {
        return None;
    }
    // SAFETY: `copy` has room for `bytes.len() + 1` bytes and does not overlap `bytes`.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), copy, bytes.len());
        *copy.add(bytes.len()) = 0;
    }
    Some(copy.cast())
}

/// Frees a conversation's answers and their array after wiping each answer (a password copy)
/// in a way the compiler cannot drop.
///
/// # Safety
/// `responses` is a malloc'd array of `count` answers, each NULL or a malloc'd NUL-terminated
/// string, and nothing uses any of them afterwards.
unsafe fn free_responses(responses: *mut PamResponse, count: usize) {
    for i in 0..count {
        // SAFETY: per this function's contract.
        unsafe {
            let answer = (*responses.add(i)).resp;
            if !answer.is_null() {
                libc::explicit_bzero(answer.cast(), libc::strlen(answer));
                libc::free(answer.cast());
            }
        }
    }
    // SAFETY: per this function's contract.
    unsafe { libc::free(responses.cast()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::test_accounts::{random_name, run_tool, running_as_root, TestAccount};
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    const REMOTE: &str = "192.0.2.7";

    fn login<'a>(service: &'a str, user: &'a str, password: &'a str) -> LoginCheck<'a> {
        LoginCheck {
            service,
            user,
            password: password.as_bytes(),
            remote_host: Some(REMOTE),
        }
    }

    fn refused_stage(verdict: &PamVerdict) -> Option<PamStage> {
        match verdict {
            PamVerdict::Refused { stage, .. } => Some(*stage),
            PamVerdict::Accepted { .. } => None,
        }
    }

    /// A PAM service file in /etc/pam.d, removed on drop.
    struct ServiceFile {
        name: String,
        path: PathBuf,
    }

    impl ServiceFile {
        fn new(lines: &str) -> ServiceFile {
            let name = random_name("ringd-test-");
            let path = Path::new("/etc/pam.d").join(&name);
            std::fs::write(&path, lines).unwrap();
            ServiceFile { name, path }
        }

        fn pam_unix() -> ServiceFile {
            ServiceFile::new("auth required pam_unix.so\naccount required pam_unix.so\n")
        }
    }

    impl Drop for ServiceFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// An account with a random password, and that password.
    fn account_with_password() -> (TestAccount, String) {
        let account = TestAccount::new();
        let password = random_name("Pw-");
        account.set_password(&password);
        (account, password)
    }

    #[test]
    fn right_password_is_accepted_with_the_same_name() {
        if !running_as_root() {
            return;
        }
        let service = ServiceFile::pam_unix();
        let (account, password) = account_with_password();
        let verdict = check_login(&login(&service.name, &account.name, &password)).unwrap();
        assert_eq!(
            verdict,
            PamVerdict::Accepted {
                user: account.name.clone()
            }
        );
    }

    #[test]
    fn wrong_password_is_refused_with_a_delay_not_slept() {
        if !running_as_root() {
            return;
        }
        let service = ServiceFile::pam_unix();
        let (account, password) = account_with_password();
        let wrong = format!("{password}x");
        let started = Instant::now();
        let verdict = check_login(&login(&service.name, &account.name, &wrong)).unwrap();
        let took = started.elapsed();
        let PamVerdict::Refused {
            stage,
            reason,
            delay,
        } = verdict
        else {
            panic!("a wrong password was accepted");
        };
        assert_eq!(stage, PamStage::Authenticate);
        assert_eq!(reason, "Authentication failure");
        // pam_unix asks 2 s, which libpam varies by up to half either way.
        assert!(delay >= Duration::from_millis(900), "{delay:?}");
        assert!(
            took < delay / 2,
            "took {took:?}: the {delay:?} delay was slept"
        );
        assert!(!reason.contains(&wrong));
    }

    #[test]
    fn unknown_user_is_refused() {
        if !running_as_root() {
            return;
        }
        let service = ServiceFile::pam_unix();
        let nobody = random_name("ringdnone");
        let verdict = check_login(&login(&service.name, &nobody, "whatever")).unwrap();
        assert_eq!(refused_stage(&verdict), Some(PamStage::Authenticate));
    }

    #[test]
    fn expired_account_is_refused_by_the_account_check() {
        if !running_as_root() {
            return;
        }
        let service = ServiceFile::pam_unix();
        let (account, password) = account_with_password();
        run_tool("chage", &["-E", "0", &account.name], None);
        let verdict = check_login(&login(&service.name, &account.name, &password)).unwrap();
        assert_eq!(
            verdict,
            PamVerdict::Refused {
                stage: PamStage::Account,
                reason: "User account has expired".to_owned(),
                delay: Duration::ZERO,
            }
        );
    }

    #[test]
    fn items_reach_the_stack_as_vsftpd_sets_them() {
        if !running_as_root() {
            return;
        }
        let (account, password) = account_with_password();
        let service = ServiceFile::new(&format!(
            "auth required pam_succeed_if.so quiet tty = ftp\n\
             auth required pam_succeed_if.so quiet rhost = {REMOTE}\n\
             auth required pam_succeed_if.so quiet ruser = {}\n\
             auth required pam_unix.so\n\
             account required pam_unix.so\n",
            account.name
        ));
        let verdict = check_login(&login(&service.name, &account.name, &password)).unwrap();
        assert!(
            matches!(verdict, PamVerdict::Accepted { .. }),
            "{verdict:?}"
        );
        let elsewhere = LoginCheck {
            remote_host: Some("192.0.2.8"),
            ..login(&service.name, &account.name, &password)
        };
        let verdict = check_login(&elsewhere).unwrap();
        assert_eq!(refused_stage(&verdict), Some(PamStage::Authenticate));
    }

    #[test]
    fn missing_service_falls_back_to_other() {
        if !running_as_root() {
            return;
        }
        let (account, password) = account_with_password();
        let missing = random_name("ringd-test-missing-");
        assert!(!Path::new("/etc/pam.d").join(&missing).exists());
        let other = std::fs::read_to_string("/etc/pam.d/other");
        let right = check_login(&login(&missing, &account.name, &password));
        let wrong = check_login(&login(&missing, &account.name, "not the password"));
        match &other {
            // Linux-PAM reads /etc/pam.d/other for a service without a file; Debian's includes
            // common-auth and common-account, which are pam_unix.
            Ok(text) if text.contains("@include common-auth") => {
                assert_eq!(
                    right.unwrap(),
                    PamVerdict::Accepted {
                        user: account.name.clone()
                    }
                );
                assert_eq!(refused_stage(&wrong.unwrap()), Some(PamStage::Authenticate));
            }
            // Some other fallback policy: it must still not let a wrong password in.
            Ok(_) => assert!(!matches!(wrong, Ok(PamVerdict::Accepted { .. }))),
            // Neither file: pam_start fails, and the error names the service.
            Err(_) => {
                let err = right.unwrap_err();
                assert!(matches!(err, PamError::Start { .. }), "{err}");
                assert!(err.to_string().contains(&missing), "{err}");
            }
        }
    }

    #[test]
    fn nul_bytes_are_refused_before_pam() {
        let err = check_login(&login("ring\0d", "root", "x")).unwrap_err();
        assert!(matches!(err, PamError::NulByte { .. }), "{err}");
        let verdict = check_login(&login("ringd", "ro\0ot", "x")).unwrap();
        assert_eq!(refused_stage(&verdict), Some(PamStage::Authenticate));
    }

    /// Runs the conversation on messages of the given styles, as libpam would.
    fn converse_with(password: &[u8], styles: &[c_int]) -> (c_int, Vec<Option<Vec<u8>>>) {
        let conversation = Conversation {
            password,
            failure_delay: Cell::new(None),
        };
        let messages: Vec<PamMessage> = styles
            .iter()
            .map(|&msg_style| PamMessage {
                msg_style,
                msg: c"Password: ".as_ptr(),
            })
            .collect();
        let mut pointers: Vec<*const PamMessage> = messages.iter().map(|m| m as *const _).collect();
        let mut responses: *mut PamResponse = std::ptr::null_mut();
        // SAFETY: `pointers` holds one valid message pointer per style, `responses` is
        // writable and `conversation` is a live Conversation: libpam's contract.
        let status = unsafe {
            converse(
                pointers.len() as c_int,
                pointers.as_mut_ptr(),
                &mut responses,
                &conversation as *const Conversation<'_> as *mut c_void,
            )
        };
        if status != PAM_SUCCESS {
            assert!(responses.is_null(), "answers handed out on failure");
            return (status, Vec::new());
        }
        let answers = (0..styles.len())
            .map(|i| {
                // SAFETY: on success `responses` holds one answer per message, each NULL or a
                // malloc'd string that is read here once.
                unsafe {
                    let answer = &*responses.add(i);
                    assert_eq!(answer.resp_retcode, 0);
                    (!answer.resp.is_null())
                        .then(|| CStr::from_ptr(answer.resp).to_bytes().to_vec())
                }
            })
            .collect();
        // SAFETY: the answers as the conversation made them, owned here as libpam would own them.
        unsafe { free_responses(responses, styles.len()) };
        (status, answers)
    }

    #[test]
    fn conversation_answers_as_vsftpd() {
        let (status, answers) = converse_with(
            b"s3cret",
            &[PAM_TEXT_INFO, PAM_PROMPT_ECHO_OFF, PAM_ERROR_MSG],
        );
        assert_eq!(status, PAM_SUCCESS);
        assert_eq!(answers, vec![None, Some(b"s3cret".to_vec()), None]);

        const PAM_PROMPT_ECHO_ON: c_int = 2;
        const PAM_BINARY_PROMPT: c_int = 7;
        for styles in [
            &[PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON][..],
            &[PAM_BINARY_PROMPT],
            &[],
            &[PAM_TEXT_INFO; 33],
        ] {
            let (status, _) = converse_with(b"s3cret", styles);
            assert_eq!(status, PAM_CONV_ERR, "{styles:?}");
        }
        // A NUL would cut the password short.
        let (status, _) = converse_with(b"s3\0cret", &[PAM_PROMPT_ECHO_OFF]);
        assert_eq!(status, PAM_CONV_ERR);
    }
}
