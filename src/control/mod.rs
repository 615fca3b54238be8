//! ringd's control socket, chronyc's command socket for ringd: status reports for `ringctl`.
//!
//! The daemon side is a thread answering one request line per Unix-socket connection with one
//! JSON reply (`server`); parsing, answering, formatting and who may ask what are pure
//! (`protocol`, `state`, `answers`, `chronyc_format`, `json_view`, `access`) and tested without sockets.
//! `client` is ringctl's side, `command_line` its arguments.

pub mod access;
pub mod answers;
pub mod chronyc_csv;
pub mod chronyc_format;
pub mod client;
pub mod command_line;
pub mod json_view;
pub mod paths;
pub mod protocol;
pub mod server;
pub mod server_stats;
pub mod state;
pub mod wait_sync;
