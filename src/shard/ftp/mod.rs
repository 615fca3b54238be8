//! The FTP runtime: accepting, a session's I/O shell, data transfers, the jail and the session's filesystem with its credentials, shared roots, the login threads.

pub mod auth;
pub mod connection;
pub mod host_configs;
pub mod id_names;
pub mod jail;
pub mod roots;
pub mod service;
pub mod session_fs;
pub mod tls;
pub mod transfer;
