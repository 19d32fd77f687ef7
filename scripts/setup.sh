#!/usr/bin/env bash
# Installs what building and testing gdws needs, only what is missing: headless Godot 3
# (Debian's godot3-server), libclang for gdnative's bindings, a Rust toolchain, and the openssl
# CLI (the Godot wss:// tests make their certificates with it), a C++ compiler (libFuzzer, for
# scripts/harness/fuzz.sh), pip (kosoku, for scripts/harness/conformance.sh), and nginx, HAProxy
# and Python's websockets (scripts/harness/proxies_test.sh, scripts/harness/bundle_test.sh).
#
#   scripts/setup.sh --browser    also Chromium and npm, for the browser test, and the desktop
#                                 Godot (godot3) with Xvfb, for the lobby GUI test (both in
#                                 scripts/harness/browser_test.sh)
#   scripts/setup.sh --windows    also the Windows cross build and wine, for the addon's DLL and
#                                 the Windows tests (scripts/harness/windows_env.sh)
set -euo pipefail

missing=()
command -v godot3-server >/dev/null 2>&1 || missing+=(godot3-server)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
# Without any Rust: Debian's current one (rustc-web, cargo-web: 1.96). Debian's `cargo` package
# (0.66) cannot read our Cargo.lock, and its Rust is older than the rust-version in Cargo.toml.
command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || missing+=(rustc-web cargo-web)
for option in "$@"; do
    case "$option" in
        --browser)
            command -v chromium >/dev/null 2>&1 || missing+=(chromium)
            command -v npm >/dev/null 2>&1 || missing+=(npm)
            command -v godot3 >/dev/null 2>&1 || missing+=(godot3)
            command -v xvfb-run >/dev/null 2>&1 || missing+=(xvfb)
            ;;
        --windows)
            # Debian's Rust 1.96 (as /usr/bin/rustc and cargo) and the std source to build std
            # for Windows; rustup's toolchain stays the default on PATH.
            for package in rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 wine64; do
                dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
            done
            ;;
        *) echo "setup: unknown option $option (--browser, --windows)" >&2; exit 2 ;;
    esac
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The proxies suite's Python clients (pip after apt: pip may be one of the packages above).
if ! python3 -c "import websockets.asyncio.client" >/dev/null 2>&1; then
    echo "setup: installing websockets (pip)"
    python3 -m pip install --quiet "websockets>=13" 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages "websockets>=13"
fi
