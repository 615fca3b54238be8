//! ringload: a load generator for NTP (and later FTP) servers, and the syscall-floor UDP reflector.
#![forbid(unsafe_code)]

pub mod clients;
pub mod error;
pub mod ftp;
pub mod html;
pub mod ntp;
pub mod procnet;
pub mod reflect;
pub mod target;
