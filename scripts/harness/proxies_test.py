#!/usr/bin/env python3
"""gdws behind real proxies: nginx (TLS, WebSocket upgrade, X-Forwarded-For) and HAProxy (TCP,
PROXY v2, round robin over two servers, health checks), in front of the headless Godot demo
(godot_project/demo, with the options that set issue 14's properties), with a stock Godot 3
WebSocketClient (godot_project/tests/lib/ws_client.gd), Python `websockets` clients and the
demo's chat page in headless Chromium (tests/browser/origins.test.mjs). A hostile client that
sends X-Forwarded-For or a PROXY header straight to the server is tests/proxies.rs's (engine). Every process runs on loopback, in the foreground, under a bounded lifetime, and is ended
when its test is over (or when this script exits, however it exits). Each proxy's configuration is
a template in scripts/harness/proxies/, filled in with the test's ports and directory; the same
files are in docs/deployment.md, and the first test checks that its copies have not drifted.

Run by scripts/harness/proxies_test.sh (after `cargo build`). Environment: GODOT_BIN,
GDWS_PROXIES_PORT (first of the 8 ports it uses; default GDWS_PORT_BASE + 960). Prints one line
per test, then "N passed, N failed".
"""

import asyncio
import atexit
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "godot_project"
TEMPLATES = ROOT / "scripts" / "harness" / "proxies"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
GODOT = os.environ.get("GODOT_BIN", "godot3-server")
# A tokio-tungstenite chat client (bench/src/bin/ws_chat.rs; proxies_test.sh builds it).
WS_CHAT = ROOT / "target" / "debug" / "ws_chat"
FIRST_PORT = int(os.environ.get("GDWS_PROXIES_PORT", int(os.environ.get("GDWS_PORT_BASE", 21000)) + 960))
# The clients connect from this address; the proxies talk to the game servers from 127.0.0.1.
CLIENT_HOST = "127.0.0.2"
# The longest any one awaited event may take (a process starting, a message arriving).
WAIT = 20.0
# How many clients the HAProxy test balances over its two servers.
BALANCED_CLIENTS = 50
# nginx.conf's proxy_read_timeout, in seconds.
NGINX_READ_TIMEOUT = 2
# The demo behind haproxy.cfg: it trusts HAProxy's PROXY headers and answers its checks.
BEHIND_HAPROXY = ("--trusted-proxies=127.0.0.1", "--health-check-path=/healthz")

SCRATCH = Path(tempfile.mkdtemp(prefix="gdws_proxies."))
STARTED = []  # every Process this run started, ended at exit
# Notified on a new line from any Process: a test can wait for a line from whichever has it.
OUTPUT_CHANGED = threading.Condition()


def port(index):
    return FIRST_PORT + index


def wait_for_any(processes, pattern, timeout=WAIT):
    """The indexes of the `processes` whose output matches the regex `pattern`, once one does
    (a line is read by a thread, so it may come after the event it tells of); fails if the time
    runs out first."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    with OUTPUT_CHANGED:
        while True:
            found = [i for i, process in enumerate(processes) if any(map(regex.search, process.lines))]
            left = deadline - time.monotonic()
            if found or left <= 0:
                assert found, f"a line matching {pattern!r} expected from one of " \
                              f"{[process.name for process in processes]}"
                return found
            OUTPUT_CHANGED.wait(min(left, 0.5))


class Process:
    """A program in the foreground of this test, in a process group of its own (with the
    `timeout` that bounds its lifetime), its output (stdout and stderr) collected as lines by a
    thread; `end()` stops the group (SIGTERM, then SIGKILL after 2 s)."""

    def __init__(self, name, args, cwd=None, env=None):
        self.name = name
        self.lines = []
        self._changed = OUTPUT_CHANGED
        self.popen = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True)
        STARTED.append(self)
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self):
        for line in self.popen.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern, count=1, timeout=WAIT):
        """The first `count` matches of the regex `pattern` in the output, once they are there;
        fails if the program exits or the time runs out first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in map(regex.search, self.lines) if m]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or self.popen.poll() is not None:
                    raise AssertionError(f"{self.name}: {count} line(s) matching {pattern!r} expected, "
                                         f"{len(found)} seen; output:\n" + self.output())
                self._changed.wait(min(left, 0.5))

    def matches(self, pattern):
        with self._changed:
            return [m for m in map(re.compile(pattern).search, self.lines) if m]

    def output(self):
        with self._changed:
            return "\n".join(self.lines)

    def kill(self):
        """SIGKILL, as a crash would end it."""
        self._signal(signal.SIGKILL)
        self.popen.wait()

    def end(self):
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(2)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.popen.wait()

    def _signal(self, number):
        # The group is this process's own (start_new_session): its id is the process's.
        try:
            os.killpg(self.popen.pid, number)
        except ProcessLookupError:
            pass


