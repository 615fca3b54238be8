//! NTS-KE as a client makes it: one exchange (used by `ringload ntp --nts` too) and `ringload nts-ke`, the handshake load.

pub mod cli;
pub mod handshake;
pub mod load;
