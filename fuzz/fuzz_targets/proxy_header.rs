//! What the server does with the first bytes of a connection from a trusted proxy, with the
//! engine's own code: `proxy_header::scan` as the server calls it on what has arrived so far
//! (every prefix of the input), `proxy_header::parse` (the `ppp` crate) on a whole header, and
//! `forwarded::client_address` on the input as a forwarding header's value.
//!
//! Input: the first byte picks the forwarding header, the rest is what the proxy sent.

#![no_main]

use std::net::SocketAddr;

use gdws_engine::proto::forwarded::client_address;
use gdws_engine::proto::proxy_header::{
    parse, scan, Scan, SCAN_WINDOW, V1_MAX_HEADER, V2_MAX_HEADER,
};
use gdws_engine::{ClientRequest, TrustedProxies};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [pick, input @ ..] = data else {
        return;
    };
    let whole = scan(input);
    // The server takes every byte of an incomplete scan from the socket: they must all be the
    // header's, within the window it peeks, and a longer input must not change a decision.
    let mut decided = None;
    for end in 0..=input.len() {
        match scan(&input[..end]) {
            Scan::Incomplete => {
                assert!(decided.is_none(), "undecided again at {end}");
                assert!(end < SCAN_WINDOW);
                if let Scan::Header(length) = whole {
                    assert!(end < length);
                }
            }
            decision => match &decided {
                None => decided = Some(decision),
                Some(earlier) => assert_eq!(*earlier, decision, "at {end}"),
            },
        }
    }
    if let Scan::Header(length) = whole {
        assert!(length <= V1_MAX_HEADER.max(V2_MAX_HEADER));
        if length <= input.len() {
            let _ = parse(&input[..length]);
        }
    }

    let name = ["x-forwarded-for", "forwarded", "x-real-ip"][usize::from(*pick % 3)];
    let request = ClientRequest::new("/", [(name, String::from_utf8_lossy(input))]);
    let (trusted, _) = TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    let hop: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let client = client_address(hop, &request, &trusted);
    assert!(client == hop || client.port() == 0 || input.contains(&b':'));
});
