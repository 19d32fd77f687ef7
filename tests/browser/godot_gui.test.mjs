// The demo's Godot GUIs in Debian's desktop Godot (`godot3`) under Xvfb, end to end.
//
// The lobby's GUI client (godot_project/demo/lobby_gui.tscn) against the lobby server
// (`scripts/demo.sh --lobby`, headless, gdws in multiplayer mode) and a headless stock client
// Bob (demo/lobby_client.gd). The GUI, driven
// through its widgets by --do actions, joins as Alice, presses Say (the server's say() RPC)
// and Whisper (Bob's whisper() RPC, through the server), waits for Bob's whisper back, saves a
// screenshot (target/artifacts/lobby_gui.png) and quits. Checked here: what the GUI showed,
// that the server got Alice's RPC, and that Bob got both.
//
// The project's main scene (demo/start.tscn) on the desktop: its start screen runs the chat
// server (--start=chat presses the button) and its panel lists a WebSocket client of this test
// and its messages; screenshot in target/artifacts/start_screen.png. (Headless, the same main
// scene is the plain chat server: chat.test.mjs and the Godot tests run it that way.)
//
// Run by scripts/harness/browser_test.sh (node --experimental-websocket, for the WebSocket
// client). Environment: GODOT_BIN (headless), GODOT_DESKTOP (default godot3), GDWS_BROWSER_PORT
// (default 21920: these tests use the two ports after it).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PROJECT = join(ROOT, "godot_project");
const LOBBY_PORT = Number(process.env.GDWS_BROWSER_PORT || 21920) + 1;
const CHAT_PORT = LOBBY_PORT + 1;
const DESKTOP_GODOT = ["-a", process.env.GODOT_DESKTOP || "godot3", "--audio-driver", "Dummy", "--path", PROJECT];
const ARTIFACTS = join(ROOT, "target", "artifacts");
const WAIT_MS = 45000;
// Each Godot client gives up (exit code 2) after this long.
const CLIENT_TIMEOUT_S = 30;

const scratch = mkdtempSync(join(tmpdir(), "gdws_lobby_gui_test."));
// Godot 3.2.3 prints a spurious make_dir_recursive error when it creates user:// itself.
mkdirSync(join(scratch, "godot", "app_userdata", "gdws demo"), { recursive: true });
const running = [];

