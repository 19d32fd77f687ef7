//! The PROXY protocol header (HAProxy's, version 1 text and version 2 binary) that a proxy in
//! TCP mode sends before anything else on a connection, naming the client it took it from.
//! `scan` finds where a header ends without taking a byte past it (what follows is a TLS
//! ClientHello or the HTTP request); `parse`, with the `ppp` crate, reads the client's address
//! from it.

use std::net::{IpAddr, SocketAddr};

use ppp::v1::{self, Addresses as V1Addresses};
use ppp::v2::{self, Addresses as V2Addresses, Command};

/// A version 1 header begins so.
pub const V1_SIGNATURE: &[u8] = b"PROXY ";
/// A version 1 header is at most this long, its CRLF included (the specification's bound).
pub const V1_MAX_HEADER: usize = 107;
/// A version 2 header begins so.
pub const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The fixed part of a version 2 header: the signature, version and command, family and
/// protocol, and the length of the rest.
pub const V2_FIXED: usize = 16;
/// The longest version 2 header taken, TLVs included. The protocol allows 64 KiB; proxies send
/// the addresses and a few short TLVs (HAProxy's and the cloud load balancers' are under 300
/// bytes), and a longer one is refused rather than buffered.
pub const V2_MAX_HEADER: usize = 4096;
/// The most `scan` needs to see at once to decide: a whole version 1 header.
pub const SCAN_WINDOW: usize = V1_MAX_HEADER;

/// What the first bytes of a connection are.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Not a PROXY header.
    NotProxy,
    /// The start of a PROXY header, or of what may be one: every byte seen belongs to it if it
    /// is one, so they may be taken from the stream without taking any of what follows.
    Incomplete,
    /// A PROXY header of this many bytes (may be more than were seen).
    Header(usize),
    /// A PROXY header that cannot be valid, and why.
    Invalid(String),
}

/// Where the PROXY header that `bytes` (the connection's first bytes) begins with ends.
pub fn scan(bytes: &[u8]) -> Scan {
    let begins = |signature: &[u8]| {
        let common = bytes.len().min(signature.len());
        bytes[..common] == signature[..common]
    };
    if begins(V1_SIGNATURE) {
        if bytes.len() < V1_SIGNATURE.len() {
            return Scan::Incomplete;
        }
        // The header's only CR is the one of its CRLF.
        let window = &bytes[..bytes.len().min(V1_MAX_HEADER - 1)];
        return match window.iter().position(|&b| b == b'\r') {
            Some(cr) if cr + 1 < bytes.len() => Scan::Header(cr + 2),
            Some(_) => Scan::Incomplete,
            None if window.len() == V1_MAX_HEADER - 1 => Scan::Invalid(format!(
                "a PROXY v1 header without its CRLF within {V1_MAX_HEADER} bytes"
            )),
            None => Scan::Incomplete,
        };
    }
    if begins(V2_SIGNATURE) {
        if bytes.len() < V2_FIXED {
            return Scan::Incomplete;
        }
        let length = V2_FIXED + usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
        if length > V2_MAX_HEADER {
            return Scan::Invalid(format!(
                "a PROXY v2 header of {length} bytes, over the {V2_MAX_HEADER} taken"
            ));
        }
        return Scan::Header(length);
    }
    Scan::NotProxy
}

/// Whom a valid header names.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// The client the proxy took the connection from (an IPv4-mapped IPv6 address as IPv4).
    Client(SocketAddr),
    /// The proxy itself: a v2 `LOCAL` command (the proxy's own health check), or a header that
    /// names no IP client (v1 `UNKNOWN`, v2 unspecified or UNIX-socket addresses).
    Proxy,
}

