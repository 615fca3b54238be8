//! FTP server logic without I/O: commands, replies, the session state machine, logins, listings, limits; and the interface to the files a session may touch.

pub mod action;
pub mod ascii;
pub mod command;
pub mod context;
pub mod event_counts;
pub mod filesystem;
pub mod limits;
pub mod listing;
pub mod listing_job;
pub mod login;
pub mod proxy_header;
pub mod registry;
pub mod replies;
pub mod session;
pub mod telnet;
pub mod throttle;
pub mod transfer_log;
pub mod users;
