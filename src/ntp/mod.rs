//! NTP server: packet codec, reply logic, access control, rate limiting and the served clock state.

pub mod access;
pub mod answer_policy;
pub mod clock_state;
pub mod interleaved;
pub use ntp_wire::{nts_cookies, nts_ke, nts_ntp, packet, symmetric_keys};
pub mod precision;
pub mod ratelimit;
pub mod reply;
pub mod responder;
pub mod served_clock;
