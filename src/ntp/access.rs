//! NTP client access control: the `allow`/`deny` table with chrony's semantics (addrfilt.c).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// chrony stores rules in a tree with one level per 4 address bits. A prefix length that is not a
/// multiple of 4 sets several entries one level down (/25 sets eight /28 entries), so two rules
/// whose prefixes round up to the same level overwrite each other in file order, while rules on
/// different levels combine "most specific wins". Keeping that granularity keeps ringd's answers
/// identical to chronyd's for the same file, including the order dependence chrony documents.
const BITS_PER_LEVEL: u8 = 4;

/// An address family, as the access table holds one set of rules for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// An IPv4 or IPv6 subnet: the address with the host bits cleared, and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl Subnet {
    /// The subnet of `prefix_len` leading bits of `addr`, or `None` when the prefix is longer
    /// than the address. An IPv4-mapped IPv6 subnet (`::ffff:a.b.c.d/n`) stays IPv6, as in
    /// chronyd 4.3, whose IPv6 sockets are IPv6-only: it matches no IPv4 client.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Option<Self> {
        (prefix_len <= address_width(addr)).then(|| Subnet { addr, prefix_len }.canonical())
    }

    /// The single address `addr` (/32 or /128).
    pub fn host(addr: IpAddr) -> Self {
        Subnet {
            addr,
            prefix_len: address_width(addr),
        }
        .canonical()
    }

    /// Every IPv4 address, 0.0.0.0/0.
    pub fn any_v4() -> Self {
        Subnet {
            addr: Ipv4Addr::UNSPECIFIED.into(),
            prefix_len: 0,
        }
    }

    /// Every IPv6 address, ::/0.
    pub fn any_v6() -> Self {
        Subnet {
            addr: Ipv6Addr::UNSPECIFIED.into(),
            prefix_len: 0,
        }
    }

    /// Whether `addr` is in the subnet; an IPv4-mapped IPv6 address counts as its IPv4
    /// address, as the peer of a dual-stack socket is one.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        let width = address_width(self.addr);
        address_width(addr) == width
            && address_bits(addr) & prefix_mask(width, self.prefix_len) == address_bits(self.addr)
    }

    /// The fields are public, so `AccessTable::set` normalises whatever it is given: an
    /// over-long prefix is cut to the address width, host bits are cleared.
    fn canonical(self) -> Self {
        let addr = self.addr;
        let prefix_len = self.prefix_len.min(address_width(addr));
        let width = address_width(addr);
        let network = address_bits(addr) & prefix_mask(width, prefix_len);
        Subnet {
            addr: bits_to_address(addr, network),
            prefix_len,
        }
    }
}

/// `ADDRESS` or `ADDRESS/PREFIX-LENGTH`, IPv4 or IPv6.
impl std::str::FromStr for Subnet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix_len) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or ADDRESS/PREFIX-LENGTH"))?;
        match prefix_len {
            None => Ok(Subnet::host(addr)),
            Some(len) => len
                .parse()
                .ok()
                .and_then(|len| Subnet::new(addr, len))
                .ok_or_else(|| {
                    format!(
                        "`{text}`: the prefix length must be 0..{}",
                        address_width(addr)
                    )
                }),
        }
    }
}

/// As chrony prints subnets: a host without a prefix length, anything wider as `addr/len`.
impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix_len == address_width(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix_len)
        }
    }
}

/// Which NTP clients may be answered. The default denies everything, as chronyd serves no
/// client until an `allow` directive says so.
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    /// Every `set` call in order, so `rules` can list the ones still in effect.
    rules: Vec<Rule>,
    /// The effective entries of each family, most specific level first: the first entry that
    /// contains an address decides, which is what walking chrony's tree to the deepest
    /// explicitly set node decides.
    v4: Vec<Entry>,
    v6: Vec<Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    subnet: Subnet,
    allow: bool,
    /// False once later rules have overwritten or cleared every entry this rule set.
    in_effect: bool,
}

/// One node of chrony's tree that has an explicit allow/deny state. Both families are held in
/// `u128` (IPv4 in the low 32 bits) so one lookup routine serves both.
#[derive(Debug, Clone, Copy)]
struct Entry {
    network: u128,
    mask: u128,
    level: u8,
    allow: bool,
    rule: usize,
}

