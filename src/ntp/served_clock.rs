//! What clock ringd serves until it synchronises itself: a local reference, or the kernel's state.

use super::clock_state::{ClockCorrection, ClockSnapshot};
use super::packet::{leap, NtpShort, NtpTimestamp, UnixTime, REFID_LOCAL};
use crate::config::LocalStratum;
use crate::sync::engine::ServedState;
use crate::sync::leap::{LeapStatus, LeapTable};
use crate::sys::clock::KernelNtpState;

/// The stratum announced while a daemon beside ringd (chronyd, ntpd) disciplines the clock.
/// The kernel does not record that daemon's stratum, so ringd claims the lowest it can honestly
/// imply: one step below a stratum-1 source. The sync engine replaces this with the real value.
pub const KERNEL_SYNC_STRATUM: u8 = 2;

/// Reference ID while serving the kernel's state: the daemon on this host (127.0.0.1) is the source.
pub const KERNEL_SYNC_REFID: u32 = 0x7F00_0001;

/// Where the served state comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// `local stratum N`: the system clock as a local reference, as chrony's `local` directive.
    LocalReference { stratum: u8 },
    /// The kernel's NTP state, read-only, as set by whatever disciplines the clock.
    Kernel,
}

fn kernel_leap(state: &KernelNtpState) -> u8 {
    if state.insert_leap() {
        leap::INSERT_SECOND
    } else if state.delete_leap() {
        leap::DELETE_SECOND
    } else {
        leap::NONE
    }
}

/// The local reference's leap indicator: the leap second `leapsectz` or `leapseclist` puts at
/// the end of today, else what the kernel was told by whatever disciplines the clock.
fn local_leap(leaps: &LeapTable, kernel: Option<&KernelNtpState>, now: UnixTime) -> u8 {
    match leaps.announced_at(now.secs as f64) {
        LeapStatus::None => kernel.map_or(leap::NONE, kernel_leap),
        status => status.indicator(),
    }
}

/// The state to publish at `now`, given what adjtimex returned (`None` when it could not be
/// read) and the leap seconds the configuration names.
pub fn snapshot(
    source: ClockSource,
    kernel: Option<KernelNtpState>,
    leaps: &LeapTable,
    now: UnixTime,
) -> ClockSnapshot {
    // The reference time trails `now` by a second, as chrony's local reference does, so that no
    // transmit timestamp can precede it.
    let reference_time = NtpTimestamp::from_unix(UnixTime {
        secs: now.secs - 1,
        nanos: now.nanos,
    });
    match (source, kernel) {
        (ClockSource::LocalReference { stratum }, kernel) => ClockSnapshot {
            leap: local_leap(leaps, kernel.as_ref(), now),
            stratum,
            reference_id: REFID_LOCAL,
            reference_time,
            root_delay: NtpShort(0),
            root_dispersion: NtpShort(0),
            correction: ClockCorrection::NONE,
        },
        (ClockSource::Kernel, Some(state)) if !state.unsynchronised() => ClockSnapshot {
            leap: kernel_leap(&state),
            stratum: KERNEL_SYNC_STRATUM,
            reference_id: KERNEL_SYNC_REFID,
            reference_time,
            root_delay: NtpShort(0),
            root_dispersion: NtpShort::from_micros(state.max_error_us.max(0) as u64),
            correction: ClockCorrection::NONE,
        },
        (ClockSource::Kernel, Some(state)) => ClockSnapshot {
            root_dispersion: NtpShort::from_micros(state.max_error_us.max(0) as u64),
            ..ClockSnapshot::UNSYNCHRONISED
        },
        (ClockSource::Kernel, None) => ClockSnapshot::UNSYNCHRONISED,
    }
}

/// What the sync engine's state leaves to follow: nothing while unsynchronised, and nothing
/// when a `local` reference is configured and the upstream is farther away than its
/// `distance` (chrony's rule for the local reference taking over).
pub fn followed_upstream(
    served: Option<ServedState>,
    local: Option<LocalStratum>,
) -> Option<ServedState> {
    served.filter(|state| local.is_none_or(|l| state.root_distance() <= l.distance))
}