/// The source a whole header (as `scan` measured it) names, or why it is not valid.
pub fn parse(header: &[u8]) -> Result<Source, String> {
    let client = |ip: IpAddr, port| Source::Client(SocketAddr::new(ip.to_canonical(), port));
    if header.starts_with(V2_SIGNATURE) {
        let header = v2::Header::try_from(header)
            .map_err(|error| format!("an invalid PROXY v2 header: {error}"))?;
        return Ok(match (header.command, header.addresses) {
            (Command::Proxy, V2Addresses::IPv4(a)) => {
                client(a.source_address.into(), a.source_port)
            }
            (Command::Proxy, V2Addresses::IPv6(a)) => {
                client(a.source_address.into(), a.source_port)
            }
            _ => Source::Proxy,
        });
    }
    let header = v1::Header::try_from(header)
        .map_err(|error| format!("an invalid PROXY v1 header: {error}"))?;
    Ok(match header.addresses {
        V1Addresses::Tcp4(a) => client(a.source_address.into(), a.source_port),
        V1Addresses::Tcp6(a) => client(a.source_address.into(), a.source_port),
        V1Addresses::Unknown => Source::Proxy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppp::v2::{Builder, Protocol, Version};

    const V1_TCP4: &[u8] = b"PROXY TCP4 203.0.113.7 10.0.0.1 56324 8080\r\n";

    fn v2(command: Command, addresses: V2Addresses) -> Vec<u8> {
        Builder::with_addresses(Version::Two | command, Protocol::Stream, addresses)
            .build()
            .unwrap()
    }

    /// What `parse` gives for a header naming `address`.
    fn client(address: &str) -> Result<Source, String> {
        Ok(Source::Client(address.parse().unwrap()))
    }

    fn addresses(source: &str, destination: &str) -> V2Addresses {
        (
            source.parse::<SocketAddr>().unwrap(),
            destination.parse::<SocketAddr>().unwrap(),
        )
            .into()
    }

    #[test]
    fn a_v1_header_ends_at_its_crlf_and_names_the_client() {
        let mut stream = V1_TCP4.to_vec();
        stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(scan(&stream), Scan::Header(V1_TCP4.len()));
        assert_eq!(parse(V1_TCP4), client("203.0.113.7:56324"));
        let tcp6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 443\r\n";
        assert_eq!(scan(tcp6), Scan::Header(tcp6.len()));
        assert_eq!(parse(tcp6), client("[2001:db8::7]:4000"));
        let mapped = b"PROXY TCP6 ::ffff:203.0.113.7 ::ffff:10.0.0.1 4000 443\r\n";
        assert_eq!(parse(mapped), client("203.0.113.7:4000"));
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), Ok(Source::Proxy));
        assert_eq!(
            parse(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"),
            Ok(Source::Proxy)
        );
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete_and_the_whole_is_not() {
        let v2 = v2(
            Command::Proxy,
            addresses("203.0.113.7:4000", "10.0.0.1:443"),
        );
        for header in [V1_TCP4, &v2] {
            for end in 1..header.len() {
                let partial = &header[..end];
                match scan(partial) {
                    Scan::Incomplete => {}
                    // v2's length is known from its 16th byte on.
                    Scan::Header(length) if end >= V2_FIXED => assert_eq!(length, header.len()),
                    other => panic!("{partial:?}: {other:?}"),
                }
            }
            assert_eq!(scan(header), Scan::Header(header.len()));
        }
    }

    #[test]
    fn other_first_bytes_are_not_proxy() {
        for start in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"POST /",
            b"PROXZ",
            b"PROXYX",
            b"\x16\x03\x01\x02\x00",
            b"\r\n\r\nGET",
            b"\r\n\r\n\0\r\nQUIX\n",
        ] {
            assert_eq!(scan(start), Scan::NotProxy, "{start:?}");
        }
    }

    #[test]
    fn a_v2_header_names_the_client_or_for_local_the_proxy() {
        let header = v2(
            Command::Proxy,
            addresses("203.0.113.7:4000", "10.0.0.1:443"),
        );
        assert_eq!(header.len(), V2_FIXED + 12);
        let mut stream = header.clone();
        stream.extend_from_slice(&[0x16, 0x03, 0x01]);
        assert_eq!(scan(&stream), Scan::Header(header.len()));
        assert_eq!(parse(&header), client("203.0.113.7:4000"));
        let header = v2(
            Command::Proxy,
            addresses("[2001:db8::7]:4000", "[2001:db8::1]:443"),
        );
        assert_eq!(parse(&header), client("[2001:db8::7]:4000"));
        let header = v2(
            Command::Proxy,
            addresses("[::ffff:203.0.113.7]:4000", "[::ffff:10.0.0.1]:443"),
        );
        assert_eq!(parse(&header), client("203.0.113.7:4000"));
        let local = v2(Command::Local, V2Addresses::Unspecified);
        assert_eq!(local.len(), V2_FIXED);
        assert_eq!(parse(&local), Ok(Source::Proxy));
        let local = v2(Command::Local, addresses("10.0.0.2:1", "10.0.0.1:443"));
        assert_eq!(parse(&local), Ok(Source::Proxy));
        let unspecified = v2(Command::Proxy, V2Addresses::Unspecified);
        assert_eq!(parse(&unspecified), Ok(Source::Proxy));
    }

    #[test]
    fn a_v2_header_with_tlvs_is_measured_whole() {
        let header = Builder::with_addresses(
            Version::Two | Command::Proxy,
            Protocol::Stream,
            addresses("203.0.113.7:4000", "10.0.0.1:443"),
        )
        .write_tlv(0x05_u8, b"unique-id-123")
        .unwrap()
        .write_tlv(0x02_u8, b"game.example.com")
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(scan(&header), Scan::Header(header.len()));
        assert_eq!(parse(&header), client("203.0.113.7:4000"));
    }

    #[test]
    fn bad_headers_are_invalid_with_a_reason() {
        let mut long_v1 = b"PROXY TCP4 ".to_vec();
        long_v1.resize(V1_MAX_HEADER - 1, b'1');
        assert_eq!(
            scan(&long_v1),
            Scan::Invalid("a PROXY v1 header without its CRLF within 107 bytes".to_owned())
        );
        let mut long_v2 = V2_SIGNATURE.to_vec();
        long_v2.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]);
        assert_eq!(
            scan(&long_v2),
            Scan::Invalid("a PROXY v2 header of 4112 bytes, over the 4096 taken".to_owned())
        );
        for bad in [
            &b"PROXY TCP4 203.0.113.300 10.0.0.1 1 2\r\n"[..],
            b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 99999\r\n",
            b"PROXY TCP4 1.2.3.4\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX",
        ] {
            let reason = parse(bad).unwrap_err();
            assert!(
                reason.starts_with("an invalid PROXY v1 header: "),
                "{reason}"
            );
        }
        // Version 3, command 2, family 4: each refused.
        for (byte, value) in [(12, 0x31), (12, 0x22), (13, 0x41)] {
            let mut header = v2(Command::Proxy, addresses("1.2.3.4:1", "1.2.3.5:2"));
            header[byte] = value;
            let reason = parse(&header).unwrap_err();
            assert!(
                reason.starts_with("an invalid PROXY v2 header: "),
                "{reason}"
            );
        }
        // An IPv4 header too short for its addresses.
        let mut short = V2_SIGNATURE.to_vec();
        short.extend_from_slice(&[0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4]);
        assert_eq!(scan(&short), Scan::Header(20));
        assert!(parse(&short).is_err());
    }
}
