//! The Prometheus text ringd serves: a collector that reads the NTP shards' counters and the FTP counts at each scrape, and nothing in between.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::{NtpCounters, NtpTotals};
use crate::ftp::event_counts::{FtpEventTotals, FTP_EVENTS, REFUSALS};
use crate::ntp::reply::DropReason;

type Labels = Vec<(Cow<'static, str>, Cow<'static, str>)>;

/// A per-shard counter family: name, help, and how to read it from a shard's totals.
type ShardCounter = (&'static str, &'static str, fn(&NtpTotals) -> u64);

fn labels<const N: usize>(pairs: [(&'static str, String); N]) -> Labels {
    pairs
        .into_iter()
        .map(|(key, value)| (Cow::Borrowed(key), Cow::Owned(value)))
        .collect()
}

/// What the FTP service reports besides the process-wide counts.
pub trait FtpGauges: fmt::Debug + Send + Sync + 'static {
    /// Sessions open now.
    fn sessions_open(&self) -> u64;
}

/// Everything a scrape reads.
#[derive(Debug)]
pub struct MetricSources {
    /// Each NTP shard's counters, in shard order; empty without NTP.
    pub ntp: Vec<Arc<NtpCounters>>,
    /// None without FTP.
    pub ftp: Option<Arc<dyn FtpGauges>>,
}

/// An NTP request's exclusive outcome, as the `result` label says it: answered, a
/// kiss-o'-death, or dropped for one reason; together they sum to the requests received.
fn request_results(totals: &NtpTotals) -> Vec<(String, u64)> {
    let mut results = vec![
        ("answered".to_string(), totals.answered),
        ("kod".to_string(), totals.kod_sent),
    ];
    results.extend(
        DropReason::ALL
            .iter()
            .map(|reason| (reason.name().to_string(), totals.dropped[reason.index()])),
    );
    results
}

/// Encodes one counter family with one sample per label set.
fn counters<N>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl IntoIterator<Item = (Labels, N)>,
) -> fmt::Result
where
    ConstCounter<N>: EncodeMetric,
{
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, value) in samples {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    labels: Labels,
    value: i64,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(family.encode_family(&labels)?)
}

impl MetricSources {
    fn encode_ntp(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let shards: Vec<NtpTotals> = self.ntp.iter().map(|c| c.totals()).collect();
        let mut total = NtpTotals::default();
        for shard in &shards {
            total.add(shard);
        }
        counters(
            encoder,
            "ringd_ntp_requests",
            "NTP requests by outcome: answered, kod (a rate-limit kiss-o'-death), or the reason it was dropped",
            None,
            request_results(&total)
                .into_iter()
                .map(|(result, value)| (labels([("result", result)]), value)),
        )?;
        counters(
            encoder,
            "ringd_ntp_shard_requests",
            "NTP requests by shard and outcome (as ringd_ntp_requests_total)",
            None,
            shards.iter().enumerate().flat_map(|(index, shard)| {
                request_results(shard)
                    .into_iter()
                    .map(move |(result, value)| {
                        (
                            labels([("shard", index.to_string()), ("result", result)]),
                            value,
                        )
                    })
            }),
        )?;
        let per_shard: [ShardCounter; 5] = [
            (
                "ringd_ntp_shard_rx_timestamp_fallbacks",
                "Requests without a kernel receive timestamp, whose T2 was read in userspace",
                |t| t.rx_time_fallbacks,
            ),
            (
                "ringd_ntp_shard_send_failures",
                "Replies the kernel did not take",
                |t| t.send_failures,
            ),
            (
                "ringd_ntp_shard_receive_errors",
                "Receive operations that failed or delivered something unreadable",
                |t| t.receive_errors,
            ),
            (
                "ringd_ntp_shard_receive_buffer_exhaustions",
                "Times the io_uring receive ran out of buffers and was re-armed",
                |t| t.receive_buffer_exhaustions,
            ),
            (
                "ringd_ntp_shard_client_log_evictions",
                "Clients the rate limiter forgot to make room (clientloglimit)",
                |t| t.client_log_evictions,
            ),
        ];
        for (name, help, read) in per_shard {
            counters(
                encoder,
                name,
                help,
                None,
                shards
                    .iter()
                    .enumerate()
                    .map(|(index, shard)| (labels([("shard", index.to_string())]), read(shard))),
            )?;
        }
        Ok(())
    }

