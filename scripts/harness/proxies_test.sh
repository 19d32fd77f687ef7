#!/usr/bin/env bash
# gdws behind real proxies (scripts/harness/proxies_test.py, which says what each test checks):
# nginx ending TLS in front of the headless demo, with a stock Godot WebSocketClient, a
# tokio-tungstenite client, Python clients and the chat page in headless Chromium through it; HAProxy (PROXY v2, health checks)
# balancing 50 clients over two demo servers, one of them killed mid-test; the proxy
# configurations in docs/deployment.md are the templates the tests run (scripts/harness/proxies/).
# Run `cargo build` first; scripts/setup.sh installs nginx, haproxy and Python's websockets,
# browser_env.sh Chromium and playwright-core.
#
#   scripts/harness/proxies_test.sh [TEST...]      e.g. test_haproxy_two_instances
#
# Ports: GDWS_PROXIES_PORT and the 7 above it, by default GDWS_PORT_BASE + 960.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
source scripts/harness/browser_env.sh
if [ ! -e godot_project/addons/gdws/bin/libgdws.so ]; then
    echo "proxies: godot_project/addons/gdws/bin/libgdws.so is missing: run cargo build first" >&2
    exit 2
fi
# The tokio-tungstenite client of the nginx test (bench/src/bin/ws_chat.rs).
cargo build --quiet -p gdws-bench --bin ws_chat
# The whole suite is bounded: every process it starts is in a process group the driver ends.
exec timeout --kill-after=10 240 python3 scripts/harness/proxies_test.py "$@"
