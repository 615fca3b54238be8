//! The destination of the load: resolved once, and refused unless it is on this machine's loopback.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::error::LoadError;

/// Resolves `HOST:PORT`. Only loopback destinations are accepted unless `allow_non_loopback`:
/// a load generator pointed at someone else's server is an attack.
pub fn resolve_destination(
    target: &str,
    allow_non_loopback: bool,
) -> Result<SocketAddr, LoadError> {
    let resolve_error = |reason: String| LoadError::Resolve {
        target: target.to_string(),
        reason,
    };
    let candidates: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| resolve_error(e.to_string()))?
        .collect();
    let first = *candidates
        .first()
        .ok_or_else(|| resolve_error("no address".to_string()))?;
    if allow_non_loopback {
        return Ok(first);
    }
    candidates
        .into_iter()
        .find(|addr| addr.ip().to_canonical().is_loopback())
        .ok_or(LoadError::NotLoopback(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_destinations_are_accepted() {
        for target in [
            "127.0.0.1:123",
            "127.9.8.7:1",
            "[::1]:123",
            "[::ffff:127.0.0.1]:123",
        ] {
            assert!(resolve_destination(target, false).is_ok(), "{target}");
        }
    }

    #[test]
    fn other_destinations_need_explicit_permission() {
        for target in ["192.0.2.1:123", "[2001:db8::1]:123", "0.0.0.0:123"] {
            assert!(
                matches!(
                    resolve_destination(target, false),
                    Err(LoadError::NotLoopback(_))
                ),
                "{target}"
            );
            assert!(resolve_destination(target, true).is_ok(), "{target}");
        }
    }

    #[test]
    fn unparsable_targets_are_errors() {
        assert!(matches!(
            resolve_destination("127.0.0.1", false),
            Err(LoadError::Resolve { .. })
        ));
    }
}