def end_all():
    for process in STARTED:
        process.end()
    shutil.rmtree(SCRATCH, ignore_errors=True)


atexit.register(end_all)


def scratch_dir(name):
    path = SCRATCH / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def fill(template, values):
    """The template file's text with each @NAME@ replaced by values[NAME]; every one must be."""
    text = (TEMPLATES / template).read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    left = re.findall(r"@[A-Z0-9_]+@", text)
    assert not left, f"{template}: {left} not filled in"
    return text


def wait_listening(process, tcp_port):
    """Waits until `process` accepts TCP connections on 127.0.0.1:tcp_port (nginx and HAProxy
    print nothing when they are ready)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", tcp_port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline or process.popen.poll() is not None:
                raise AssertionError(f"{process.name} does not listen on port {tcp_port}:\n"
                                     + process.output())
            time.sleep(0.05)


# --- the programs ---------------------------------------------------------------------------

def start_demo(name, game_port, *options):
    """The demo chat server, headless, on 127.0.0.1:game_port (it listens on every address)."""
    xdg = scratch_dir(f"{name}_xdg")
    # Godot 3.2.3 prints a spurious make_dir_recursive error when it creates user:// itself.
    (xdg / "godot" / "app_userdata" / "gdws demo").mkdir(parents=True, exist_ok=True)
    demo = Process(name, ["timeout", "120", GODOT, "--path", str(PROJECT), f"--port={game_port}", *options],
                   env={"XDG_DATA_HOME": str(xdg), "LANG": "en_US.UTF-8"})
    demo.wait_for(r"Chat server listening")
    return demo


def finish(demo, *others):
    """Ends the test's processes, the demo last, and checks that the demo printed no error."""
    for process in others:
        process.end()
    demo.end()
    problems = demo.matches(r"^(ERROR:|SCRIPT ERROR:).*|panicked at.*")
    assert not problems, f"{demo.name} printed errors:\n" + "\n".join(m.group(0) for m in problems)