impl AccessTable {
    /// A table that denies every client.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allow or deny `subnet`. A more specific subnet wins over a wider one whatever the order;
    /// setting the same subnet again replaces the earlier state. With `all` (the `allow all` /
    /// `deny all` form) every more specific rule inside `subnet` set before is removed.
    pub fn set(&mut self, subnet: Subnet, allow: bool, all: bool) {
        let subnet = subnet.canonical();
        let rule = self.rules.len();
        self.rules.push(Rule {
            subnet,
            allow,
            in_effect: true,
        });

        let width = address_width(subnet.addr);
        let level = subnet.prefix_len.div_ceil(BITS_PER_LEVEL) * BITS_PER_LEVEL;
        let mask = prefix_mask(width, level);
        let first_network = address_bits(subnet.addr);
        let entries = match subnet.addr {
            IpAddr::V4(_) => &mut self.v4,
            IpAddr::V6(_) => &mut self.v6,
        };
        for index in 0..1u128 << (level - subnet.prefix_len) {
            // At level 0 the only index is 0 and the shift is the full width (128 for IPv6):
            // checked_shl gives that 0 instead of overflowing.
            let network = first_network | index.checked_shl(u32::from(width - level)).unwrap_or(0);
            entries.retain(|entry| {
                let same_node = entry.level == level && entry.network == network;
                let inside = entry.level > level && entry.network & mask == network;
                !(same_node || (all && inside))
            });
            entries.push(Entry {
                network,
                mask,
                level,
                allow,
                rule,
            });
        }
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.level));

        for rule in &mut self.rules {
            rule.in_effect = false;
        }
        for entry in self.v4.iter().chain(&self.v6) {
            self.rules[entry.rule].in_effect = true;
        }
    }

    /// Whether a client at `addr` may be answered. An IPv4-mapped IPv6 address is an IPv4 client
    /// (chronyd sees every IPv4 client as IPv4), so it is looked up among the IPv4 rules. Called per packet: a scan of a short precomputed list, no allocation.
    pub fn is_allowed(&self, addr: IpAddr) -> bool {
        let (entries, bits) = match addr {
            IpAddr::V4(v4) => (&self.v4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (&self.v4, u128::from(u32::from(v4))),
                None => (&self.v6, u128::from(v6)),
            },
        };
        entries
            .iter()
            .find(|entry| bits & entry.mask == entry.network)
            .is_some_and(|entry| entry.allow)
    }

    /// Whether any client of `family` may be answered: chronyd opens its server socket of a
    /// family only then (ntp_core.c). An allow entry whose whole subnet later deny entries
    /// cover still counts, a case chronyd's tree walk would not count.
    pub fn any_allowed(&self, family: Family) -> bool {
        let entries = match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        };
        entries.iter().any(|entry| entry.allow)
    }

    /// The rules still in effect, in the order they were set, as (subnet, allow). Setting them
    /// again in this order, without `all`, rebuilds the same table.
    pub fn rules(&self) -> impl Iterator<Item = (Subnet, bool)> + '_ {
        self.rules
            .iter()
            .filter(|rule| rule.in_effect)
            .map(|rule| (rule.subnet, rule.allow))
    }
}

