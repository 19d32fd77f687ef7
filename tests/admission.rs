//! Who gets in: `max_connections` and `max_connections_per_ip` (past them an HTTP 503 with
//! `Retry-After`, or a TLS alert on wss://, and one warning per `WARNING_INTERVAL`), TCP
//! keepalive on every accepted socket, and the process's descriptor limit: the automatic
//! `max_connections` leaves the game descriptors to open files with, and at EMFILE new clients
//! are closed at once, the accept loop does not spin, and the server recovers.
//!
//! The descriptor-limit cases lower the process's RLIMIT_NOFILE, which would starve the other
//! tests of this binary: each runs in a process of its own (`in_own_process`). Their clients'
//! sockets are made before the limit drops, at descriptor numbers above it, so only the
//! server's side of each connection counts against the limit, as when clients are elsewhere.

mod common;

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::hostile::{raw_request, read_response_head, UPGRADE_HEAD};
use common::tls::{tls_connect, KeyKind, Pki};
use common::*;
use futures_util::SinkExt;
use gdws_engine::{
    automatic_max_connections, descriptor_reserve, PeerId, Server, ServerEvent, ACCEPT_BACKOFF,
    MAX_DRAINING_REFUSALS, REFUSAL_DRAIN_TIME, RETRY_AFTER_SECONDS, TCP_KEEPALIVE_IDLE,
    TCP_KEEPALIVE_INTERVAL, TCP_KEEPALIVE_RETRIES, WARNING_INTERVAL,
};
use rustix::process::{
    getpid, getrlimit, pidfd_getfd, pidfd_open, setrlimit, PidfdFlags, PidfdGetfdFlags, Resource,
    Rlimit,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const FULL_BODY: &str = "the server is full (max_connections); try again later";
const PER_IP_BODY: &str =
    "too many connections from your address (max_connections_per_ip); try again later";

/// The whole answer a client refused for `body` reads before the server closes.
fn refusal(body: &str) -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nRetry-After: {RETRY_AFTER_SECONDS}\r\n\r\n\
         {body}\n",
        body.len() + 1
    )
}

/// A raw upgrade request from a new connection, which must be refused for `body`.
#[track_caller]
fn assert_refused(clients: &Clients, addr: SocketAddr, body: &str) -> SocketAddr {
    let request = format!("{UPGRADE_HEAD}\r\n");
    let (answer, local) = clients.run(raw_request(addr, request.as_bytes()));
    assert_eq!(answer.text, refusal(body));
    local
}

/// The next event, skipping the refusal warnings that may come between (one per
/// `WARNING_INTERVAL`, so whether a later refusal prints depends on the clock).
#[track_caller]
fn event_past_refusals(server: &mut Server) -> ServerEvent {
    loop {
        match event(server) {
            ServerEvent::HandshakeFailed { reason, .. } if reason.contains("max_connections") => {}
            other => return other,
        }
    }
}