/// The state to publish while synchronising upstream: the `followed` upstream's, else the
/// `local` reference at `now`, else unsynchronised. `correction` is what the shards add to the
/// system clock's readings.
pub fn upstream_snapshot(
    followed: Option<ServedState>,
    local: Option<LocalStratum>,
    leaps: &LeapTable,
    correction: ClockCorrection,
    now: UnixTime,
) -> ClockSnapshot {
    match (followed, local) {
        (Some(state), _) => {
            let nanos = (state.reference_time * 1e9).round() as i128;
            ClockSnapshot {
                leap: state.leap,
                stratum: state.stratum,
                reference_id: state.reference_id,
                reference_time: NtpTimestamp::from_unix(UnixTime {
                    secs: nanos.div_euclid(1_000_000_000) as i64,
                    nanos: nanos.rem_euclid(1_000_000_000) as u32,
                }),
                root_delay: NtpShort::from_seconds(state.root_delay),
                root_dispersion: NtpShort::from_seconds(state.root_dispersion),
                correction,
            }
        }
        (None, Some(local)) => ClockSnapshot {
            correction,
            ..snapshot(
                ClockSource::LocalReference {
                    stratum: local.stratum,
                },
                None,
                leaps,
                now,
            )
        },
        (None, None) => ClockSnapshot::UNSYNCHRONISED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime {
        secs: 1_700_000_000,
        nanos: 5,
    };

    fn kernel(status: i32, max_error_us: i64) -> Option<KernelNtpState> {
        Some(KernelNtpState {
            status,
            max_error_us,
            est_error_us: 10,
        })
    }

    #[test]
    fn local_reference_as_chrony_with_kernel_leap() {
        let s = snapshot(
            ClockSource::LocalReference { stratum: 10 },
            kernel(libc::STA_INS, 0),
            &LeapTable::default(),
            NOW,
        );
        assert_eq!(s.stratum, 10);
        assert_eq!(s.reference_id, REFID_LOCAL);
        assert_eq!(s.leap, leap::INSERT_SECOND);
        assert_eq!(s.root_delay, NtpShort(0));
        assert_eq!(s.root_dispersion, NtpShort(0));
        assert_eq!(
            NtpTimestamp::from_unix(NOW).nanos_since(s.reference_time),
            1_000_000_000
        );
        let unsynced_kernel = snapshot(
            ClockSource::LocalReference { stratum: 5 },
            kernel(libc::STA_UNSYNC, 16_000_000),
            &LeapTable::default(),
            NOW,
        );
        assert_eq!(
            unsynced_kernel.leap,
            leap::NONE,
            "the local reference is its own authority"
        );
        assert_eq!(unsynced_kernel.stratum, 5);
    }

    /// 2015-06-30 12:00 UTC; 2015's leap second was inserted at the end of that day.
    const LEAP_DAY_NOON: UnixTime = UnixTime {
        secs: 1_435_665_600,
        nanos: 0,
    };
    const DAY: i64 = 86_400;

    #[test]
    fn local_reference_announces_the_leap_seconds_table_on_the_leap_day() {
        let leaps = LeapTable::new(vec![(LEAP_DAY_NOON.secs + DAY / 2, 1)]);
        let local = ClockSource::LocalReference { stratum: 10 };
        let at = |secs| UnixTime { secs, nanos: 0 };
        let unsynced_kernel = kernel(libc::STA_UNSYNC, 16_000_000);
        assert_eq!(
            snapshot(local, unsynced_kernel, &leaps, LEAP_DAY_NOON).leap,
            leap::INSERT_SECOND,
            "leapsectz applies in local-only mode, whatever the kernel says"
        );
        assert_eq!(
            snapshot(local, None, &leaps, at(LEAP_DAY_NOON.secs - DAY)).leap,
            leap::NONE,
            "announced on the last day only"
        );
        let deleted = LeapTable::new(vec![(LEAP_DAY_NOON.secs + DAY / 2, -1)]);
        assert_eq!(
            snapshot(local, None, &deleted, LEAP_DAY_NOON).leap,
            leap::DELETE_SECOND
        );
        // A table that puts a leap at the end of 30 April is not followed, as in chronyd.
        let april_30_noon = LEAP_DAY_NOON.secs - 61 * DAY;
        let off_day = LeapTable::new(vec![(april_30_noon + DAY / 2, 1)]);
        assert_eq!(
            snapshot(local, None, &off_day, at(april_30_noon)).leap,
            leap::NONE
        );
        let fallback = upstream_snapshot(
            None,
            Some(LocalStratum::default()),
            &leaps,
            ClockCorrection::NONE,
            LEAP_DAY_NOON,
        );
        assert_eq!(fallback.leap, leap::INSERT_SECOND);
        assert_eq!(
            snapshot(ClockSource::Kernel, unsynced_kernel, &leaps, LEAP_DAY_NOON).leap,
            leap::UNSYNCHRONISED,
            "serving the kernel's state, the kernel's leap bits are served"
        );
    }

    #[test]
    fn unsynchronised_kernel_is_leap_3_stratum_0() {
        let s = snapshot(
            ClockSource::Kernel,
            kernel(libc::STA_UNSYNC, 16_000_000),
            &LeapTable::default(),
            NOW,
        );
        assert_eq!(s.leap, leap::UNSYNCHRONISED);
        assert_eq!(s.stratum, 0);
        assert_eq!(s.root_dispersion, NtpShort::from_seconds(16.0));
        assert_eq!(
            snapshot(ClockSource::Kernel, None, &LeapTable::default(), NOW),
            ClockSnapshot::UNSYNCHRONISED
        );
    }

    #[test]
    fn synchronised_kernel_gives_dispersion_from_maxerror() {
        let s = snapshot(
            ClockSource::Kernel,
            kernel(libc::STA_PLL | libc::STA_DEL, 1500),
            &LeapTable::default(),
            NOW,
        );
        assert_eq!(s.leap, leap::DELETE_SECOND);
        assert_eq!(s.stratum, KERNEL_SYNC_STRATUM);
        assert_eq!(s.reference_id, KERNEL_SYNC_REFID);
        assert_eq!(s.root_dispersion, NtpShort::from_micros(1500));
    }

    fn upstream(root_delay: f64, root_dispersion: f64) -> ServedState {
        ServedState {
            leap: leap::NONE,
            stratum: 3,
            reference_id: 0xC000_0201,
            reference_time: 1_700_000_000.5,
            root_delay,
            root_dispersion,
        }
    }

    #[test]
    fn the_local_reference_takes_over_from_a_distant_upstream() {
        let local = Some(LocalStratum {
            stratum: 10,
            orphan: false,
            distance: 0.1,
        });
        assert_eq!(
            followed_upstream(Some(upstream(0.1, 0.04)), local),
            Some(upstream(0.1, 0.04))
        );
        assert_eq!(followed_upstream(Some(upstream(0.1, 0.06)), local), None);
        assert_eq!(
            followed_upstream(Some(upstream(4.0, 2.0)), None),
            Some(upstream(4.0, 2.0))
        );
        assert_eq!(followed_upstream(None, local), None);
    }

    #[test]
    fn upstream_snapshots_serve_the_upstream_else_local_else_unsynchronised() {
        let correction = ClockCorrection {
            at_ns: 1,
            offset_ns: -250,
            rate_ps_per_s: 7,
        };
        let none = LeapTable::default();
        let synced = upstream_snapshot(Some(upstream(0.002, 0.001)), None, &none, correction, NOW);
        assert_eq!((synced.leap, synced.stratum), (leap::NONE, 3));
        assert_eq!(synced.reference_id, 0xC000_0201);
        assert_eq!(
            synced.reference_time,
            NtpTimestamp::from_unix(UnixTime {
                secs: 1_700_000_000,
                nanos: 500_000_000
            })
        );
        assert_eq!(synced.root_delay, NtpShort::from_seconds(0.002));
        assert_eq!(synced.correction, correction);
        let local = Some(LocalStratum::default());
        let fallback = upstream_snapshot(None, local, &none, correction, NOW);
        assert_eq!((fallback.stratum, fallback.reference_id), (10, REFID_LOCAL));
        assert_eq!(fallback.correction, correction);
        assert_eq!(
            upstream_snapshot(None, None, &none, correction, NOW),
            ClockSnapshot::UNSYNCHRONISED
        );
    }
}
