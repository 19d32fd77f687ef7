// Headless Chromium as the browser tests launch it (CHROMIUM, default /usr/bin/chromium), and the
// chat page's helpers they share.
import { chromium } from "playwright-core";

export const WAIT_MS = 20000;

// `extraArgs` are added to the usual ones, e.g. "--ignore-certificate-errors" for a test CA.
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // Root in CI: Chromium's sandbox needs an unprivileged user. No calls home: the machine's
    // network is closed, and refused connections only slow Chromium down.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", ...extraArgs],
  });
}

// The message at `index` of what the chat page received, once it is there.
export async function nextMessage(page, index) {
  await page.waitForFunction((i) => window.received.length > i, index, { timeout: WAIT_MS });
  return page.evaluate((i) => window.received[i], index);
}

// Waits until the chat page's status is in `state` ("connecting", "connected", "waiting" to
// reconnect after a close); returns the status line.
export async function waitState(page, state) {
  await page.waitForFunction((wanted) => document.getElementById("status").dataset.state === wanted, state,
    { timeout: WAIT_MS });
  return page.evaluate(() => document.getElementById("status").textContent);
}

// Waits until the chat page is connected (its status line then starts with "connected").
export async function waitConnected(page) {
  const line = await waitState(page, "connected");
  if (!line.startsWith("connected")) throw new Error(`connected, but the status says ${JSON.stringify(line)}`);
}