/// A WebSocket client that is connected: the game hears of it.
fn join(server: &mut Server, clients: &Clients) -> (Ws, PeerId) {
    let ws = clients.connect(server.local_addr());
    match event_past_refusals(server) {
        ServerEvent::Connected { id, .. } => (ws, id),
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// The peer still works both ways: a message up, its echo down.
fn assert_echoes(server: &mut Server, clients: &Clients, (ws, id): &mut (Ws, PeerId), data: &str) {
    clients.run(ws.send(Message::text(data))).unwrap();
    assert_eq!(
        event_past_refusals(server),
        ServerEvent::Message { id: *id }
    );
    let packet = server.peer_mut(*id).unwrap().get_packet().unwrap();
    assert_eq!(packet, text(data));
    server.peer(*id).unwrap().put_packet(packet).unwrap();
    assert_eq!(clients.run(recv(ws)), Message::text(data));
}

#[test]
fn past_max_connections_a_client_gets_503_and_a_freed_slot_admits_the_next() {
    let mut server = start_with(|config| config.max_connections = Some(3));
    assert_eq!(server.max_connections(), 3);
    let clients = Clients::new();
    let addr = server.local_addr();
    let mut peers: Vec<_> = (0..3).map(|_| join(&mut server, &clients)).collect();

    let refused = assert_refused(&clients, addr, FULL_BODY);
    match event(&mut server) {
        ServerEvent::HandshakeFailed { address, reason } => {
            assert_eq!(address, refused);
            assert_eq!(
                reason,
                "the server is full: max_connections (3) connections are open"
            );
        }
        other => panic!("expected the refusal's warning, got {other:?}"),
    }
    // A real client sees the 503 and the Retry-After.
    match clients.run(connect(addr, &[])) {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert_eq!(
                response.headers()["Retry-After"],
                RETRY_AFTER_SECONDS.to_string().as_str()
            );
        }
        other => panic!("expected HTTP 503, got {other:?}"),
    }

    for (i, peer) in peers.iter_mut().enumerate() {
        assert_echoes(&mut server, &clients, peer, &format!("still here {i}"));
    }
    assert_eq!(server.open_sockets(), 3, "the refused are not counted");

    let (mut ws, id) = peers.remove(0);
    clients.run(ws.close(None)).unwrap();
    assert!(matches!(
        event_past_refusals(&mut server),
        ServerEvent::CloseRequest { id: got, .. } if got == id
    ));
    assert_eq!(
        event_past_refusals(&mut server),
        ServerEvent::Disconnected {
            id,
            was_clean: true
        }
    );
    // The slot is free once the socket is closed, a moment after the game heard of it.
    wait_until("the closed socket is given back", || {
        server.open_sockets() == 2
    });
    let mut next = join(&mut server, &clients);
    assert_echoes(&mut server, &clients, &mut next, "admitted");
    server.stop();
}

#[test]
fn a_handshake_under_way_holds_a_slot() {
    let mut server = start_with(|config| config.max_connections = Some(2));
    let clients = Clients::new();
    let addr = server.local_addr();
    let _peer = join(&mut server, &clients);
    let silent = clients.run(TcpStream::connect(addr)).unwrap();
    wait_until("the silent client is accepted", || {
        server.open_sockets() == 2
    });
    assert_refused(&clients, addr, FULL_BODY);
    drop(silent);
    // A connection that never sent a byte is counted, not reported (a port scan).
    wait_until("the silent client's slot is free", || {
        server.open_sockets() == 1 && server.silent_connections() == 1
    });
    let _next = join(&mut server, &clients);
    server.stop();
}

/// A TCP connection to `addr` from the local address `from`.
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

#[test]
fn max_connections_per_ip_counts_each_address_apart() {
    let mut server = start_with(|config| config.max_connections_per_ip = 2);
    let clients = Clients::new();
    let addr = server.local_addr();
    let mut first = join(&mut server, &clients);
    let _second = join(&mut server, &clients);

    let refused = assert_refused(&clients, addr, PER_IP_BODY);
    match event(&mut server) {
        ServerEvent::HandshakeFailed { address, reason } => {
            assert_eq!(address, refused);
            assert_eq!(
                reason,
                "max_connections_per_ip (2) connections from 127.0.0.1 are open"
            );
        }
        other => panic!("expected the refusal's warning, got {other:?}"),
    }
    // 127.0.0.2 looks like another host: it is still admitted.
    let tcp = clients.run(connect_from("127.0.0.2", addr));
    let mut other_host = (clients.run(handshake(tcp, &[])).unwrap().0, 0);
    match event_past_refusals(&mut server) {
        ServerEvent::Connected { id, .. } => {
            other_host.1 = id;
            let ip = server.peer(id).unwrap().address().ip();
            assert_eq!(ip.to_string(), "127.0.0.2");
        }
        other => panic!("expected Connected, got {other:?}"),
    }
    assert_echoes(&mut server, &clients, &mut other_host, "from another host");
    assert_echoes(&mut server, &clients, &mut first, "the first stays");
    server.stop();
}

#[test]
fn refusals_print_one_warning_per_interval_with_the_count_held_back() {
    let mut server = start_with(|config| config.max_connections = Some(0));
    let clients = Clients::new();
    let addr = server.local_addr();
    let started = Instant::now();
    const BURST: usize = 5;
    for _ in 0..BURST {
        assert_refused(&clients, addr, FULL_BODY);
    }
    // One more once an interval has passed since the last warning could have been printed:
    // it is printed, and tells how many were held back since the one before.
    std::thread::sleep(WARNING_INTERVAL);
    assert_refused(&clients, addr, FULL_BODY);
    let elapsed = started.elapsed();
    let mut warnings = 0;
    let mut told = 0;
    while told < BURST + 1 {
        let ServerEvent::HandshakeFailed { reason, .. } = event(&mut server) else {
            panic!("only refusals happen here");
        };
        warnings += 1;
        told += 1 + held_back(&reason);
    }
    assert_eq!(told, BURST + 1, "every refusal is told once");
    let most = 1 + (elapsed.as_nanos() / WARNING_INTERVAL.as_nanos()) as usize;
    assert!(
        (2..=most).contains(&warnings),
        "{warnings} warnings in {elapsed:?} (at most one per {WARNING_INTERVAL:?})"
    );
    server.stop();
}

#[test]
fn past_the_refusals_being_answered_a_refused_client_is_closed_at_once() {
    let server = start_with(|config| config.max_connections = Some(0));
    let clients = Clients::new();
    let addr = server.local_addr();
    // What a client that connects now reads before the server closes.
    let answer_now = || {
        clients.run(async {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            let mut answer = Vec::new();
            let _ = tcp.read_to_end(&mut answer).await;
            String::from_utf8_lossy(&answer).into_owned()
        })
    };
    // Each drain lasts REFUSAL_DRAIN_TIME: on a machine too slow to fill them all within it,
    // the first drains end before the check, and the round is tried again.
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(
            rounds <= 5,
            "never filled the refusals within REFUSAL_DRAIN_TIME"
        );
        let started = Instant::now();
        // Clients that read their 503 and then neither close nor send: each holds its
        // refusal's drain for REFUSAL_DRAIN_TIME.
        let draining: Vec<TcpStream> = (0..MAX_DRAINING_REFUSALS)
            .map(|_| {
                clients.run(async {
                    let mut tcp = TcpStream::connect(addr).await.unwrap();
                    let head = read_response_head(&mut tcp).await;
                    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
                    tcp
                })
            })
            .collect();
        let answer = answer_now();
        let in_time = started.elapsed() < REFUSAL_DRAIN_TIME;
        drop(draining);
        if in_time {
            assert_eq!(answer, "", "closed without an answer");
            break;
        }
        wait_until("the drains end", || answer_now() == refusal(FULL_BODY));
    }
    // Their drains end with them: refusals are answered again.
    wait_until("a refusal is answered again", || {
        answer_now() == refusal(FULL_BODY)
    });
    server.stop();
}