    fn encode_ftp(&self, encoder: &mut DescriptorEncoder, gauges: &dyn FtpGauges) -> fmt::Result {
        let events: FtpEventTotals = FTP_EVENTS.totals();
        gauge(
            encoder,
            "ringd_ftp_sessions",
            "FTP control connections open now",
            Labels::new(),
            i64::try_from(gauges.sessions_open()).unwrap_or(i64::MAX),
        )?;
        let mut connections = vec![(
            labels([("result", "accepted".to_string())]),
            events.connections_accepted,
        )];
        connections.extend(
            REFUSALS
                .iter()
                .zip(events.connections_refused)
                .map(|((_, cause), value)| (labels([("result", cause.to_string())]), value)),
        );
        counters(
            encoder,
            "ringd_ftp_connections",
            "FTP control connections: accepted (a session), or refused by max_clients, max_per_ip or tcp_wrappers",
            None,
            connections,
        )?;
        let kinds = ["anonymous", "named"];
        let outcomes = ["failure", "success"];
        counters(
            encoder,
            "ringd_ftp_logins",
            "FTP logins by kind (anonymous or a named user) and outcome",
            None,
            kinds.iter().enumerate().flat_map(|(kind, kind_name)| {
                outcomes
                    .iter()
                    .enumerate()
                    .map(move |(outcome, outcome_name)| {
                        (
                            labels([
                                ("kind", kind_name.to_string()),
                                ("outcome", outcome_name.to_string()),
                            ]),
                            events.logins[kind][outcome],
                        )
                    })
            }),
        )?;
        let directions = ["upload", "download"];
        let transfer_outcomes = ["failed", "complete"];
        counters(
            encoder,
            "ringd_ftp_transfers",
            "FTP file transfers by direction and outcome",
            None,
            directions
                .iter()
                .enumerate()
                .flat_map(|(direction, direction_name)| {
                    transfer_outcomes
                        .iter()
                        .enumerate()
                        .map(move |(outcome, outcome_name)| {
                            (
                                labels([
                                    ("direction", direction_name.to_string()),
                                    ("outcome", outcome_name.to_string()),
                                ]),
                                events.transfers[direction][outcome],
                            )
                        })
                }),
        )?;
        counters(
            encoder,
            "ringd_ftp_transfer",
            "Bytes that crossed FTP data connections of file transfers, failed ones included",
            Some(&Unit::Bytes),
            directions.iter().enumerate().map(|(direction, name)| {
                (
                    labels([("direction", name.to_string())]),
                    events.bytes[direction],
                )
            }),
        )?;
        counters(
            encoder,
            "ringd_ftp_throttled",
            "Time FTP transfers waited for their rate limits (anon_max_rate, local_max_rate, max_rate_total)",
            Some(&Unit::Seconds),
            [(Labels::new(), events.throttled_nanos as f64 * 1e-9)],
        )
    }
}

impl prometheus_client::collector::Collector for MetricSources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        gauge(
            &mut encoder,
            "ringd_build_info",
            "The running ringd's version, always 1",
            labels([("version", env!("CARGO_PKG_VERSION").to_string())]),
            1,
        )?;
        if !self.ntp.is_empty() {
            self.encode_ntp(&mut encoder)?;
        }
        if let Some(gauges) = &self.ftp {
            self.encode_ftp(&mut encoder, gauges.as_ref())?;
        }
        Ok(())
    }
}

/// A registry holding `sources`, for [`render`].
pub fn registry(sources: MetricSources) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(sources));
    registry
}

/// The OpenMetrics text of a scrape.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail; a collector's error would be a bug in this file.
    if let Err(err) = prometheus_client::encoding::text::encode(&mut text, registry) {
        tracing::error!("cannot encode the metrics: {err}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Open(u64);

    impl FtpGauges for Open {
        fn sessions_open(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn ntp_requests_are_given_per_shard_and_in_total() {
        let shards: Vec<Arc<NtpCounters>> = (0..2).map(|_| Arc::default()).collect();
        shards[0].answered.add(5);
        shards[1].answered.add(7);
        shards[1].kod_sent.add(1);
        shards[0].dropped[DropReason::Denied.index()].add(2);
        let text = render(&registry(MetricSources {
            ntp: shards,
            ftp: Some(Arc::new(Open(3))),
        }));
        for line in [
            "# TYPE ringd_ntp_requests counter",
            "ringd_ntp_requests_total{result=\"answered\"} 12",
            "ringd_ntp_requests_total{result=\"kod\"} 1",
            "ringd_ntp_requests_total{result=\"denied\"} 2",
            "ringd_ntp_shard_requests_total{shard=\"1\",result=\"answered\"} 7",
            "ringd_ntp_shard_send_failures_total{shard=\"0\"} 0",
            "ringd_ftp_sessions 3",
            "ringd_ftp_throttled_seconds_total 0.0",
            "# UNIT ringd_ftp_transfer_bytes bytes",
            "ringd_build_info{version=\"",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(line)),
                "{line} in\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn services_not_running_are_left_out() {
        let text = render(&registry(MetricSources {
            ntp: Vec::new(),
            ftp: None,
        }));
        assert!(!text.contains("ringd_ntp"), "{text}");
        assert!(!text.contains("ringd_ftp"), "{text}");
        assert!(text.contains("ringd_build_info"));
    }
}
