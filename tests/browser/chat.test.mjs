// End to end in a real browser: the demo chat server (godot_project/demo, headless Godot on the
// built library) and two headless Chromium pages of the browser client
// (godot_project/demo/web/index.html, opened as file://). The pages pick names (one through the
// name field, one through ?name=), text and real binary (a picked file, random bytes) go both
// ways through the Godot server, the wss:// box switches the scheme (also against the demo
// serving wss:// with a certificate made for the run), and when the server is restarted both
// pages reconnect by themselves and set their names again. A screenshot of a page is kept:
// target/artifacts/browser_chat.png.
//
// Run by scripts/harness/browser_test.sh (which installs Chromium and playwright-core). Environment:
// GODOT_BIN, CHROMIUM (default /usr/bin/chromium), GDWS_BROWSER_PORT (default 21920).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, nextMessage, waitConnected, WAIT_MS } from "./chromium.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PORT = Number(process.env.GDWS_BROWSER_PORT || 21920);
const SCREENSHOT = join(ROOT, "target", "artifacts", "browser_chat.png");

let godot;
let godotOutput = "";  // of every demo run
const demos = [];
// The browser link scripts/demo.sh prints for the port it was given: what the test opens.
let demoLink;
let scratch;
let browser;

// Starts the demo the way the README says (scripts/demo.sh, which builds and then runs the
// headless demo) with `args`; resolves to [the process, the browser link it printed] once it
// listens; rejects if it exits or takes too long. Its output goes to godotOutput.
function launchDemo(args) {
  if (!scratch) {
    scratch = mkdtempSync(join(tmpdir(), "gdws_browser_test."));
    // Godot 3.2.3 prints a spurious make_dir_recursive error when it creates user:// itself.
    mkdirSync(join(scratch, "godot", "app_userdata", "gdws demo"), { recursive: true });
  }
  let output = "";  // this run's
  const child = spawn(
    "bash",
    [join(ROOT, "scripts", "demo.sh"), ...args],
    { env: { ...process.env, XDG_DATA_HOME: scratch, LANG: "en_US.UTF-8" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  demos.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not listen within ${WAIT_MS} ms:\n${output}`)), WAIT_MS);
    const collect = (chunk) => {
      godotOutput += chunk;
      output += chunk;
      const link = /^demo: browser client: (\S+)$/m.exec(output);
      if (link && output.includes("Chat server listening")) {
        clearTimeout(timer);
        resolve([child, link[1]]);
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (code ${code}):\n${output}`));
    });
  });
}

// The chat demo the test restarts: `godot`, with its link in `demoLink`.
async function startDemo() {
  [godot, demoLink] = await launchDemo([`--port=${PORT}`]);
}

// Stops the demo (SIGTERM to Godot: demo.sh exec's it) and resolves once it has exited.
function stopDemo() {
  const stopped = new Promise((resolve) => godot.once("exit", resolve));
  godot.kill();
  return stopped;
}

// A chat page connected to the demo (`query` is added to demo.sh's link); returns [page, the
// id the server gave it].
async function openChat(query = "") {
  assert.ok(demoLink.endsWith(`?url=ws://localhost:${PORT}/`), `demo.sh's link names the port: ${demoLink}`);
  const page = await newPage(demoLink + query);
  await waitConnected(page);
  // The first message is this page's own join, "* <id> joined".
  const joined = await nextMessage(page, 0);
  assert.equal(joined.kind, "text");
  const match = /^\* (\d+) joined$/.exec(joined.data);
  assert.ok(match, `a join message, got ${JSON.stringify(joined.data)}`);
  return [page, Number(match[1])];
}

async function newPage(link) {
  const page = await browser.newPage({ viewport: { width: 720, height: 420 } });
  await page.goto(link);
  return page;
}

