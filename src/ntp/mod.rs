//! NTP server: packet codec, reply logic, access control, rate limiting and the served clock state.

pub mod access;
pub mod answer_policy;
pub mod clock_state;
pub mod nts_cookies;
pub mod nts_ke;
pub mod nts_ntp;
pub use ntp_wire::packet;
pub mod precision;
pub mod ratelimit;
pub mod reply;
pub mod responder;
pub mod served_clock;
pub mod symmetric_keys;
