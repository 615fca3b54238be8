//! What the sync engine tells operators: the data behind `ringctl tracking`, `sources`,
//! `sourcestats`, `ntpdata` and `authdata`, in chronyc's units.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::chrony_log::StampSource;

/// `ringctl tracking`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TrackingReport {
    pub reference_id: u32,
    /// The selected source's name or address; empty while unsynchronised.
    pub reference_name: String,
    pub stratum: u8,
    /// POSIX seconds of the last clock update (0 before the first).
    pub reference_time: f64,
    /// How far the clock is ahead of true time by the current estimate (negative: behind).
    pub system_time_offset: f64,
    pub last_offset: f64,
    pub rms_offset: f64,
    /// The frequency correction in use, in ppm (positive: the clock alone would run slow).
    pub frequency_ppm: f64,
    pub residual_frequency_ppm: f64,
    pub skew_ppm: f64,
    pub root_delay: f64,
    pub root_dispersion: f64,
    pub update_interval: f64,
    /// "Normal", "Insert second", "Delete second" or "Not synchronised".
    pub leap_status: String,
    /// Whether ringd adjusts the system clock (`--control-clock`) or only serves its estimate.
    pub controls_clock: bool,
}

/// One line of `ringctl sources`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceReport {
    /// chronyc's state symbol: `*`, `+`, `-`, `?`, `x` or `~`.
    pub state: char,
    pub name: String,
    pub stratum: u8,
    pub poll: i8,
    pub reach: u8,
    /// Seconds since the last usable sample, if any.
    pub last_rx: Option<f64>,
    /// The last sample's offset (source minus local), corrected for clock adjustments since.
    pub adjusted_offset: f64,
    /// The same sample's offset as measured.
    pub measured_offset: f64,
    /// Its error bound.
    pub error: f64,
    /// Why the source is not polled any more, when it is not.
    pub stopped_by: Option<String>,
}

/// One line of `ringctl sourcestats`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceStatsReport {
    pub name: String,
    pub samples: usize,
    pub runs: usize,
    pub span: f64,
    pub frequency_ppm: f64,
    pub frequency_skew_ppm: f64,
    /// Source minus local time now, by the filter's estimate.
    pub offset: f64,
    pub std_dev: f64,
}

/// A source's last reply as received, what was measured from it, and the counts of requests
/// and replies: the engine's part of `ringctl ntpdata`. All zero before the first reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ExchangeReport {
    pub leap: u8,
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
    pub poll: i8,
    pub precision: i8,
    pub root_delay: f64,
    pub root_dispersion: f64,
    pub reference_id: u32,
    /// POSIX seconds; 0 when the server sent none.
    pub reference_time: f64,
    /// Source minus local, as measurements.log has it.
    pub offset: f64,
    pub peer_delay: f64,
    pub peer_dispersion: f64,
    /// How long the server held the request (its transmit minus receive timestamp).
    pub response_time: f64,
    /// chrony's tests 1-3, 5-7 and A-D.
    pub tests: [bool; 10],
    pub tx_timestamping: StampSource,
    pub rx_timestamping: StampSource,
    pub total_tx: u64,
    pub total_rx: u64,
    /// Replies that passed tests 1-3 and 5: an authentic server-mode answer to our latest
    /// request.
    pub total_valid_rx: u64,
    /// Replies that passed every test and were taken as samples.
    pub total_good_rx: u64,
}

/// One source of `ringctl ntpdata`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NtpDataReport {
    pub remote: SocketAddr,
    /// The address our requests leave from, by the routing table.
    pub local_address: IpAddr,
    /// Whether the source's packets are authenticated (`key` or `nts`), as chronyd says it
    /// whatever the last reply was.
    pub authenticated: bool,
    #[serde(flatten)]
    pub exchange: ExchangeReport,
}

/// How a source's packets are authenticated, as `authdata`'s Mode column names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum AuthMode {
    #[default]
    None,
    Symmetric,
    Nts,
}

/// One line of `ringctl authdata`, with chronyd's values (ntp_auth.c, nts_ntp_client.c).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuthDataReport {
    pub name: String,
    pub mode: AuthMode,
    /// The symmetric key's ID, or how many NTS-KE sessions gave keys.
    pub key_id: u32,
    /// chrony's number of the key's type (1 MD5 .. 14 AES256) or of the NTS AEAD (15).
    pub key_type: u16,
    pub key_bits: u16,
    /// Seconds since the last successful NTS-KE session, if there was one.
    pub last_ke_ago: Option<u32>,
    pub ke_attempts: u16,
    /// Whether the last reply was an NTS NAK.
    pub nak: bool,
    pub cookies: u16,
    /// The length of the next cookie to be sent, 0 without one.
    pub cookie_length: u16,
}

/// Everything the status commands show, as the sync service last published it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncStatus {
    pub tracking: TrackingReport,
    pub sources: Vec<SourceReport>,
    pub source_stats: Vec<SourceStatsReport>,
    pub ntp_data: Vec<NtpDataReport>,
    pub auth_data: Vec<AuthDataReport>,
    /// `server`/`pool` lines whose name has not resolved to an address yet.
    pub unresolved_sources: usize,
}

/// `ringctl activity`: chronyc's counts of sources by mode. ringd has no `offline` sources
/// and no bursts on command; a source stopped by a kiss-o'-death counts as offline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ActivityReport {
    pub online: usize,
    pub offline: usize,
    pub burst_online: usize,
    pub burst_offline: usize,
    pub unresolved: usize,
}

impl SyncStatus {
    pub fn activity(&self) -> ActivityReport {
        let stopped = self
            .sources
            .iter()
            .filter(|source| source.stopped_by.is_some())
            .count();
        ActivityReport {
            online: self.sources.len() - stopped,
            offline: stopped,
            burst_online: 0,
            burst_offline: 0,
            unresolved: self.unresolved_sources,
        }
    }
}