/// The count a refusal warning gives of those held back before it.
fn held_back(reason: &str) -> usize {
    reason
        .strip_suffix(" more refused since the last warning)")
        .and_then(|rest| rest.rsplit_once(" ("))
        .map_or(0, |(_, count)| count.parse().unwrap())
}

#[test]
fn on_wss_a_refused_tls_client_gets_an_alert_and_a_plain_one_the_503() {
    use tokio_rustls::rustls::{AlertDescription, Error as TlsError};
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let server = start_with(|config| {
        config.tls = Some(pki.server_tls(&leaf));
        config.max_connections = Some(0);
    });
    let clients = Clients::new();
    let addr = server.local_addr();
    let error = clients
        .run(tls_connect(addr, pki.client(), "localhost"))
        .expect_err("a refused client gets no TLS session");
    let tls = error.get_ref().and_then(|e| e.downcast_ref::<TlsError>());
    assert_eq!(
        tls,
        Some(&TlsError::AlertReceived(AlertDescription::InternalError)),
        "{error}"
    );
    assert_refused(&clients, addr, FULL_BODY);
    server.stop();
}

/// The server's side of the connection from `client` to `server`: a duplicate of the accepted
/// socket's descriptor, taken from this very process with pidfd_getfd, to read its options.
fn accepted_socket(server: SocketAddr, client: SocketAddr) -> socket2::Socket {
    let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).expect("pidfd_open (Linux 5.3+)");
    for fd in descriptors_below(u64::MAX) {
        let Ok(duplicate) = pidfd_getfd(&pidfd, fd as i32, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let socket = socket2::Socket::from(duplicate);
        let address = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
        if address(socket.local_addr()) == Some(server)
            && address(socket.peer_addr()) == Some(client)
        {
            return socket;
        }
    }
    panic!("no socket from {client} to {server} in this process");
}

#[test]
fn accepted_sockets_probe_with_tcp_keepalive() {
    let mut server = start();
    let clients = Clients::new();
    let (ws, _) = join(&mut server, &clients);
    let client = ws.get_ref().local_addr().unwrap();
    let accepted = accepted_socket(server.local_addr(), client);
    assert!(
        accepted.keepalive().unwrap(),
        "SO_KEEPALIVE on the accepted socket"
    );
    assert_eq!(accepted.keepalive_time().unwrap(), TCP_KEEPALIVE_IDLE);
    assert_eq!(
        accepted.keepalive_interval().unwrap(),
        TCP_KEEPALIVE_INTERVAL
    );
    assert_eq!(accepted.keepalive_retries().unwrap(), TCP_KEEPALIVE_RETRIES);
    // What the README promises: a silent client is found within about two minutes.
    let found_within = TCP_KEEPALIVE_IDLE + TCP_KEEPALIVE_INTERVAL * TCP_KEEPALIVE_RETRIES;
    assert_eq!(found_within, Duration::from_secs(120));
    // The client's side, which sets nothing, has none: the check tells them apart.
    assert!(!socket2::SockRef::from(ws.get_ref()).keepalive().unwrap());
    server.stop();
}

