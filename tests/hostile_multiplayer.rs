//! Multiplayer peers that cannot keep up, and the lifecycle of a peer id: stuck peers under
//! join/leave churn (their peer-list updates are bounded; past the bound they are closed), a
//! relay to a full queue (the target is closed, nothing is dropped while it stays), an id not
//! given again before the game heard its peer leave, a panic in a connection task (no ghost
//! peer), and sends to a peer that is leaving (refused quietly, left out of broadcasts).
//!
//! The churn case measures the heap with the counting allocator; it runs again in a network
//! namespace of its own whose TCP buffers are 4 KiB (`unshare -n`, root), so what a stuck peer
//! does not read lands in the server process, not in the kernel.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::heap::{live_bytes, peak_bytes, reset_peak, CountingAllocator};
use common::mp::*;
use common::*;
use futures_util::StreamExt;
use gdws_engine::proto::upgrade::websocket_config;
use gdws_engine::{
    Limits, PeerId, SendError, ServerEvent, OVERFLOW_REASON, SYSTEM_RESERVE_PACKETS,
};
use tokio_tungstenite::tungstenite::Message;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Set in the run of a case inside its network namespace.
const IN_NETNS: &str = "GDWS_TEST_IN_NETNS";

/// Runs the test `name` again, alone, in a network namespace whose TCP buffers are 4 KiB each
/// way (scripts/harness/small_tcp_buffers.sh); true inside that run, false in the calling one
/// once the inner run passed. Without `unshare` (not root) the test fails: it cannot show what
/// it is for.
fn in_small_tcp_buffers(name: &str) -> bool {
    if std::env::var_os(IN_NETNS).is_some() {
        return true;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/harness/small_tcp_buffers.sh"
    );
    let status = Command::new("bash")
        .arg(script)
        .arg("env")
        .arg(format!("{IN_NETNS}=1"))
        .arg(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .status()
        .expect("bash runs");
    assert!(
        status.success(),
        "{name} in its network namespace: {status}"
    );
    false
}

/// Bounds a peer's queued output costs on the heap: a command's channel slot and its packet
/// (a system message is 13 bytes), generously.
const HEAP_PER_QUEUED_PACKET: usize = 256;
/// The churn's own heap, beside the stuck peers: one joining client at a time, its events.
const CHURN_SLACK: usize = 512 * 1024;

#[test]
fn stuck_peers_under_join_leave_churn_are_closed_once_each_and_the_heap_stays_bounded() {
    if !in_small_tcp_buffers(
        "stuck_peers_under_join_leave_churn_are_closed_once_each_and_the_heap_stays_bounded",
    ) {
        return;
    }
    const STUCK: usize = 20;
    /// Far more cycles than a stuck peer can absorb: the kernel's 8 KiB, tungstenite's write
    /// buffer and the queue's bound, in 15-byte frames, two per cycle.
    const MAX_CYCLES: usize = 20_000;
    let limits = Limits {
        out_bytes: 4096,
        out_packets: 16,
        ..Limits::default()
    };
    let clients = Clients::new();
    let mut server = start_mp_with(limits);
    let addr = server.local_addr();

    // A bystander that reads everything, in the background, until the fence.
    let bystander_ws = clients.connect(addr);
    let bystander = connected(&mut server).0;
    let reader = clients.spawn(read_until_fence(bystander_ws, bystander));
    let mut stuck = BTreeSet::new();
    // Never read; kept open until the end.
    let mut stuck_clients = Vec::new();
    for _ in 0..STUCK {
        stuck_clients.push(stalled_client(&clients, &server));
        stuck.insert(connected(&mut server).0);
    }
    let before = live_bytes();
    reset_peak();

    let mut seen = StuckPeers::default();
    let mut cycles = 0;
    while seen.gone.len() < STUCK {
        assert!(
            cycles < MAX_CYCLES,
            "after {cycles} join/leave cycles, {} of {STUCK} stuck peers are still open; \
             heap +{} B",
            STUCK - seen.gone.len(),
            live_bytes().saturating_sub(before)
        );
        cycles += 1;
        let ws = clients.connect(addr);
        let id = loop {
            match event(&mut server) {
                ServerEvent::Connected { id, .. } => break id,
                other => seen.note(other, &stuck),
            }
        };
        drop(ws);
        loop {
            match event(&mut server) {
                ServerEvent::Disconnected { id: got, .. } if got == id => break,
                other => seen.note(other, &stuck),
            }
        }
    }
    let peak = peak_bytes().saturating_sub(before);
    let max_write = websocket_config(&limits).max_write_buffer_size;
    let queue = limits.out_packets + STUCK + 2 + SYSTEM_RESERVE_PACKETS;
    let bound = STUCK * (max_write + queue * HEAP_PER_QUEUED_PACKET) + CHURN_SLACK;
    println!(
        "RELIABILITY mp_churn_stuck={STUCK} mp_churn_cycles={cycles} mp_churn_heap_peak={peak} \
         mp_churn_heap_bound={bound}"
    );
    assert!(
        peak <= bound,
        "the heap grew by {peak} B over {cycles} cycles (bound {bound} B)"
    );
    for id in &stuck {
        let warnings = &seen.warnings[id];
        assert_eq!(warnings.len(), 1, "peer {id}: {warnings:?}");
        assert!(
            warnings[0].starts_with(&format!(
                "peer {id} cannot keep up: a peer list update (SYS_ADD/SYS_DEL) of 13 bytes"
            )) && warnings[0].ends_with("; closing with 1008"),
            "{}",
            warnings[0]
        );
    }
    assert_eq!(seen.gone, stuck);

    // The bystander saw every stuck peer come and go and was never closed: its list is empty.
    assert_eq!(server.open_connections(), 1);
    assert_eq!(server.send_multiplayer(bystander.into(), FENCE), vec![]);
    let got = clients.run(async { reader.await.unwrap() });
    let mut peers = BTreeSet::new();
    for packet in got {
        let id = PeerId::from_le_bytes(packet[9..13].try_into().unwrap());
        match packet[0] {
            SYS_ADD => assert!(peers.insert(id), "peer {id} added twice"),
            SYS_DEL => assert!(peers.remove(&id), "peer {id} removed unknown"),
            _ => assert_eq!(packet, sys(SYS_ID, bystander).as_slice()),
        }
    }
    assert_eq!(peers, BTreeSet::from([SERVER]));
    server.stop();
    drop(stuck_clients);
}

/// What the stuck peers did during the churn: their warnings, and which ones left.
#[derive(Default)]
struct StuckPeers {
    warnings: BTreeMap<PeerId, Vec<String>>,
    gone: BTreeSet<PeerId>,
}

impl StuckPeers {
    #[track_caller]
    fn note(&mut self, event: ServerEvent, stuck: &BTreeSet<PeerId>) {
        match event {
            ServerEvent::Warning { id, message } if stuck.contains(&id) => {
                self.warnings.entry(id).or_default().push(message)
            }
            ServerEvent::Disconnected {
                id,
                was_clean: false,
            } if stuck.contains(&id) => assert!(self.gone.insert(id), "{id} left twice"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Every binary message to peer `id` up to the fence, which is left out.
async fn read_until_fence(mut ws: Ws, id: PeerId) -> Vec<Vec<u8>> {
    let fence = data(SERVER, id, FENCE);
    let mut got = Vec::new();
    loop {
        let packet = recv_packet(&mut ws).await;
        if packet == fence {
            return got;
        }
        got.push(packet);
    }
}

#[test]
fn a_relay_to_a_full_queue_closes_the_target_with_1008_and_loses_nothing_else() {
    let clients = Clients::new();
    let limits = Limits {
        out_bytes: plug_size() + 1024 * 1024,
        out_packets: 4,
        ..Limits::default()
    };
    let mut server = start_mp_with(limits);
    let mut sender = join(&clients, &mut server, &mut []);
    let ws = stalled_client(&clients, &server);
    let mut target = join_with(&clients, &mut server, std::slice::from_mut(&mut sender), ws);
    let (r, s) = (sender.id, target.id);

    let size = 16 * 1024;
    let (queued, _) = fill_queue_with(size, |seq, len| {
        match server.send_multiplayer(s.into(), &numbered(seq, len)).pop() {
            None => Ok(()),
            Some((_, error)) => Err(error),
        }
    });
    let relayed = data(r, s, b"does not fit");
    send(
        &clients,
        &mut sender,
        [relayed.clone(), data(r, SERVER, b"sync")],
    );
    let mut warnings = Vec::new();
    let mut synced = false;
    while warnings.is_empty() || !synced {
        match event(&mut server) {
            ServerEvent::Warning { id, message } if id == s => warnings.push(message),
            ServerEvent::Message { id } if id == r => {
                let (from, payload) = server.take_multiplayer_packet().unwrap();
                assert_eq!((from, &payload[..]), (r, &b"sync"[..]));
                synced = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        warnings,
        [format!(
            "peer {s} cannot keep up: a packet relayed from peer {r} of {} bytes did not fit in \
             its outbound queue ({} bytes in {} packets queued); closing with 1008",
            relayed.len(),
            plug_size() + 9 + (limits.out_packets - 1) * (size + 9),
            limits.out_packets
        )]
    );
    assert!(
        server.peer(s).is_some(),
        "the target stays until its connection ends"
    );

    // The target reads at last: what had been written out for it, in order, then the close.
    // What was still queued is dropped with it (the relay that did not fit was never queued).
    clients.run(async {
        let mut seq = 0;
        let frame = loop {
            match recv(&mut target.ws).await {
                Message::Binary(packet) => {
                    let len = if seq == 0 { plug_size() } else { size };
                    assert_eq!(packet, data(SERVER, s, &numbered(seq, len)), "packet {seq}");
                    seq += 1;
                }
                Message::Close(frame) => break frame.expect("a close status"),
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(seq <= queued);
        assert_eq!(
            (u16::from(frame.code), frame.reason.as_str()),
            (1008, OVERFLOW_REASON)
        );
        while let Some(Ok(_)) = target.ws.next().await {}
    });
    // Its FIN ends the server's drain.
    drop(target);
    assert!(!disconnected(&mut server, s));
    // The sender hears it left, and goes on.
    assert_eq!(clients.run(recv_packet(&mut sender.ws)), sys(SYS_DEL, s));
    send(&clients, &mut sender, [data(r, SERVER, b"after")]);
    server_gets(&mut server, r, b"after");
    assert_eq!(server.next_event(), None);
    server.stop();
}

#[test]
fn a_peer_id_is_not_given_again_before_the_game_heard_its_peer_leave() {
    const FIRST: PeerId = 1000;
    const SECOND: PeerId = 1001;
    let clients = Clients::new();
    let mut server = start();
    let addr = server.local_addr();
    server.propose_peer_ids(&[FIRST]);
    let first = clients.connect(addr);
    assert_eq!(connected(&mut server).0, FIRST);

    // It vanishes; the game does not poll yet.
    drop(first);
    wait_until("the first connection is unregistered", || {
        server.open_connections() == 0
    });
    // Without the reservation, a new peer could take FIRST between the old one's unregister and
    // its Disconnected event: the game would hear Connected(new FIRST) first, then lose that
    // peer at Disconnected(FIRST).
    server.propose_peer_ids(&[FIRST, SECOND]);
    let mut second = clients.connect(addr);
    wait_until("the second connection is registered", || {
        server.open_connections() == 1
    });
    assert!(!disconnected(&mut server, FIRST));
    assert_eq!(connected(&mut server).0, SECOND, "FIRST was still taken");
    server
        .peer(SECOND)
        .expect("the new peer is reachable")
        .put_packet(text("hi"))
        .unwrap();
    assert_eq!(clients.run(recv(&mut second)), Message::text("hi"));

    // Once the game took it, the id is free again.
    server.propose_peer_ids(&[FIRST]);
    let _third = clients.connect(addr);
    assert_eq!(connected(&mut server).0, FIRST);
    server.stop();
}

#[test]
fn a_panic_in_a_connection_task_unregisters_its_peer_and_reports_it() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 2);
    let (a, b) = (all[0].id, all[1].id);
    let sockets = server.open_sockets();

    server.peer(b).unwrap().inject_panic();
    assert!(!disconnected(&mut server, b));
    assert!(server.peer(b).is_none());
    assert_eq!(server.open_connections(), 1);
    wait_until("its socket is closed", || {
        server.open_sockets() == sockets - 1
    });
    clients.run(async {
        assert!(
            !matches!(all[1].ws.next().await, Some(Ok(_))),
            "the client's stream ends"
        );
    });
    // The other peer hears it left, and nothing else.
    for got in fence(&clients, &server, &mut all[..1]) {
        assert_eq!(got, [sys(SYS_DEL, b)]);
    }
    send(&clients, &mut all[0], [data(a, SERVER, b"still here")]);
    server_gets(&mut server, a, b"still here");
    server.stop();
}

#[test]
fn a_leaving_peer_refuses_sends_and_broadcasts_leave_it_out() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 3);
    let [a, b, c] = [all[0].id, all[1].id, all[2].id];

    // b's client vanishes: its connection ends before the game polls.
    let gone = all.remove(1);
    drop(gone.ws);
    wait_until("b's connection ended and is unregistered", || {
        server.open_connections() == 2
    });
    assert!(server.peer(b).unwrap().is_leaving());
    // c is being closed by the game.
    server.peer_mut(c).unwrap().close(1000, "").unwrap();
    assert!(server.peer(c).unwrap().is_leaving());
    assert!(!server.peer(a).unwrap().is_leaving());

    assert_eq!(server.send_multiplayer(0, b"to all"), vec![]);
    assert_eq!(server.send_multiplayer((-c).into(), b"all but c"), vec![]);
    for leaving in [b, c] {
        assert_eq!(
            server.send_multiplayer(leaving.into(), b"to one"),
            vec![(leaving, SendError::NotConnected)]
        );
        assert_eq!(
            server.peer(leaving).unwrap().put_packet(text("plain")),
            Err(SendError::NotConnected)
        );
    }
    let got = fence(&clients, &server, &mut all[..1]);
    assert_eq!(
        got[0],
        [
            sys(SYS_DEL, b),
            data(SERVER, 0, b"to all"),
            data(SERVER, -c, b"all but c")
        ]
    );
    assert!(!disconnected(&mut server, b));
    server.stop();
}
