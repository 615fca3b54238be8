//! `ringload ntp`: requests, reply validation, pacing, the load loop, the ramp and the report.

pub mod cli;
pub mod kernel_t1;
pub mod nts;
pub mod pending;
pub mod ramp;
pub mod report;
pub mod request;
pub mod run;
pub mod schedule;
pub mod tally;
pub mod validate;