// Starts `program`; returns {output (so far), exited: a promise of the exit code, rejected
// after WAIT_MS}.
function run(what, program, args) {
  const child = spawn(program, args, {
    env: { ...process.env, XDG_DATA_HOME: scratch, LANG: "en_US.UTF-8" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  const proc = { what, output: "" };
  child.stdout.on("data", (chunk) => { proc.output += chunk; });
  child.stderr.on("data", (chunk) => { proc.output += chunk; });
  proc.exited = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not exit within ${WAIT_MS} ms:\n${proc.output}`)), WAIT_MS);
    child.on("exit", (code) => { clearTimeout(timer); resolve(code); });
  });
  proc.waitFor = (text) => new Promise((resolve, reject) => {
    const check = () => {
      if (proc.output.includes(text)) return resolve();
      setTimeout(check, 50);
    };
    check();
    proc.exited.then((code) => reject(new Error(`${what} exited (code ${code}) before printing ${text}:\n${proc.output}`)), reject);
  });
  return proc;
}

// The events a client logged (--log=, demo/scripted_run.gd), one JSON array a line.
function events(path) {
  return readFileSync(path, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}
const named = (log, name) => log.filter((event) => event[0] === name);
const lines = (log) => named(log, "line").map((event) => event[1]);

// Waits (bounded by WAIT_MS) until `condition()` holds.
async function until(what, condition) {
  const end = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// A new screenshot path in target/artifacts (an old file removed).
function screenshotPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  rmSync(path, { force: true });
  return path;
}

// The PNG at `path` is a screenshot of the whole window (1024x600, the default size).
function checkScreenshot(path) {
  const png = readFileSync(path);
  assert.equal(png.subarray(1, 4).toString(), "PNG");
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1024, 600]);
}

function checkNoErrors(procs) {
  for (const proc of procs) {
    const problems = proc.output.split("\n").filter((line) => /^ERROR:|SCRIPT ERROR:|panicked at/.test(line));
    assert.deepEqual(problems, [], `${proc.what} printed no error`);
  }
}

after(() => {
  for (const child of running) if (child.exitCode === null) child.kill();
  rmSync(scratch, { recursive: true, force: true });
});

test("lobby GUI client: joins, its buttons call RPCs that reach the server and the other client", async () => {
  const lobby = run("the lobby", "bash", [join(ROOT, "scripts", "demo.sh"), "--lobby", `--port=${LOBBY_PORT}`, "--quit-after=2"]);
  await lobby.waitFor(`Lobby listening on port ${LOBBY_PORT} (gdws)`);
  assert.match(lobby.output, /^demo: lobby GUI client: godot3 --path \S+ res:\/\/demo\/lobby_gui\.tscn --port=\d+$/m);

  const bobLog = join(scratch, "bob.log");
  const bob = run("Bob", process.env.GODOT_BIN, ["--path", PROJECT, "-s", "demo/lobby_client.gd",
    `--port=${LOBBY_PORT}`, "--name=Bob", `--log=${bobLog}`, `--timeout=${CLIENT_TIMEOUT_S}`,
    "--do=players:2", "--do=wait:[Alice] hello from the GUI", "--do=wait:(whisper) Alice: psst Bob",
    "--do=whisper:Alice:hi Alice", "--do=wait:* Alice left", "--do=quit"]);

  const screenshot = screenshotPath("lobby_gui.png");
  const guiLog = join(scratch, "gui.log");
  const gui = run("the GUI", "xvfb-run", [...DESKTOP_GODOT, "res://demo/lobby_gui.tscn", `--port=${LOBBY_PORT}`, "--name=Alice", "--join",
    `--log=${guiLog}`, `--timeout=${CLIENT_TIMEOUT_S}`, "--do=players:2",
    "--do=say:hello from the GUI", "--do=whisper:Bob:psst Bob", "--do=wait:(whisper) Bob: hi Alice",
    `--do=screenshot:${screenshot}`, "--do=quit"]);

  assert.equal(await gui.exited, 0, `the GUI finished its actions:\n${gui.output}`);
  assert.equal(await bob.exited, 0, `Bob finished:\n${bob.output}`);
  assert.equal(await lobby.exited, 0, `the lobby quit once both left:\n${lobby.output}`);

  // What the GUI showed when it took the screenshot: its widgets, as a user saw them.
  const aliceEvents = events(guiLog);
  const [shown] = named(aliceEvents, "shown");
  assert.ok(shown, `the GUI logged what it showed: ${JSON.stringify(aliceEvents)}`);
  const aliceId = named(aliceEvents, "joined")[0]?.[1];
  assert.ok(aliceId > 1, "the GUI joined with a peer id");
  assert.equal(shown[1].status, `In the lobby at ws://127.0.0.1:${LOBBY_PORT}/ as Alice (peer ${aliceId})`);
  assert.deepEqual(shown[1].players, ["Alice (you)", "Bob"]);
  for (const line of ["* Alice joined", "(to Bob) psst Bob", "[Alice] hello from the GUI", "(whisper) Bob: hi Alice"]) {
    assert.ok(shown[1].log.split("\n").includes(line), `the GUI's log shows ${JSON.stringify(line)}: ${shown[1].log}`);
  }
  assert.equal(shown[1].saved, 0, "the screenshot was saved");

  // The RPCs arrived: say() at the server (which relays it to everyone), whisper() at Bob only.
  assert.match(lobby.output, new RegExp(`^Alice \\(peer ${aliceId}\\) joined; players: Bob, Alice$`, "m"));
  assert.match(lobby.output, /^\[Alice\] hello from the GUI$/m);
  const bobLines = lines(events(bobLog));
  for (const line of ["* Alice joined", "[Alice] hello from the GUI", "(whisper) Alice: psst Bob", "* Alice left"]) {
    assert.ok(bobLines.includes(line), `Bob got ${JSON.stringify(line)}: ${JSON.stringify(bobLines)}`);
  }
  assert.ok(!lines(aliceEvents).includes("(whisper) Alice: psst Bob"), "the whisper went to Bob only");

  checkScreenshot(screenshot);
  checkNoErrors([lobby, bob, gui]);
});

test("main scene on the desktop: the start screen runs the chat server and shows its clients and messages", async () => {
  const screenshot = screenshotPath("start_screen.png");
  const startLog = join(scratch, "start.log");
  const start = run("the start screen", "xvfb-run", [...DESKTOP_GODOT, "--start=chat",
    `--port=${CHAT_PORT}`, "--quit-after=1", `--screenshot=${screenshot}`, `--log=${startLog}`]);
  await start.waitFor(`Chat server listening on ws://localhost:${CHAT_PORT} (gdws)`);

  const received = [];
  const socket = new WebSocket(`ws://127.0.0.1:${CHAT_PORT}/`);
  socket.onmessage = (event) => received.push(event.data);
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
  socket.send("/name Node");
  socket.send("hello from the start screen test");
  await until("the chat's echo", () => received.includes("[Node] hello from the start screen test"));
  const showsHello = (event) => event[1].messages.includes("[Node] hello from the start screen test");
  await until("the panel to show the message", () => existsSync(startLog) && named(events(startLog), "shown").some(showsHello));
  const shown = named(events(startLog), "shown").find(showsHello)[1];
  socket.close(1000, "done");
  assert.equal(await start.exited, 0, `the chat server quit once its client left (--quit-after=1):\n${start.output}`);

  const id = /^\* (\d+) joined$/.exec(received[0])?.[1];
  assert.ok(id, `the client's join: ${JSON.stringify(received)}`);
  assert.equal(shown.clients.length, 1);
  assert.match(shown.clients[0], /^Node {2}\(127\.0\.0\.1:\d+\)$/);
  assert.equal(shown.messages, `* ${id} joined\n* ${id} is now Node\n[Node] hello from the start screen test\n`);
  assert.equal(shown.saved, 0, "the screenshot was saved");
  checkScreenshot(screenshot);
  checkNoErrors([start]);
});
