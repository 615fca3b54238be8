//! The NTP wire format: the packet header codec, NTP and Unix timestamps, the calendar that turns them into dates, symmetric-key MACs and NTS messages.

pub mod calendar;
pub mod nts_cookies;
pub mod nts_ke;
pub mod nts_ntp;
pub mod packet;
pub mod symmetric_keys;