// ---- the descriptor limit, each case in a process of its own ----

/// A number for docs/reliability.md (scripts/harness/reliability/admission_section.sh; run
/// with --nocapture).
fn report(key: &str, value: impl std::fmt::Display) {
    println!("RELIABILITY admission_{key}={value}");
}

/// Which case a child process of this binary runs (`in_own_process`).
const CASE_VARIABLE: &str = "GDWS_ADMISSION_CASE";
/// How long a child may take before it is killed and the test fails.
const CHILD_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `case` (the name of the calling test) in a new process of this test binary.
fn in_own_process(name: &str, case: fn()) {
    if std::env::var(CASE_VARIABLE).as_deref() == Ok(name) {
        case();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE_VARIABLE, name)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + CHILD_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} did not finish within {CHILD_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "{name} failed in its own process: {status}"
    );
}

fn set_soft_limit(current: u64) {
    let maximum = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(current),
            maximum,
        },
    )
    .expect("setrlimit(RLIMIT_NOFILE)");
}

/// The process's open descriptors numbered below `limit`.
fn descriptors_below(limit: u64) -> Vec<u64> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .filter(|fd| *fd < limit)
        .collect()
}

/// Client sockets at descriptor numbers from `first` on: made while the limit is above them,
/// they stay usable when it drops below.
fn high_sockets(first: u64, count: usize) -> Vec<std::net::TcpStream> {
    let top = first + count as u64 + 1;
    if getrlimit(Resource::Nofile).current.is_some_and(|c| c < top) {
        set_soft_limit(top);
    }
    (0..count)
        .map(|_| {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.set_nonblocking(true).unwrap();
            let high: OwnedFd = rustix::io::fcntl_dupfd_cloexec(&socket, first as i32).unwrap();
            std::net::TcpStream::from(high)
        })
        .collect()
}

/// Connects one of the `high_sockets` to `addr`.
async fn connect_high(socket: std::net::TcpStream, addr: SocketAddr) -> TcpStream {
    TcpSocket::from_std_stream(socket)
        .connect(addr)
        .await
        .expect("TCP connect")
}

/// The soft descriptor limit the automatic case runs under.
const LOW_LIMIT: u64 = 512;
/// Room for the server's own descriptors: the listener, the spare, the runtime's epoll and
/// wakers.
const SERVER_OWN_DESCRIPTORS: usize = 16;

#[test]
fn the_automatic_limit_leaves_the_game_descriptors_while_the_server_is_full() {
    in_own_process(
        "the_automatic_limit_leaves_the_game_descriptors_while_the_server_is_full",
        || {
            let max = automatic_max_connections(Some(LOW_LIMIT));
            let refused = 200;
            let clients = Clients::new();
            let mut sockets = high_sockets(4 * LOW_LIMIT, max + refused);
            let before = descriptors_below(LOW_LIMIT).len();
            assert!(before < 64, "the test process holds {before} descriptors");
            set_soft_limit(LOW_LIMIT);
            let mut server = start_with(|config| config.handshake_timeout = T * 4);
            assert_eq!(server.max_connections(), max);
            let addr = server.local_addr();

            // Full: connections that never send a byte, counted from their accept.
            let fill: Vec<_> = sockets.drain(..max).collect();
            let held = clients.run(async move {
                let mut held = Vec::new();
                for socket in fill {
                    held.push(connect_high(socket, addr).await);
                }
                held
            });
            wait_until("every connection is accepted", || {
                server.open_sockets() == max
            });
            // And more come, and are refused.
            let request = format!("{UPGRADE_HEAD}\r\n");
            for socket in sockets {
                let answer = clients.run(async {
                    let mut tcp = connect_high(socket, addr).await;
                    let _ = tcp.write_all(request.as_bytes()).await;
                    let mut answer = Vec::new();
                    let _ = tcp.read_to_end(&mut answer).await;
                    String::from_utf8(answer).unwrap()
                });
                assert_eq!(answer, refusal(FULL_BODY));
            }
            assert!(matches!(
                event(&mut server),
                ServerEvent::HandshakeFailed { reason, .. } if reason.contains("max_connections")
            ));

            // The game opens files meanwhile: the reserve, less what the process held before
            // and what the server holds itself (its refusals being answered too).
            let promised = descriptor_reserve(LOW_LIMIT as usize)
                - before
                - MAX_DRAINING_REFUSALS
                - SERVER_OWN_DESCRIPTORS;
            let files: Vec<File> = (0..promised)
                .map(|i| {
                    File::open("/dev/null").unwrap_or_else(|e| {
                        panic!("the game could open only {i} of {promised} files: {e}")
                    })
                })
                .collect();
            assert_eq!(server.open_sockets(), max);
            report("automatic_soft_limit", LOW_LIMIT);
            report("automatic_max_connections", max);
            report("automatic_refused", refused);
            report("automatic_game_files", promised);
            report("automatic_fds_before", before);
            drop(files);
            drop(held);
            server.stop();
        },
    );
}

