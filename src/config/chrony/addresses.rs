//! Addresses in chrony.conf: `allow`/`deny` subnets, chrony's shortened IPv4 forms, and host names.

use super::*;

/// `allow`/`deny` `[all] [SUBNET]`: whether `all` was given, and the subnets to set (both
/// families when no subnet is given).
pub(super) fn parse_allow_deny(d: &Directive) -> Result<(bool, Vec<Subnet>), ConfigError> {
    // chronyd compares `all` case-sensitively.
    let all = d.args.first() == Some(&"all");
    let rest = if all { &d.args[1..] } else { &d.args[..] };
    match rest {
        [] => Ok((all, vec![Subnet::any_v4(), Subnet::any_v6()])),
        [spec] => Ok((all, vec![parse_subnet(d, spec)?])),
        [_, extra, ..] => Err(d.error(format!(
            "expected [all] [ADDRESS[/PREFIX] | NETWORK | HOSTNAME], found another argument \
             `{extra}`"
        ))),
    }
}

/// One subnet in chrony's forms: an address with an optional /PREFIX, a shortened IPv4
/// network (`1.2.3`, `1.2`, `1` for /24, /16, /8), or a host name resolved now.
pub(super) fn parse_subnet(d: &Directive, spec: &str) -> Result<Subnet, ConfigError> {
    let (network, prefix_len) = match spec.split_once('/') {
        Some((network, prefix)) => {
            let prefix_len: u8 = prefix.parse().map_err(|_| {
                d.error(format!(
                    "expected a prefix length after `/` in `{spec}`, found `{prefix}`"
                ))
            })?;
            (network, Some(prefix_len))
        }
        None => (spec, None),
    };

    let (addr, default_len) = if let Ok(addr) = network.parse::<IpAddr>() {
        let width = if addr.is_ipv4() { 32 } else { 128 };
        (addr, width)
    } else if let Some((addr, implied_len)) = parse_shortened_ipv4(d, network)? {
        (IpAddr::V4(addr), implied_len)
    } else if prefix_len.is_none() {
        return resolve_host(d, network).map(Subnet::host);
    } else {
        return Err(d.error(format!(
            "`{spec}` is neither ADDRESS/PREFIX nor a shortened network such as 192.168/16"
        )));
    };

    let len = prefix_len.unwrap_or(default_len);
    Subnet::new(addr, len).ok_or_else(|| {
        let (family, width) = if addr.is_ipv4() {
            ("IPv4", 32)
        } else {
            ("IPv6", 128)
        };
        d.error(format!(
            "prefix length /{len} in `{spec}` is too long for an {family} address (at most /{width})"
        ))
    })
}

/// chrony's shortened IPv4 network: one to three decimal numbers, the prefix length being 8 for
/// each (not inet_aton's forms, where `1.2` would mean 1.0.0.2).
pub(super) fn parse_shortened_ipv4(
    d: &Directive,
    text: &str,
) -> Result<Option<(Ipv4Addr, u8)>, ConfigError> {
    let parts: Vec<&str> = text.split('.').collect();
    let decimal = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() > 3 || !parts.iter().all(decimal) {
        return Ok(None);
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        *octet = part.parse().map_err(|_| {
            d.error(format!(
                "`{text}`: each number of a shortened network must be 0..255"
            ))
        })?;
    }
    let implied_len = 8 * parts.len() as u8;
    Ok(Some((Ipv4Addr::from(octets), implied_len)))
}

/// The first address the system resolver gives for `name`, as chronyd takes it.
pub(super) fn resolve_host(d: &Directive, name: &str) -> Result<IpAddr, ConfigError> {
    let unresolved = |reason: String| {
        d.error(format!(
            "cannot resolve host name `{name}` ({reason}); use an address or a subnet, \
             or make the name resolvable when ringd starts"
        ))
    };
    let mut addrs = (name, 0)
        .to_socket_addrs()
        .map_err(|err| unresolved(err.to_string()))?;
    addrs
        .next()
        .map(|addr| addr.ip())
        .ok_or_else(|| unresolved("no address".to_string()))
}
