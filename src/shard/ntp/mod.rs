//! The NTP runtime: sockets bound per shard, reuseport steering, each shard's loop, its replies' kernel transmit times, new sockets handed over on reload, the clock refresher, client logs for ringctl, start and stop.

pub mod client_log;
pub mod clock_refresh;
pub mod handover;
pub mod service;
pub mod shard_loop;
pub mod sockets;
pub mod steering;
pub mod transmit_times;