#[test]
fn at_emfile_new_clients_are_closed_at_once_and_the_server_recovers() {
    in_own_process(
        "at_emfile_new_clients_are_closed_at_once_and_the_server_recovers",
        || {
            const CLIENTS: usize = 50;
            let clients = Clients::new();
            const HIGH: u64 = 4096;
            let mut sockets = high_sockets(HIGH, CLIENTS + 1);
            let limit = getrlimit(Resource::Nofile);
            // Far above what the process may open: only the descriptor limit stops it.
            let mut server = start_with(|config| config.max_connections = Some(1 << 20));
            let addr = server.local_addr();

            // Take every descriptor left below a limit just above those in use.
            let highest_low = descriptors_below(HIGH).into_iter().max().unwrap();
            set_soft_limit(highest_low + 1);
            let mut fillers = Vec::new();
            let exhausted = loop {
                match File::open("/dev/null") {
                    Ok(file) => fillers.push(file),
                    Err(e) => break e.raw_os_error() == Some(24), // EMFILE
                }
            };
            assert!(exhausted, "the process still had descriptors to give");

            let failures_before = server.accept_failures();
            let started = Instant::now();
            let request = format!("{UPGRADE_HEAD}\r\n");
            for socket in sockets.drain(..CLIENTS) {
                let answer = clients.run(async {
                    let mut tcp = connect_high(socket, addr).await;
                    let _ = tcp.write_all(request.as_bytes()).await;
                    let mut answer = Vec::new();
                    // Closed at once: the end of the stream (or a reset), no answer, within T.
                    let _ = tcp.read_to_end(&mut answer).await;
                    answer
                });
                assert_eq!(answer, b"", "a client closed for lack of descriptors");
            }
            let elapsed = started.elapsed();
            let failures = server.accept_failures() - failures_before;
            report("emfile_clients", CLIENTS);
            report("emfile_ms", elapsed.as_millis());
            report("emfile_accept_failures", failures);
            // Each failure either shed a client (at most two per client: the one it shed, and
            // one that found the queue empty after it) or slept ACCEPT_BACKOFF.
            let bound = 2 * CLIENTS + (elapsed.as_nanos() / ACCEPT_BACKOFF.as_nanos()) as usize + 1;
            report("emfile_accept_failure_bound", bound);
            assert!(
                failures <= bound,
                "{failures} accept failures in {elapsed:?} for {CLIENTS} clients (bound {bound})"
            );
            match event(&mut server) {
                ServerEvent::HandshakeFailed { reason, .. } => assert!(
                    reason.starts_with("the process is out of file descriptors"),
                    "{reason}"
                ),
                other => panic!("expected the warning, got {other:?}"),
            }

            // Descriptors free up: the next client is served.
            drop(fillers);
            setrlimit(Resource::Nofile, limit).unwrap();
            let tcp = clients.run(connect_high(sockets.pop().unwrap(), addr));
            let ws = clients.run(handshake(tcp, &[])).expect("served again").0;
            let mut peer = (ws, 0);
            loop {
                match event(&mut server) {
                    ServerEvent::Connected { id, .. } => {
                        peer.1 = id;
                        break;
                    }
                    ServerEvent::HandshakeFailed { reason, .. }
                        if reason.starts_with("the process is out of file descriptors") => {}
                    other => panic!("expected Connected, got {other:?}"),
                }
            }
            assert_echoes(&mut server, &clients, &mut peer, "recovered");
            server.stop();
        },
    );
}
