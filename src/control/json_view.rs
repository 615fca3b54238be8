//! What `--json` prints for `sources` and `sourcestats`: their reports with every offset signed as the text columns sign it.
//!
//! The sync engine's reports hold offsets as source minus local; chronyc's columns, and so
//! ringctl's text and CSV, show local minus source (positive: the local clock is ahead).
//! A script reading `--json` must not have to know that the two differ.

use serde::Serialize;

use super::chronyc_format::local_minus_source;
use crate::sync::report::{SourceReport, SourceStatsReport};

/// One source of `sources --json`.
#[derive(Debug, PartialEq, Serialize)]
pub struct SourceJson<'a> {
    pub state: char,
    pub name: &'a str,
    pub stratum: u8,
    pub poll: i8,
    pub reach: u8,
    /// `null` before the first sample (chronyc's `-`).
    pub last_rx: Option<f64>,
    /// Local minus source, corrected for clock adjustments since the sample.
    pub adjusted_offset: f64,
    /// Local minus source, as measured.
    pub measured_offset: f64,
    pub error: f64,
    pub stopped_by: Option<&'a str>,
}

impl<'a> From<&'a SourceReport> for SourceJson<'a> {
    fn from(source: &'a SourceReport) -> Self {
        SourceJson {
            state: source.state,
            name: &source.name,
            stratum: source.stratum,
            poll: source.poll,
            reach: source.reach,
            last_rx: source.last_rx,
            adjusted_offset: local_minus_source(source.adjusted_offset),
            measured_offset: local_minus_source(source.measured_offset),
            error: source.error,
            stopped_by: source.stopped_by.as_deref(),
        }
    }
}

/// One source of `sourcestats --json`.
#[derive(Debug, PartialEq, Serialize)]
pub struct SourceStatsJson<'a> {
    pub name: &'a str,
    pub samples: usize,
    pub runs: usize,
    pub span: f64,
    pub frequency_ppm: f64,
    pub frequency_skew_ppm: f64,
    /// Local minus source now, by the filter's estimate.
    pub offset: f64,
    pub std_dev: f64,
}

impl<'a> From<&'a SourceStatsReport> for SourceStatsJson<'a> {
    fn from(stats: &'a SourceStatsReport) -> Self {
        SourceStatsJson {
            name: &stats.name,
            samples: stats.samples,
            runs: stats.runs,
            span: stats.span,
            frequency_ppm: stats.frequency_ppm,
            frequency_skew_ppm: stats.frequency_skew_ppm,
            offset: local_minus_source(stats.offset),
            std_dev: stats.std_dev,
        }
    }
}
