//! IP prefixes as netconfs write them (`10.1.0.0/24`, `fd00::/64`), parsed the way Go's
//! `net.ParseCIDR` and `net.ParseIP` accept them, with the arithmetic the rules need.

use std::fmt;
use std::net::IpAddr;

/// A prefix: an address (host bits possibly set) and a length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    /// The address as written.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

/// The number of bits of an address family.
fn bits(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// An address as a 128-bit number (IPv4 in the low 32 bits).
fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

fn from_u128(v: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4((v as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(v.into()),
    }
}

/// Parses an address as Go's `net.ParseIP` does (no zone, no brackets).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

impl IpNet {
    /// Parses `ADDR/LEN` as Go's `net.ParseCIDR` does.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, len) = s.split_once('/')?;
        let addr = parse_ip(addr)?;
        // Go takes decimal digits only: no sign, no leading `+`.
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
            return None;
        }
        let len: u8 = len.parse().ok()?;
        (len <= bits(addr)).then_some(IpNet { addr, len })
    }

    fn mask(&self) -> u128 {
        let host = bits(self.addr) - self.len;
        let all = if bits(self.addr) == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        from_u128(to_u128(self.addr) & self.mask(), self.addr)
    }

    /// The last address of the prefix (IPv4's broadcast address).
    pub fn last(&self) -> IpAddr {
        let all = if bits(self.addr) == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        from_u128(
            (to_u128(self.addr) & self.mask()) | (all & !self.mask()),
            self.addr,
        )
    }

    /// The prefix with its host bits cleared.
    pub fn canonical(&self) -> IpNet {
        IpNet {
            addr: self.network(),
            len: self.len,
        }
    }

    /// The first and last address of the prefix as numbers (IPv4 in the low 32 bits).
    pub fn span(&self) -> (u128, u128) {
        (to_u128(self.network()), to_u128(self.last()))
    }

    /// Whether `addr` is inside the prefix (same family).
    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.addr.is_ipv4()
            && to_u128(addr) & self.mask() == to_u128(self.addr) & self.mask()
    }

    /// Whether the two prefixes share an address.
    pub fn overlaps(&self, other: &IpNet) -> bool {
        if self.addr.is_ipv4() != other.addr.is_ipv4() {
            return false;
        }
        let shorter = if self.len <= other.len { self } else { other };
        let longer = if self.len <= other.len { other } else { self };
        shorter.contains(longer.addr)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Compares two addresses of the same family as numbers.
pub fn cmp(a: IpAddr, b: IpAddr) -> std::cmp::Ordering {
    to_u128(a).cmp(&to_u128(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let n = IpNet::parse("10.1.2.3/24").unwrap();
        assert_eq!(n.network().to_string(), "10.1.2.0");
        assert_eq!(n.last().to_string(), "10.1.2.255");
        assert_eq!(n.canonical().to_string(), "10.1.2.0/24");
        for bad in [
            "10.300.0.0/24",
            "10.0.0.0/33",
            "10.0.0.0",
            "10.0.0.0/+8",
            "fd00::/129",
        ] {
            assert_eq!(IpNet::parse(bad), None, "{bad}");
        }
        let v6 = IpNet::parse("fd00:1::5/64").unwrap();
        assert_eq!(v6.network().to_string(), "fd00:1::");
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn overlap() {
        let a = IpNet::parse("10.88.0.0/16").unwrap();
        let b = IpNet::parse("10.88.3.0/24").unwrap();
        let c = IpNet::parse("10.89.0.0/24").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(!a.overlaps(&IpNet::parse("fd00::/8").unwrap()));
    }
}
