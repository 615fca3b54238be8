//! FTP server logic: commands, replies, the session state machine, users, the jail, listings, limits.

pub mod action;
pub mod ascii;
pub mod command;
pub mod context;
pub mod hosts_access;
pub mod jail;
pub mod limits;
pub mod listing;
pub mod registry;
pub mod replies;
pub mod session;
pub mod shared_roots;
pub mod telnet;
pub mod throttle;
pub mod transfer_log;
pub mod users;
