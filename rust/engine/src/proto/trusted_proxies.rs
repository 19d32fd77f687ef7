//! `trusted_proxies`: the addresses (IPv4/IPv6 addresses and CIDR ranges) whose word on a
//! client's address the server takes, in a PROXY protocol header or a `Forwarded`-style header.
//! Empty trusts nobody, the stock class's behaviour.

use std::fmt;
use std::net::IpAddr;

/// One entry: an address and how many of its leading bits a source must share with it (the
/// whole address for a plain one). An IPv4-mapped IPv6 entry is kept as the IPv4 one, as the
/// listener reports the clients of a dual-stack socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8` (whitespace around it ignored). A
    /// range with bits set past its prefix (`10.0.0.1/8`) is refused: it is a typo, or a host
    /// meant without the prefix.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IPv4/IPv6 address or CIDR range"))?;
        let bits = bit_count(network);
        let prefix = match prefix {
            None => bits,
            Some(digits) => Some(digits)
                .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u8>().ok())
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| {
                    format!("{text:?}: the prefix length must be a number from 0 to {bits}")
                })?,
        };
        let range = Self { network, prefix }.canonical();
        if range.masked(range.network) != range.network {
            return Err(format!(
                "{text:?} has bits set past its /{prefix} prefix: write {}/{} for the range, \
                 or the address alone",
                range.masked(range.network),
                range.prefix
            ));
        }
        Ok(range)
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as IPv4) is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && self.masked(ip) == self.network
    }

    /// `::ffff:a.b.c.d/n` as `a.b.c.d/(n - 96)` when the prefix covers the mapping.
    fn canonical(self) -> Self {
        match self.network {
            IpAddr::V6(v6) if self.prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Self {
                    network: IpAddr::V4(v4),
                    prefix: self.prefix - 96,
                },
                None => self,
            },
            _ => self,
        }
    }

    /// `ip` with the bits past the prefix cleared (`ip` of the range's family).
    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }
}

fn bit_count(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// `10.0.0.0/8`, or the address alone for a single one.
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == bit_count(self.network) {
            self.network.fmt(f)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

/// The trusted sources of one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// The entries that parse, and why each of the others does not: a bad entry never widens
    /// whom the server trusts, so the good ones are kept.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> (Self, Vec<String>) {
        let mut ranges = Vec::new();
        let mut errors = Vec::new();
        for entry in entries {
            match IpRange::parse(entry) {
                Ok(range) => ranges.push(range),
                Err(error) => errors.push(error),
            }
        }
        (Self(ranges), errors)
    }

    /// Whether `ip` is trusted (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn ranges(&self) -> &[IpRange] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_and_ranges_of_both_families_parse_and_match() {
        let (trusted, errors) = TrustedProxies::parse([
            "127.0.0.1",
            " 10.0.0.0/8 ",
            "192.168.1.0/24",
            "::1",
            "fd00::/8",
            "0.0.0.0/0",
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let shown: Vec<String> = trusted.ranges().iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown,
            [
                "127.0.0.1",
                "10.0.0.0/8",
                "192.168.1.0/24",
                "::1",
                "fd00::/8",
                "0.0.0.0/0"
            ]
        );
        let range = |text| IpRange::parse(text).unwrap();
        assert!(range("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!range("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(range("192.168.1.0/24").contains(ip("192.168.1.77")));
        assert!(!range("192.168.1.0/24").contains(ip("192.168.2.1")));
        assert!(range("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!range("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(range("fd00::/8").contains(ip("fd12:3456::1")));
        assert!(!range("fd00::/8").contains(ip("fe80::1")));
        assert!(range("::1").contains(ip("::1")));
        // Every IPv4 address, no IPv6 one: the families never mix.
        assert!(range("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!range("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(range("::/0").contains(ip("2001:db8::1")));
        assert!(!range("::/0").contains(ip("203.0.113.9")));
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4_in_entries_and_sources() {
        let range = IpRange::parse("::ffff:10.1.0.0/112").unwrap();
        assert_eq!(range.to_string(), "10.1.0.0/16");
        assert!(range.contains(ip("10.1.2.3")));
        assert!(IpRange::parse("10.1.0.0/16")
            .unwrap()
            .contains(ip("::ffff:10.1.2.3")));
        assert_eq!(
            IpRange::parse("::ffff:127.0.0.1").unwrap().to_string(),
            "127.0.0.1"
        );
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason_and_the_good_ones_kept() {
        let (trusted, errors) = TrustedProxies::parse([
            "127.0.0.1",
            "localhost",
            "10.0.0.0/33",
            "10.0.0.1/8",
            "",
            "::1/129",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "300.0.0.1",
        ]);
        assert_eq!(trusted.ranges().len(), 1);
        assert!(trusted.contains(ip("127.0.0.1")));
        assert_eq!(
            errors,
            [
                "\"localhost\" is not an IPv4/IPv6 address or CIDR range",
                "\"10.0.0.0/33\": the prefix length must be a number from 0 to 32",
                "\"10.0.0.1/8\" has bits set past its /8 prefix: write 10.0.0.0/8 for the \
                 range, or the address alone",
                "\"\" is not an IPv4/IPv6 address or CIDR range",
                "\"::1/129\": the prefix length must be a number from 0 to 128",
                "\"10.0.0.0/+8\": the prefix length must be a number from 0 to 32",
                "\"10.0.0.0/\": the prefix length must be a number from 0 to 32",
                "\"300.0.0.1\" is not an IPv4/IPv6 address or CIDR range",
            ]
        );
    }

    #[test]
    fn nobody_is_trusted_by_default() {
        let trusted = TrustedProxies::default();
        assert!(trusted.is_empty());
        assert!(!trusted.contains(ip("127.0.0.1")));
    }
}