def make_certificates(directory):
    """A test CA and a server certificate for localhost and 127.0.0.1 signed by it, with the
    openssl CLI: server.crt, server.key and ca.crt in `directory`. Returns ca.crt's path."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=gdws proxies test CA", "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (directory / "server.ext").write_text("basicConstraints=critical,CA:FALSE\n"
                                          "extendedKeyUsage=serverAuth\n"
                                          "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    return directory / "ca.crt"


def start_nginx(listen_port, game_port):
    """nginx (scripts/harness/proxies/nginx.conf) on 127.0.0.1:listen_port, TLS with a test
    certificate, in front of the game server on 127.0.0.1:game_port. Returns (process, CA file)."""
    directory = scratch_dir(f"nginx_{listen_port}")
    (directory / "tmp").mkdir(exist_ok=True)
    ca = make_certificates(directory)
    (directory / "nginx.conf").write_text(fill("nginx.conf", {
        "LISTEN": f"127.0.0.1:{listen_port}", "GAME": f"127.0.0.1:{game_port}",
        "WEB": PROJECT / "demo" / "web"}))
    nginx = Process("nginx", ["timeout", "120", "nginx", "-p", f"{directory}/", "-c", "nginx.conf",
                              "-e", "error.log", "-g", "daemon off;"])
    wait_listening(nginx, listen_port)
    return nginx, ca


def start_haproxy(listen_port, game_ports):
    directory = scratch_dir(f"haproxy_{listen_port}")
    values = {"LISTEN": f"127.0.0.1:{listen_port}"}
    for i, game_port in enumerate(game_ports, 1):
        values[f"GAME{i}"] = f"127.0.0.1:{game_port}"
    (directory / "haproxy.cfg").write_text(fill("haproxy.cfg", values))
    haproxy = Process("haproxy", ["timeout", "120", "haproxy", "-f", "haproxy.cfg", "-db"], cwd=directory)
    haproxy.directory = directory
    wait_listening(haproxy, listen_port)
    return haproxy


def haproxy_states(haproxy):
    """Each server's state ("UP", "DOWN", ...) as HAProxy's stats socket tells it now."""
    with socket.socket(socket.AF_UNIX) as stats:
        stats.settimeout(WAIT)
        stats.connect(str(haproxy.directory / "haproxy.sock"))
        stats.sendall(b"show stat\n")
        csv = b""
        while chunk := stats.recv(65536):
            csv += chunk
    rows = [line.split(",") for line in csv.decode().splitlines() if line and not line.startswith("#")]
    return {row[1]: row[17] for row in rows if row[0] == "gdws" and row[1] != "BACKEND"}


def wait_states(haproxy, states):
    """Waits until the stats socket shows each server in `states` in its state there (HAProxy
    may print a change a moment before its stats show it)."""
    deadline = time.monotonic() + WAIT
    while (now := haproxy_states(haproxy)) != states:
        assert time.monotonic() < deadline, f"haproxy: {states} expected, the stats say {now}"
        time.sleep(0.1)


def start_godot_client(url, ca, say):
    """A stock Godot 3 WebSocketClient (tests/lib/ws_client.gd) in its own headless Godot, which
    trusts `ca` and says `say` once connected. Returns (process, its event log's path)."""
    log = SCRATCH / f"godot_client_{time.monotonic_ns()}.log"
    log.write_text("")
    client = Process("godot client", [
        "timeout", "60", GODOT, "--path", str(PROJECT), "-s", "res://tests/lib/ws_client.gd",
        f"--url={url}", f"--log={log}", "--timeout=30", f"--trusted-cert={ca}", f"--say={say}"],
        env={"XDG_DATA_HOME": str(scratch_dir("client_xdg"))})
    return client, log


def wait_log(log, needle, client):
    """Waits until the client's event log has a line containing `needle` (the log is a file the
    client appends to; it says nothing else when it writes)."""
    deadline = time.monotonic() + WAIT
    while needle not in log.read_text():
        if time.monotonic() > deadline or client.popen.poll() is not None:
            raise AssertionError(f"godot client: {needle!r} not in its log:\n{log.read_text()}\n{client.output()}")
        time.sleep(0.05)


class ChatClient:
    """A Python `websockets` client of the demo chat, connected from CLIENT_HOST."""

    def __init__(self, ws, name):
        self.ws = ws
        self.name = name
        self.id = None

    @classmethod
    async def open(cls, url, name, ca=None, **options):
        context = ssl.create_default_context(cafile=str(ca)) if ca else None
        # max_queue=None: a client keeps reading what it has not asked for yet (the joins and
        # leaves of the others), so the close handshake's answer is never stuck behind them.
        ws = await asyncio.wait_for(
            connect(url, ssl=context, local_addr=(CLIENT_HOST, 0), open_timeout=WAIT, max_queue=None,
                    **options), WAIT)
        client = cls(ws, name)
        joined = await client.receive()
        match = re.fullmatch(r"\* (\d+) joined", joined)
        assert match, f"{name}: its own join first, got {joined!r}"
        client.id = int(match.group(1))
        return client

    @property
    def local_port(self):
        return self.ws.local_address[1]

    async def say(self, text):
        """Sends `text` and waits for the server's broadcast of it back."""
        await self.ws.send(text)
        assert await self.receive() == f"[{self.id}] {text}"

    async def receive(self):
        return await asyncio.wait_for(self.ws.recv(), WAIT)

    async def receive_until(self, predicate):
        """The messages received up to and including the first one `predicate` holds for."""
        messages = []
        while not messages or not predicate(messages[-1]):
            messages.append(await self.receive())
        return messages

    async def wait_closed(self):
        """Waits until the connection is closed from the other side (anything that arrives before
        is dropped)."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), WAIT)
        except ConnectionClosed:
            return

    async def close(self):
        await self.ws.close()


# --- the tests ------------------------------------------------------------------------------

def test_doc_has_the_templates():
    """docs/deployment.md shows each template verbatim, in the fenced block after its name."""
    doc = DEPLOYMENT_DOC.read_text()
    for template in ("nginx.conf", "haproxy.cfg"):
        text = (TEMPLATES / template).read_text()
        blocks = re.findall(r"<!-- scripts/harness/proxies/" + re.escape(template) + r" -->\n```[a-z]*\n(.*?)```",
                            doc, re.S)
        assert blocks, f"docs/deployment.md has no copy of scripts/harness/proxies/{template}"
        for block in blocks:
            assert block == text, f"docs/deployment.md's copy of {template} differs from the template"


async def test_nginx_tls_chat():
    """A Godot WebSocketClient, a tokio-tungstenite client and a Python client chat through nginx,
    which ends TLS; behind it
    (trusted_proxies) the server sees each client's address and its request's path and headers."""
    demo = start_demo("demo", port(0), "--trusted-proxies=127.0.0.1")
    nginx, ca = start_nginx(port(1), port(0))
    url = f"wss://localhost:{port(1)}/play?room=3"
    python = await ChatClient.open(url, "python", ca, additional_headers={"X-Game-Version": "1.4"})
    godot, log = start_godot_client(url, ca, "hello from Godot")
    joined = await python.receive()
    godot_id = int(re.fullmatch(r"\* (\d+) joined", joined).group(1))
    assert await python.receive() == f"[{godot_id}] hello from Godot"
    await python.ws.send("hello from Python ✓")
    wait_log(log, f'["data","text","[{python.id}] hello from Python ✓"]', godot)
    # The address nginx heard from, out of X-Forwarded-For (which has no port: 0). The Godot
    # client cannot choose its source address, so it comes from 127.0.0.1 like nginx itself.
    demo.wait_for(rf"Client {python.id} connected from 127\.0\.0\.2:0,")
    demo.wait_for(rf"Client {godot_id} connected from 127\.0\.0\.1:0,")
    request = demo.wait_for(rf"Client {python.id} asked for (\S+) with headers (.*)$")[0]
    assert request.group(1) == "/play?room=3", request.group(0)
    headers = json.loads(request.group(2))
    expected = {"x-game-version": "1.4", "x-forwarded-for": CLIENT_HOST, "x-forwarded-proto": "https",
                "host": "localhost", "upgrade": "websocket"}
    assert expected.items() <= headers.items(), f"headers: {headers}"
    # A tokio-tungstenite client, from 127.0.0.2 too, joins, says something and hears it back.
    rust = subprocess.run([str(WS_CHAT), f"--port={port(1)}", "--path=/play?room=3", f"--ca={ca}",
                           f"--bind={CLIENT_HOST}", "--say=hello from tokio-tungstenite"],
                          capture_output=True, text=True, timeout=WAIT)
    assert rust.returncode == 0 and "ECHOED" in rust.stdout, rust.stdout + rust.stderr
    rust_id = int(re.search(r"^JOINED (\d+)$", rust.stdout, re.M).group(1))
    demo.wait_for(rf"Client {rust_id} connected from 127\.0\.0\.2:0,")
    demo.wait_for(rf"Client {rust_id} left, clean: True")
    await python.close()
    godot.end()
    demo.wait_for(r"Client \d+ left", count=3)
    finish(demo, nginx)


async def test_nginx_verify_clients():
    """verify_clients behind nginx: a client with the demo's token is let in, one without it
    sees the server's 403 through nginx, before any WebSocket exists."""
    demo = start_demo("demo", port(0), "--token=s3cret")
    nginx, ca = start_nginx(port(1), port(0))
    base = f"wss://localhost:{port(1)}/play?room=3"
    admitted = await ChatClient.open(base + "&token=s3cret", "admitted", ca)
    try:
        await ChatClient.open(base + "&token=guess", "refused", ca)
        raise AssertionError("a client with the wrong token got in")
    except InvalidStatus as refusal:
        assert refusal.response.status_code == 403, refusal
    demo.wait_for(r"Client \d+ refused: no valid token in /play\?room=3&token=guess")
    godot, log = start_godot_client(base + "&token=nope", ca, "unheard")
    wait_log(log, '["connection_error"]', godot)
    assert len(demo.matches(r"Client \d+ connected from")) == 1, demo.output()
    await admitted.say("still the only one")
    await admitted.close()
    demo.wait_for(rf"Client {admitted.id} left")
    finish(demo, nginx)


async def quiet_client_through_nginx(*demo_options):
    """A demo behind nginx, and a client through it that sends nothing (no pings of its own)."""
    demo = start_demo("demo", port(0), *demo_options)
    nginx, ca = start_nginx(port(1), port(0))
    client = await ChatClient.open(f"wss://localhost:{port(1)}/play", "quiet", ca, ping_interval=None)
    return demo, nginx, client


async def test_nginx_closes_quiet_connection():
    """nginx's proxy_read_timeout (2 s) closes a connection on which the game server sends
    nothing (no heartbeat)."""
    demo, nginx, client = await quiet_client_through_nginx()
    await client.wait_closed()
    demo.wait_for(rf"Client {client.id} left")
    finish(demo, nginx)


async def test_nginx_heartbeat_keeps_quiet_connection():
    """With heartbeat_interval 0.5 s the server's pings keep a quiet connection open through
    nginx well past its proxy_read_timeout (2 s)."""
    demo, nginx, client = await quiet_client_through_nginx("--heartbeat-interval=0.5")
    try:
        await asyncio.wait_for(client.wait_closed(), 3 * NGINX_READ_TIMEOUT)
        raise AssertionError("nginx closed the connection in spite of the heartbeat")
    except asyncio.TimeoutError:
        pass
    await client.say("awake")
    await client.close()
    demo.wait_for(rf"Client {client.id} left")
    finish(demo, nginx)


async def test_haproxy_two_instances():
    """50 clients through HAProxy (send-proxy-v2) over two demo servers: each server gets some
    and sees their real addresses; killing one loses only its own clients, and those of the
    other keep chatting."""
    demos = [start_demo(f"demo{i}", port(i + 1), *BEHIND_HAPROXY) for i in (1, 2)]
    haproxy = start_haproxy(port(4), [port(2), port(3)])
    url = f"ws://127.0.0.1:{port(4)}/play"
    clients = [await ChatClient.open(url, f"c{i}") for i in range(BALANCED_CLIENTS)]
    # Which server each client is on: the one that printed its id (ids are random 32-bit), and
    # the address it printed is the client's own, port and all (from the PROXY header).
    groups = [[], []]
    for client in clients:
        on = wait_for_any(demos, rf"Client {client.id} connected from {CLIENT_HOST}:{client.local_port},")
        assert len(on) == 1, f"{client.name} (id {client.id}, port {client.local_port}) is on one server, " \
                             f"with its own address: found on {on}"
        groups[on[0]].append(client)
    assert all(groups), f"both servers get clients: {[len(g) for g in groups]}"

    async def chat(group, word):
        """Every client of `group` says `word`; each hears exactly what its group said."""
        for client in group:
            await client.ws.send(f"{word} {client.name}")
        expected = {f"[{c.id}] {word} {c.name}" for c in group}
        for client in group:
            heard = set()
            while len(heard) < len(expected):
                message = await client.receive()
                if not message.startswith("* "):  # joins of later clients
                    heard.add(message)
            assert heard == expected, f"{client.name} heard {heard - expected} from elsewhere"

    for group in groups:
        await chat(group, "hello")
    demos[0].kill()
    for client in groups[0]:
        await client.wait_closed()
    await chat(groups[1], "still here")
    for client in groups[1]:
        await client.close()
    demos[1].wait_for(r"Client \d+ left", count=len(groups[1]))
    finish(demos[1], haproxy)


async def test_haproxy_health_check():
    """HAProxy's `option httpchk` on health_check_path: a killed server is marked down, and up
    again once it is back; the checks make no peers and the servers print nothing for them."""
    demos = [start_demo(f"demo{i}", port(i + 1), *BEHIND_HAPROXY) for i in (1, 2)]
    haproxy = start_haproxy(port(4), [port(2), port(3)])
    # HAProxy prints each server's change of state; the stats socket tells the state now.
    wait_states(haproxy, {"game1": "UP", "game2": "UP"})
    demos[0].kill()
    haproxy.wait_for(r"Server gdws/game1 is DOWN")
    wait_states(haproxy, {"game1": "DOWN", "game2": "UP"})
    demos[0] = start_demo("demo1 again", port(2), *BEHIND_HAPROXY)
    haproxy.wait_for(r"Server gdws/game1 is UP")
    wait_states(haproxy, {"game1": "UP", "game2": "UP"})
    # Back in the rotation: two new clients, one on each server.
    clients = [await ChatClient.open(f"ws://127.0.0.1:{port(4)}/play", f"c{i}") for i in range(2)]
    for demo in demos:
        demo.wait_for(r"Client \d+ connected from")
        assert len(demo.matches(r"Client \d+ connected from")) == 1, demo.output()
    for client in clients:
        await client.close()
    haproxy.end()
    for demo in demos:
        demo.wait_for(r"Client \d+ left")
        demo.end()
        # Every line is the banner, the listening line or one of the two clients': nothing for
        # the dozens of checks.
        others = [line for line in demo.lines if line.strip() and not re.match(
            r"Godot Engine|Chat server listening|Client \d+ (connected|asked|is closing|left)|\* ", line)]
        assert not others, f"{demo.name} printed for the checks:\n" + "\n".join(others)


async def test_browser_origins():
    """allowed_origins in headless Chromium (tests/browser/origins.test.mjs): the chat page that
    nginx serves connects through it, the same page from another origin is refused."""
    own_origin = f"https://localhost:{port(1)}"
    demo = start_demo("demo", port(0), f"--allowed-origins={own_origin}")
    nginx, _ = start_nginx(port(1), port(0))
    other_site = Process("other site", ["timeout", "120", sys.executable, "-m", "http.server", "--bind",
                                        "127.0.0.1", "--directory", str(PROJECT / "demo" / "web"), str(port(5))])
    wait_listening(other_site, port(5))
    page = f"index.html?url=wss://localhost:{port(1)}/play"
    browser = Process("chromium test", ["timeout", "90", "node", "--test", "--test-reporter=spec", "origins.test.mjs"],
                      cwd=ROOT / "tests" / "browser",
                      env={"GDWS_OWN_PAGE": f"{own_origin}/{page}", "GDWS_OTHER_PAGE": f"http://127.0.0.1:{port(5)}/{page}"})
    code = await asyncio.to_thread(browser.popen.wait)
    assert code == 0, "the browser test failed:\n" + browser.output()
    # One client got in (and left), and the refusal named the other page's origin.
    demo.wait_for(r"Client \d+ left")
    assert len(demo.matches(r"Client \d+ connected from")) == 1, demo.output()
    demo.wait_for(rf"http://127\.0\.0\.1:{port(5)}")
    finish(demo, nginx)


TESTS = [test_doc_has_the_templates, test_nginx_tls_chat, test_nginx_verify_clients,
         test_nginx_closes_quiet_connection, test_nginx_heartbeat_keeps_quiet_connection,
         test_haproxy_two_instances, test_haproxy_health_check, test_browser_origins]


def main():
    wanted = sys.argv[1:]
    passed = failed = 0
    for test in TESTS:
        if wanted and test.__name__ not in wanted:
            continue
        started = time.monotonic()
        try:
            if asyncio.iscoroutinefunction(test):
                asyncio.run(asyncio.wait_for(test(), 90))
            else:
                test()
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the next test runs
            failed += 1
            where = traceback.extract_tb(error.__traceback__)[-1]
            print(f"proxies: {test.__name__}: FAILED at line {where.lineno} "
                  f"({type(error).__name__}: {error})", flush=True)
        else:
            passed += 1
            print(f"proxies: {test.__name__}: ok ({time.monotonic() - started:.1f} s)", flush=True)
        finally:
            for process in STARTED:
                process.end()
            STARTED.clear()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
