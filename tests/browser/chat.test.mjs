// End to end in a real browser: the demo chat server (godot_project/demo, headless Godot on the
// built library) and two headless Chromium pages of the browser client
// (godot_project/demo/web/index.html, opened as file://). Text and binary messages go both
// ways through the Godot server. A screenshot of a page is kept: target/artifacts/browser_chat.png.
//
// Run by scripts/harness/browser_test.sh (which installs Chromium and playwright-core). Environment:
// GODOT_BIN, CHROMIUM (default /usr/bin/chromium), GDWS_BROWSER_PORT (default 21920).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PORT = Number(process.env.GDWS_BROWSER_PORT || 21920);
const SCREENSHOT = join(ROOT, "target", "artifacts", "browser_chat.png");
const WAIT_MS = 20000;

let godot;
let godotOutput = "";
// The browser link scripts/demo.sh prints for the port it was given: what the test opens.
let demoLink;
let scratch;
let browser;

// Starts the demo the way the README says (scripts/demo.sh, which builds and then runs the
// headless demo); resolves once it prints that it listens; rejects if it exits or takes too long.
function startDemo() {
  scratch = mkdtempSync(join(tmpdir(), "gdws_browser_test."));
  // Godot 3.2.3 prints a spurious make_dir_recursive error when it creates user:// itself.
  mkdirSync(join(scratch, "godot", "app_userdata", "gdws demo"), { recursive: true });
  godot = spawn(
    "bash",
    [join(ROOT, "scripts", "demo.sh"), `--port=${PORT}`],
    { env: { ...process.env, XDG_DATA_HOME: scratch, LANG: "en_US.UTF-8" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not listen within ${WAIT_MS} ms:\n${godotOutput}`)), WAIT_MS);
    const collect = (chunk) => {
      godotOutput += chunk;
      const link = /^demo: browser client: (\S+)$/m.exec(godotOutput);
      if (link && godotOutput.includes("Chat server listening")) {
        demoLink = link[1];
        clearTimeout(timer);
        resolve();
      }
    };
    godot.stdout.on("data", collect);
    godot.stderr.on("data", collect);
    godot.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (code ${code}):\n${godotOutput}`));
    });
  });
}

// A chat page connected to the demo; returns [page, the id the server gave it].
async function openChat() {
  const page = await browser.newPage({ viewport: { width: 720, height: 420 } });
  assert.ok(demoLink.endsWith(`?url=ws://localhost:${PORT}/`), `demo.sh's link names the port: ${demoLink}`);
  await page.goto(demoLink);
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("connected"), null, { timeout: WAIT_MS });
  // The first message is this page's own join, "* <id> joined".
  const joined = await nextMessage(page, 0);
  assert.equal(joined.kind, "text");
  const match = /^\* (\d+) joined$/.exec(joined.data);
  assert.ok(match, `a join message, got ${JSON.stringify(joined.data)}`);
  return [page, Number(match[1])];
}

// The message at `index` of what the page received, once it is there.
async function nextMessage(page, index) {
  await page.waitForFunction((i) => window.received.length > i, index, { timeout: WAIT_MS });
  return page.evaluate((i) => window.received[i], index);
}

before(async () => {
  await startDemo();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // Root in CI: Chromium's sandbox needs an unprivileged user. No calls home: the machine's
    // network is closed, and refused connections only slow Chromium down.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  godot?.kill();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test("browser chat: text and binary both ways through the Godot server", async () => {
  const [alice, aliceId] = await openChat();
  const [bob, bobId] = await openChat();
  assert.notEqual(aliceId, bobId);
  assert.deepEqual(await nextMessage(alice, 1), { kind: "text", data: `* ${bobId} joined` });

  // Text typed into Alice's page reaches both pages, through the form as a user would send it.
  const text = "hello from Chromium ✓ ünïcode";
  await alice.fill("#text", text);
  await alice.press("#text", "Enter");
  const said = { kind: "text", data: `[${aliceId}] ${text}` };
  assert.deepEqual(await nextMessage(alice, 2), said);
  assert.deepEqual(await nextMessage(bob, 1), said);

  // Bob's "Send bytes": the UTF-8 bytes of the text, reversed, as a binary message; the server
  // relays them unchanged, as binary, to everyone.
  await bob.fill("#text", "gdws\u0000\u00ff");
  await bob.click("#bytes");
  const bytes = [...Buffer.from("gdws\u0000\u00ff", "utf8")].reverse();
  assert.deepEqual(await nextMessage(alice, 3), { kind: "binary", data: bytes });
  assert.deepEqual(await nextMessage(bob, 2), { kind: "binary", data: bytes });

  // Bob leaves: Alice is told.
  await bob.close();
  assert.deepEqual(await nextMessage(alice, 4), { kind: "text", data: `* ${bobId} left` });

  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await alice.screenshot({ path: SCREENSHOT });

  assert.match(godotOutput, new RegExp(`\\[${bobId}\\] sent ${bytes.length} bytes of binary`));
  const problems = godotOutput.split("\n").filter((line) => /^ERROR:|SCRIPT ERROR:|panicked at/.test(line));
  assert.deepEqual(problems, [], "the demo printed no error");
});
