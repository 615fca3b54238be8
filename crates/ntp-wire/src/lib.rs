//! The NTP wire format: the packet header codec, NTP and Unix timestamps, and the calendar that turns them into dates.

pub mod calendar;
pub mod packet;
