//! ringload: load generators for NTP, NTS-KE and FTP servers, and the syscall-floor UDP reflector.

pub mod cli;
pub mod clients;
pub mod command_line;
pub mod compare;
pub mod document;
pub mod error;
pub mod ftp;
pub mod histogram_text;
pub mod html;
pub mod merge;
pub mod ntp;
pub mod nts_ke;
pub mod progress;
pub mod raw;
pub mod reflect;
pub mod report_cmd;
pub mod start_at;
pub mod step_stats;
pub mod target;
pub mod thresholds;
pub mod tls_trust;
pub mod verdict;
