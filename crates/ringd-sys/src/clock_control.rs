//! The only code that changes the system clock (adjtimex writes), used only with
//! `--control-clock`: frequency, steps, the leap second flags and the synchronised status.

use std::io;

/// The kernel's tick length is counted in microseconds per clock tick of `hz`: one microsecond
/// more or less changes the clock's rate by `hz` ppm.
fn tick_step_ppm(hz: i64) -> f64 {
    hz as f64
}

/// Splits a frequency correction into a tick length and a fine frequency (ppm * 2^16), as the
/// kernel wants it: the fine part alone may not exceed 500 ppm.
pub fn split_frequency(ppm: f64, hz: i64) -> (i64, i64) {
    let nominal_tick = 1_000_000 / hz;
    let step = tick_step_ppm(hz);
    let tick_change = (ppm / step).round();
    let fine = ppm - tick_change * step;
    (
        nominal_tick + tick_change as i64,
        (fine * 65_536.0).round() as i64,
    )
}

fn clock_ticks_per_second() -> i64 {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz
    } else {
        100
    }
}

fn adjtimex(timex: &mut libc::timex) -> io::Result<i32> {
    // SAFETY: `timex` is a valid, writable timex; the modes the callers set ask the kernel to
    // read only the fields they filled in.
    let rc = unsafe { libc::adjtimex(timex) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn zeroed_timex() -> libc::timex {
    // SAFETY: an all-zero timex is a valid value of this plain C struct.
    unsafe { std::mem::zeroed() }
}

/// Makes the clock run `ppm` parts per million faster than nominal (negative: slower).
pub fn set_frequency(ppm: f64) -> io::Result<()> {
    let (tick, freq) = split_frequency(ppm, clock_ticks_per_second());
    let mut timex = zeroed_timex();
    timex.modes = libc::ADJ_FREQUENCY | libc::ADJ_TICK;
    timex.freq = freq as _;
    timex.tick = tick as _;
    adjtimex(&mut timex).map(drop)
}

/// Steps the clock forward by `seconds` (negative: back).
pub fn step(seconds: f64) -> io::Result<()> {
    let nanos = (seconds * 1e9).round() as i64;
    let mut timex = zeroed_timex();
    timex.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
    timex.time.tv_sec = nanos.div_euclid(1_000_000_000) as _;
    // With ADJ_NANO the microseconds field carries nanoseconds, always non-negative.
    timex.time.tv_usec = nanos.rem_euclid(1_000_000_000) as _;
    adjtimex(&mut timex).map(drop)
}

fn update_status(
    change: impl FnOnce(i32) -> i32,
    extra: impl FnOnce(&mut libc::timex),
) -> io::Result<()> {
    let mut timex = zeroed_timex();
    adjtimex(&mut timex)?;
    let status = change(timex.status);
    let mut update = zeroed_timex();
    update.modes = libc::ADJ_STATUS;
    update.status = status;
    extra(&mut update);
    adjtimex(&mut update).map(drop)
}

/// Arms (or disarms) the kernel to insert or delete a second at the next UTC midnight.
pub fn set_leap(insert: bool, delete: bool) -> io::Result<()> {
    update_status(
        |status| {
            let mut status = status & !(libc::STA_INS | libc::STA_DEL);
            if insert {
                status |= libc::STA_INS;
            } else if delete {
                status |= libc::STA_DEL;
            }
            status
        },
        |_| {},
    )
}

/// Tells the kernel the clock is synchronised with these error bounds, which starts its
/// 11-minute mode of copying the time to the RTC (`rtcsync`).
pub fn set_synchronised(max_error_us: i64, est_error_us: i64) -> io::Result<()> {
    update_status(
        |status| status & !libc::STA_UNSYNC,
        |timex| {
            timex.modes |= libc::ADJ_MAXERROR | libc::ADJ_ESTERROR;
            timex.maxerror = max_error_us as _;
            timex.esterror = est_error_us as _;
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_split_into_tick_and_fine_parts() {
        assert_eq!(split_frequency(0.0, 100), (10_000, 0));
        assert_eq!(split_frequency(12.5, 100), (10_000, 819_200));
        assert_eq!(split_frequency(-230.0, 100), (9_998, -30 * 65_536));
        // chrony's fastest slew, 83,333 ppm.
        let (tick, fine) = split_frequency(83_333.0, 100);
        assert_eq!(tick, 10_833);
        assert_eq!(fine, 33 * 65_536);
        let (tick, fine) = split_frequency(7.0, 250);
        assert_eq!((tick, fine), (4_000, 7 * 65_536));
    }
}