// The index of the first text message at or after `from` that matches `pattern`, once there is one.
async function findText(page, pattern, from = 0) {
  const handle = await page.waitForFunction(([source, start]) => {
    const re = new RegExp(source);
    const i = window.received.findIndex((m, at) => at >= start && m.kind === "text" && re.test(m.data));
    return i >= 0 ? i : false;
  }, [pattern.source, from], { timeout: WAIT_MS });
  return handle.jsonValue();
}

// The next binary message at or after `from`, once there is one.
async function nextBinary(page, from) {
  const handle = await page.waitForFunction((start) => {
    const i = window.received.findIndex((m, at) => at >= start && m.kind === "binary");
    return i >= 0 ? window.received[i].data : false;
  }, from, { timeout: WAIT_MS });
  return handle.jsonValue();
}

const received = (page) => page.evaluate(() => window.received.length);

before(async () => {
  await startDemo();
  // The wss:// test's certificate is self-signed, made for this run.
  browser = await launchChromium(["--ignore-certificate-errors"]);
});

after(async () => {
  await browser?.close();
  for (const child of demos) if (child.exitCode === null) child.kill();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test("browser chat: names, real bytes both ways, wss:// box, reconnect after a server restart", async () => {
  // Alice names herself in the name field (Enter sets it); Bob through ?name=.
  const [alice, aliceId] = await openChat();
  await alice.fill("#name", "Alice");
  await alice.press("#name", "Enter");
  assert.deepEqual(await nextMessage(alice, 1), { kind: "text", data: `* ${aliceId} is now Alice` });
  const [bob, bobId] = await openChat("&name=Bob");
  assert.notEqual(aliceId, bobId);
  assert.deepEqual(await nextMessage(bob, 1), { kind: "text", data: `* ${bobId} is now Bob` });
  assert.deepEqual(await nextMessage(alice, 2), { kind: "text", data: `* ${bobId} joined` });
  assert.deepEqual(await nextMessage(alice, 3), { kind: "text", data: `* ${bobId} is now Bob` });

  // Text typed into Alice's page reaches both pages under her name, sent through the form.
  const text = "hello from Chromium ✓ ünïcode";
  await alice.fill("#text", text);
  await alice.press("#text", "Enter");
  const said = { kind: "text", data: `[Alice] ${text}` };
  assert.deepEqual(await nextMessage(alice, 4), said);
  assert.deepEqual(await nextMessage(bob, 2), said);

  // Alice sends a file she picked: every byte value, unchanged, as binary, to everyone.
  const file = Buffer.from([...Array(300).keys()].map((i) => (i * 7) % 256));
  await alice.setInputFiles("#file", { name: "bytes.bin", mimeType: "application/octet-stream", buffer: file });
  await alice.click("#bytes");
  assert.deepEqual(await nextBinary(bob, 3), [...file]);
  assert.deepEqual(await nextBinary(alice, 5), [...file]);
  const preview = await bob.locator("#log li.binary").last().textContent();
  assert.ok(preview.startsWith("binary, 300 bytes: 00 07 0e 15 1c"), `a hex preview: ${preview}`);
  assert.ok(preview.endsWith(" …"), `the preview is cut: ${preview}`);

  // Bob sends without a file: 16 random bytes, the same ones arrive at Alice's page.
  await bob.click("#bytes");
  const random = await bob.evaluate(() => window.sent[0]);
  assert.equal(random.length, 16);
  assert.deepEqual(await nextBinary(alice, 6), random);
  assert.deepEqual(await nextBinary(bob, 4), random);

  // The wss:// box: Bob's page tries wss:// on the same host and port (a plain ws:// server:
  // it fails and waits to retry) and goes back to ws:// when unticked.
  await bob.check("#wss");
  await bob.waitForFunction((port) => {
    const status = document.getElementById("status");
    return status.dataset.state === "waiting" && status.textContent.startsWith(`disconnected from wss://localhost:${port}/`);
  }, PORT, { timeout: WAIT_MS });
  const bobCount = await received(bob);
  await bob.uncheck("#wss");
  await waitConnected(bob);
  assert.equal(await bob.textContent("#status"), `connected to ws://localhost:${PORT}/`);
  const bobBack = await findText(bob, /^\* \d+ is now Bob$/, bobCount);
  assert.ok(bobBack > bobCount, "Bob's page set its name again after reconnecting");

  // The server restarts: both pages show that they wait, reconnect by themselves once it is
  // back, and set their names again; chat goes on under the names.
  const before = [await received(alice), await received(bob)];
  await stopDemo();
  for (const page of [alice, bob]) {
    await page.waitForFunction(() => document.getElementById("status").dataset.state === "waiting", null, { timeout: WAIT_MS });
    assert.match(await page.textContent("#status"), /^disconnected from ws:\/\/localhost:\d+\/ \(code \d+\), reconnecting in \d+\.\d s \(attempt \d+\)$/);
    assert.ok(await page.isDisabled("#text"), "no typing while disconnected");
  }
  await startDemo();
  await waitConnected(alice);
  await waitConnected(bob);
  await findText(alice, /^\* \d+ is now Alice$/, before[0]);
  await findText(bob, /^\* \d+ is now Bob$/, before[1]);
  await alice.fill("#text", "back again");
  await alice.press("#text", "Enter");
  await findText(bob, /^\[Alice\] back again$/, before[1]);

  // Bob leaves: Alice is told, by name.
  const aliceCount = await received(alice);
  await bob.close();
  await findText(alice, /^\* Bob left$/, aliceCount);

  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await alice.screenshot({ path: SCREENSHOT });

  assert.match(godotOutput, new RegExp(`\\[${bobId}\\] sent 16 bytes of binary`));
  assert.match(godotOutput, new RegExp(`\\[${aliceId}\\] sent 300 bytes of binary`));
  checkDemoOutput();
});

test("browser chat over wss://: from ?url=, and with the wss:// box on a ws:// link", async () => {
  const tlsPort = PORT + 3;  // the GUI tests (godot_gui.test.mjs) use the two before
  const key = join(scratch, "key.pem");
  const cert = join(scratch, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost"], { stdio: "ignore" });
  const [tlsDemo, link] = await launchDemo([`--port=${tlsPort}`, `--cert=${cert}`, `--key=${key}`]);
  assert.ok(link.endsWith(`?url=wss://localhost:${tlsPort}/`), `demo.sh's link says wss://: ${link}`);

  // demo.sh's link: the box is ticked and the page talks wss://.
  const direct = await newPage(link);
  await waitConnected(direct);
  assert.ok(await direct.isChecked("#wss"));
  assert.equal(await direct.textContent("#status"), `connected to wss://localhost:${tlsPort}/`);
  assert.match((await nextMessage(direct, 0)).data, /^\* \d+ joined$/);

  // The same link with ws://: no connection to a TLS server until the box is ticked.
  const toggled = await newPage(link.replace("?url=wss:", "?url=ws:"));
  assert.ok(!(await toggled.isChecked("#wss")));
  await toggled.waitForFunction(() => document.getElementById("status").dataset.state === "waiting", null, { timeout: WAIT_MS });
  await toggled.check("#wss");
  await waitConnected(toggled);
  assert.equal(await toggled.textContent("#status"), `connected to wss://localhost:${tlsPort}/`);
  await toggled.fill("#text", "over TLS");
  await toggled.press("#text", "Enter");
  await findText(direct, /^\[\d+\] over TLS$/);
  await direct.close();
  await toggled.close();
  tlsDemo.kill();
  checkDemoOutput();
});

function checkDemoOutput() {
  const problems = godotOutput.split("\n").filter((line) => /^ERROR:|SCRIPT ERROR:|panicked at/.test(line));
  assert.deepEqual(problems, [], "the demo printed no error");
}
