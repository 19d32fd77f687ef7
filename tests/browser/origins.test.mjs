// allowed_origins in a real browser: the demo's chat page in headless Chromium, its WebSocket
// through nginx (TLS with a test CA) to the headless demo, which allows only the origin nginx
// serves the page from. Started by scripts/harness/proxies_test.py (test_browser_origins), which
// runs nginx, the demo and a second web server, and passes the pages:
//   GDWS_OWN_PAGE    the page as nginx serves it: its origin is allowed, it connects and chats
//   GDWS_OTHER_PAGE  the same page from another origin: its WebSocket is refused (403), so the
//                    page never connects and says so
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, nextMessage, waitConnected, waitState } from "./chromium.mjs";

let browser;

before(async () => {
  browser = await launchChromium(["--ignore-certificate-errors"]);
});

after(async () => {
  await browser?.close();
});

test("the page from the server's own origin connects and chats", async () => {
  const page = await browser.newPage();
  await page.goto(process.env.GDWS_OWN_PAGE);
  await waitConnected(page);
  const joined = await nextMessage(page, 0);
  const match = /^\* (\d+) joined$/.exec(joined.data);
  assert.ok(match, `its join first, got ${JSON.stringify(joined)}`);
  await page.fill("#text", "same origin");
  await page.press("#text", "Enter");
  assert.deepEqual(await nextMessage(page, 1), { kind: "text", data: `[${match[1]}] same origin` });
  await page.close();
});

test("the page from another origin is refused", async () => {
  const page = await browser.newPage();
  await page.goto(process.env.GDWS_OTHER_PAGE);
  // A refused upgrade is a failed connection to the page: close code 1006, nothing received
  // (the page then waits to try again, and is refused again).
  assert.match(await waitState(page, "waiting"), /^disconnected from wss:\/\/localhost:\d+\/play \(code 1006\)/);
  assert.deepEqual(await page.evaluate(() => window.received), []);
  await page.close();
});