fn address_width(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn address_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// An address of the same family as `family` holding `bits`.
fn bits_to_address(family: IpAddr, bits: u128) -> IpAddr {
    match family {
        // The IPv4 value came from a u32 and was only masked, so it still fits.
        IpAddr::V4(_) => Ipv4Addr::from(bits as u32).into(),
        IpAddr::V6(_) => Ipv6Addr::from(bits).into(),
    }
}

/// The mask of the `prefix_len` leading bits of a `width`-bit address, right-aligned in u128.
fn prefix_mask(width: u8, prefix_len: u8) -> u128 {
    let all_ones = u128::MAX >> (128 - width);
    all_ones
        .checked_shl(u32::from(width - prefix_len))
        .unwrap_or(0)
        & all_ones
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_contain_their_addresses() {
        let lan: Subnet = "192.0.2.0/24".parse().unwrap();
        assert!(lan.contains("192.0.2.77".parse().unwrap()));
        assert!(lan.contains("::ffff:192.0.2.77".parse().unwrap()));
        assert!(!lan.contains("192.0.3.1".parse().unwrap()));
        assert!(!lan.contains("2001:db8::1".parse().unwrap()));
        let host: Subnet = "2001:db8::1".parse().unwrap();
        assert!(host.contains("2001:db8::1".parse().unwrap()));
        assert!(!host.contains("2001:db8::2".parse().unwrap()));
        assert_eq!(host.to_string(), "2001:db8::1");
        assert!("192.0.2.0/33".parse::<Subnet>().is_err());
        assert!("balancer".parse::<Subnet>().is_err());
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn subnet(text: &str) -> Subnet {
        let (addr, len) = text.split_once('/').unwrap();
        Subnet::new(ip(addr), len.parse().unwrap()).unwrap()
    }

    fn table(rules: &[(&str, bool, bool)]) -> AccessTable {
        let mut table = AccessTable::new();
        for &(text, allow, all) in rules {
            table.set(subnet(text), allow, all);
        }
        table
    }

    fn listed(table: &AccessTable) -> Vec<String> {
        table
            .rules()
            .map(|(subnet, allow)| format!("{} {subnet}", if allow { "allow" } else { "deny" }))
            .collect()
    }

    #[test]
    fn default_denies_everything() {
        let table = AccessTable::new();
        for addr in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "2001:db8::1",
        ] {
            assert!(!table.is_allowed(ip(addr)), "{addr}");
        }
        assert_eq!(table.rules().count(), 0);
    }

    #[test]
    fn more_specific_wins_in_any_order() {
        // The example of chrony.conf(5): 1.2.0.0/16 allowed except 1.2.3.0/24, but 1.2.3.4 is.
        let rules = [
            ("1.2.3.4/32", true, false),
            ("1.2.3.0/24", false, false),
            ("1.2.0.0/16", true, false),
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let table = table(&order.map(|i| rules[i]));
            assert!(table.is_allowed(ip("1.2.3.4")), "{order:?}");
            assert!(!table.is_allowed(ip("1.2.3.5")), "{order:?}");
            assert!(table.is_allowed(ip("1.2.4.1")), "{order:?}");
            assert!(!table.is_allowed(ip("1.3.0.1")), "{order:?}");
        }
    }

    #[test]
    fn allow_all_clears_earlier_more_specific_rules() {
        let table = table(&[
            ("1.2.3.4/32", true, false),
            ("1.2.3.0/24", false, false),
            ("1.2.0.0/16", true, true),
        ]);
        assert!(table.is_allowed(ip("1.2.3.4")));
        assert!(table.is_allowed(ip("1.2.3.5")));
        assert_eq!(listed(&table), ["allow 1.2.0.0/16"]);
    }

    #[test]
    fn all_keeps_rules_set_after_it_and_rules_outside() {
        let table = table(&[
            ("10.0.0.0/8", true, false),
            ("1.2.3.0/24", true, false),
            ("1.2.0.0/16", false, true),
            ("1.2.5.0/24", true, false),
        ]);
        assert!(!table.is_allowed(ip("1.2.3.1")));
        assert!(table.is_allowed(ip("1.2.5.1")));
        assert!(table.is_allowed(ip("10.9.9.9")));
        assert_eq!(
            listed(&table),
            ["allow 10.0.0.0/8", "deny 1.2.0.0/16", "allow 1.2.5.0/24"]
        );
    }

    #[test]
    fn same_subnet_twice_later_wins() {
        let table = table(&[
            ("192.168.0.0/16", true, false),
            ("192.168.0.0/16", false, false),
        ]);
        assert!(!table.is_allowed(ip("192.168.1.1")));
        assert_eq!(listed(&table), ["deny 192.168.0.0/16"]);
    }

    #[test]
    fn prefixes_on_one_tree_level_depend_on_order_as_in_chrony() {
        // /25 and /28 both live on the /28 level of chrony's tree, so the later one overwrites.
        let narrow_then_wide = table(&[("1.2.3.0/28", true, false), ("1.2.3.0/25", false, false)]);
        assert!(!narrow_then_wide.is_allowed(ip("1.2.3.1")));
        assert_eq!(listed(&narrow_then_wide), ["deny 1.2.3.0/25"]);

        let wide_then_narrow = table(&[("1.2.3.0/25", false, false), ("1.2.3.0/28", true, false)]);
        assert!(wide_then_narrow.is_allowed(ip("1.2.3.1")));
        assert!(!wide_then_narrow.is_allowed(ip("1.2.3.17")));
        assert!(!wide_then_narrow.is_allowed(ip("1.2.3.127")));
        assert!(!wide_then_narrow.is_allowed(ip("1.2.3.128")));

        // /28 and /29 are on different levels: the more specific wins in either order.
        for rules in [
            [("1.2.3.0/29", true, false), ("1.2.3.0/28", false, false)],
            [("1.2.3.0/28", false, false), ("1.2.3.0/29", true, false)],
        ] {
            let table = table(&rules);
            assert!(table.is_allowed(ip("1.2.3.7")));
            assert!(!table.is_allowed(ip("1.2.3.8")));
        }
    }

    #[test]
    fn odd_prefix_lengths_cover_exactly_their_subnet() {
        let table = table(&[("10.0.0.0/8", true, false), ("10.64.0.0/10", false, false)]);
        assert!(table.is_allowed(ip("10.63.255.255")));
        assert!(!table.is_allowed(ip("10.64.0.0")));
        assert!(!table.is_allowed(ip("10.127.255.255")));
        assert!(table.is_allowed(ip("10.128.0.0")));
    }

    #[test]
    fn ipv6_rules() {
        let table = table(&[
            ("2001:db8::/32", true, false),
            ("2001:db8:bad::/48", false, false),
            ("2001:db8:bad::123/128", true, false),
        ]);
        assert!(table.is_allowed(ip("2001:db8::1")));
        assert!(!table.is_allowed(ip("2001:db8:bad::1")));
        assert!(table.is_allowed(ip("2001:db8:bad::123")));
        assert!(!table.is_allowed(ip("2001:db9::1")));
        // The families are separate tables.
        assert!(!table.is_allowed(ip("32.1.13.184")));
    }

    #[test]
    fn whole_families() {
        let mut table = AccessTable::new();
        table.set(Subnet::any_v4(), true, false);
        assert!(table.is_allowed(ip("203.0.113.9")));
        assert!(!table.is_allowed(ip("2001:db8::1")));
        table.set(Subnet::any_v6(), true, false);
        assert!(table.is_allowed(ip("2001:db8::1")));
        table.set(subnet("203.0.113.0/24"), false, false);
        table.set(Subnet::any_v4(), false, true);
        assert!(!table.is_allowed(ip("203.0.113.9")));
        assert!(table.is_allowed(ip("::1")));
        assert_eq!(listed(&table), ["allow ::/0", "deny 0.0.0.0/0"]);
    }

    #[test]
    fn mapped_addresses_are_looked_up_as_ipv4() {
        let v4_rule = table(&[("192.0.2.0/24", true, false), ("::/0", false, false)]);
        assert!(v4_rule.is_allowed(ip("::ffff:192.0.2.7")));
        assert!(!v4_rule.is_allowed(ip("::ffff:198.51.100.7")));
    }

    #[test]
    fn mapped_subnet_matches_no_ipv4_client_as_in_chronyd() {
        let mapped_rule = table(&[("::ffff:127.0.0.0/104", true, false)]);
        assert!(!mapped_rule.is_allowed(ip("127.0.0.1")));
        assert!(!mapped_rule.is_allowed(ip("::ffff:127.0.0.1")));
        assert!(!mapped_rule.any_allowed(Family::V4));
        assert!(mapped_rule.any_allowed(Family::V6));
        assert_eq!(listed(&mapped_rule), ["allow ::ffff:127.0.0.0/104"]);
    }

    #[test]
    fn any_allowed_per_family() {
        assert!(!AccessTable::new().any_allowed(Family::V4));
        assert!(!AccessTable::new().any_allowed(Family::V6));
        let v4_only = table(&[("10.0.0.0/8", true, false)]);
        assert!(v4_only.any_allowed(Family::V4));
        assert!(!v4_only.any_allowed(Family::V6));
        let denied_again = table(&[("10.0.0.0/8", true, false), ("10.0.0.0/8", false, false)]);
        assert!(!denied_again.any_allowed(Family::V4));
    }

    #[test]
    fn subnet_is_normalised_and_printed_as_chrony() {
        assert_eq!(subnet("1.2.3.4/24").to_string(), "1.2.3.0/24");
        assert_eq!(subnet("1.2.3.4/32").to_string(), "1.2.3.4");
        assert_eq!(Subnet::host(ip("2001:db8::1")).to_string(), "2001:db8::1");
        assert_eq!(
            subnet("2001:db8:ffff::/33").to_string(),
            "2001:db8:8000::/33"
        );
        assert_eq!(Subnet::any_v4().to_string(), "0.0.0.0/0");
        assert_eq!(Subnet::any_v6().to_string(), "::/0");
        assert_eq!(Subnet::new(ip("1.2.3.4"), 33), None);
        assert_eq!(Subnet::new(ip("::"), 129), None);
    }

    #[test]
    fn set_normalises_hand_built_subnets() {
        let mut table = AccessTable::new();
        table.set(
            Subnet {
                addr: ip("198.51.100.77"),
                prefix_len: 40,
            },
            true,
            false,
        );
        assert!(table.is_allowed(ip("198.51.100.77")));
        assert!(!table.is_allowed(ip("198.51.100.78")));
    }
}
