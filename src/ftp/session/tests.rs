//! Unit tests of the FTP session state machine.
