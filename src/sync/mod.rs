//! Upstream time synchronisation, chrony's client side: a sans-I/O engine and its simulator.

pub mod chrony_log;
pub mod discipline;
pub mod driftfile;
pub mod engine;
pub mod filter;
pub mod leap;
pub mod local_time;
pub mod measurement;
pub mod nts_client;
pub mod poll;
pub mod report;
pub mod selection;
pub mod sim;
pub mod software_clock;
pub mod source_auth;
