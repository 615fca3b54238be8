//! Configuration readers: chrony.conf, vsftpd.conf, and the bounded reader for every file they name.

pub mod chrony;
pub mod chrony_auth;
pub mod chrony_logs;
pub mod chrony_upstream;
pub mod error;
pub mod source_file;
pub mod vsftpd;

pub use chrony::{DeferredDirective, LocalStratum, NtpConfig, RateLimitSettings};
pub use error::ConfigError;
pub use vsftpd::{FtpConfig, OptionNote};
