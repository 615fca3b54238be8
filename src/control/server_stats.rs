//! The `serverstats` report: chronyc's NTP server counters that ringd can fill, then ringd's own.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics::NtpTotals;
use crate::ntp::reply::DropReason;

/// The NTP service's counters summed over the shards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerStats {
    /// Every datagram that reached a shard.
    pub ntp_packets_received: u64,
    /// Datagrams not answered, for any reason (chronyd counts only rate-limit drops here; the
    /// reasons follow in `ntp_dropped`).
    pub ntp_packets_dropped: u64,
    /// Clients the rate limiter forgot to stay within `clientloglimit`.
    pub client_log_records_dropped: u64,
    /// Requests whose receive time was read in userspace (the kernel gave no timestamp).
    pub ntp_daemon_rx_timestamps: u64,
    /// Replies, KoD included: ringd reads every transmit time itself, last.
    pub ntp_daemon_tx_timestamps: u64,
    /// Requests timed by the kernel (`SO_TIMESTAMPNS`).
    pub ntp_kernel_rx_timestamps: u64,
    pub ntp_packets_answered: u64,
    pub ntp_kod_rate_sent: u64,
    /// Requests over the rate limit: dropped or answered with KoD RATE.
    pub ntp_rate_limited: u64,
    /// Drops by reason, keyed by the names the shutdown log uses.
    pub ntp_dropped: BTreeMap<&'static str, u64>,
    pub ntp_send_failures: u64,
    pub ntp_receive_errors: u64,
}

/// `serverstats` as `--json` gives it: the sums, and each shard's own counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerStatsReport {
    #[serde(flatten)]
    pub total: ServerStats,
    pub shards: Vec<ServerStats>,
}

impl From<&NtpTotals> for ServerStats {
    fn from(totals: &NtpTotals) -> ServerStats {
        // A request reaches the receive-time step unless it was malformed or denied; the
        // counters are read one by one while shards write them, hence the saturation.
        let dropped_before_timing = totals
            .dropped_total()
            .saturating_sub(totals.dropped[DropReason::RateLimited.index()]);
        let timed = totals.received.saturating_sub(dropped_before_timing);
        ServerStats {
            ntp_packets_received: totals.received,
            ntp_packets_dropped: totals.dropped_total(),
            client_log_records_dropped: totals.client_log_evictions,
            ntp_daemon_rx_timestamps: totals.rx_time_fallbacks,
            ntp_daemon_tx_timestamps: totals.answered + totals.kod_sent,
            ntp_kernel_rx_timestamps: timed.saturating_sub(totals.rx_time_fallbacks),
            ntp_packets_answered: totals.answered,
            ntp_kod_rate_sent: totals.kod_sent,
            ntp_rate_limited: totals.rate_limited,
            ntp_dropped: DropReason::ALL
                .iter()
                .map(|reason| (reason.name(), totals.dropped[reason.index()]))
                .collect(),
            ntp_send_failures: totals.send_failures,
            ntp_receive_errors: totals.receive_errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chronyc_counters_come_from_the_shard_counters() {
        let mut totals = NtpTotals {
            received: 100,
            answered: 80,
            kod_sent: 2,
            rate_limited: 7,
            rx_time_fallbacks: 3,
            send_failures: 1,
            receive_errors: 4,
            client_log_evictions: 9,
            ..NtpTotals::default()
        };
        totals.dropped[DropReason::TooShort.index()] = 10;
        totals.dropped[DropReason::Denied.index()] = 3;
        totals.dropped[DropReason::RateLimited.index()] = 5;
        let stats = ServerStats::from(&totals);
        assert_eq!(stats.ntp_packets_received, 100);
        assert_eq!(stats.ntp_packets_dropped, 18);
        assert_eq!(stats.client_log_records_dropped, 9);
        assert_eq!(stats.ntp_daemon_rx_timestamps, 3);
        assert_eq!(stats.ntp_daemon_tx_timestamps, 82);
        // 100 received - 13 malformed or denied = 87 timed, 3 of them in userspace.
        assert_eq!(stats.ntp_kernel_rx_timestamps, 84);
        assert_eq!(stats.ntp_dropped["too_short"], 10);
        assert_eq!(stats.ntp_dropped["rate_limited"], 5);
        assert_eq!(stats.ntp_dropped.len(), DropReason::ALL.len());
    }

    #[test]
    fn counters_read_mid_update_do_not_underflow() {
        let mut totals = NtpTotals {
            received: 1,
            rx_time_fallbacks: 2,
            ..NtpTotals::default()
        };
        totals.dropped[DropReason::Denied.index()] = 2;
        assert_eq!(ServerStats::from(&totals).ntp_kernel_rx_timestamps, 0);
    }
}
