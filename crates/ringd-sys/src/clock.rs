//! Clock reads: the realtime clock, the local time zone's offset and the kernel's NTP state (adjtimex in read-only mode).

use std::io;

use ntp_wire::packet::UnixTime;

/// The system's realtime clock (CLOCK_REALTIME, through the vDSO).
pub fn realtime_now() -> UnixTime {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    debug_assert_eq!(rc, 0);
    UnixTime {
        secs: ts.tv_sec,
        nanos: ts.tv_nsec as u32,
    }
}

/// Seconds east of UTC of the local time zone (`TZ`, else /etc/localtime) at Unix time `at`,
/// as localtime(3) gives it (which reads the zone the first time); 0 if it cannot be read.
pub fn local_utc_offset(at: i64) -> i32 {
    // SAFETY: an all-zero tm is a valid value of this plain C struct.
    let mut local: libc::tm = unsafe { std::mem::zeroed() };
    let time: libc::time_t = at;
    // SAFETY: both pointers are valid for the call; localtime_r writes only `local`.
    let filled = unsafe { libc::localtime_r(&time, &mut local) };
    if filled.is_null() {
        return 0;
    }
    i32::try_from(local.tm_gmtoff).unwrap_or(0)
}

/// Nanoseconds on one monotonic scale shared by the whole process (bandwidth buckets).
pub fn monotonic_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// What the kernel knows about the clock's synchronisation, as the disciplining daemon left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelNtpState {
    /// `STA_*` status bits.
    pub status: i32,
    /// Maximum error in microseconds.
    pub max_error_us: i64,
    /// Estimated error in microseconds.
    pub est_error_us: i64,
}

impl KernelNtpState {
    pub fn unsynchronised(&self) -> bool {
        self.status & libc::STA_UNSYNC != 0
    }
    pub fn insert_leap(&self) -> bool {
        self.status & libc::STA_INS != 0
    }
    pub fn delete_leap(&self) -> bool {
        self.status & libc::STA_DEL != 0
    }
}

/// Reads the kernel's NTP state. Never changes it: `modes` is 0, which needs no privilege.
pub fn read_kernel_ntp_state() -> io::Result<KernelNtpState> {
    // SAFETY: an all-zero timex is a valid value of this plain C struct.
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    timex.modes = 0;
    // SAFETY: `timex` is valid and writable; with modes == 0 adjtimex only reads the state.
    let rc = unsafe { libc::adjtimex(&mut timex) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(KernelNtpState {
        status: timex.status,
        max_error_us: timex.maxerror,
        est_error_us: timex.esterror,
    })
}
