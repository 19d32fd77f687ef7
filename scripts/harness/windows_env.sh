# Sourced (after scripts/env.sh) by the scripts that build gdws for Windows or test it there:
# the environment of a cross build to x86_64-pc-windows-gnu on this Debian machine. rustup's
# toolchain has no Windows target and cannot download one, so the build uses Debian's Rust
# (rustc-web, cargo-web) and builds the standard library from its source (rust-web-src) with
# `-Zbuild-std`; mingw-w64 links; wine64 runs the test binaries (`wine_run.sh`). Installed by
# `scripts/setup.sh --windows`.
#
#   windows_cargo build --release -p gdws    target/windows/x86_64-pc-windows-gnu/release/gdws.dll

WINDOWS_TARGET=x86_64-pc-windows-gnu
# A target directory of its own: the host's build scripts and proc macros are built by another
# rustc here, and sharing target/ would rebuild them every time the toolchain changes.
WINDOWS_TARGET_DIR="$PWD/target/windows"

# clang's own headers (stddef.h and friends) and the mingw-w64 headers, for gdnative-sys's
# bindgen run on the Windows headers; found where Debian's packages put them.
windows_clang_include=$(find /usr/lib/llvm-*/lib/clang/*/include -maxdepth 0 -type d 2>/dev/null | sort -V | tail -n1)
windows_mingw_include=$(dirname "$(dpkg -L mingw-w64-x86-64-dev 2>/dev/null | grep '/include/stdio\.h$' | head -n1)")

# Runs Debian's cargo for the Windows target: `windows_cargo SUBCOMMAND ARGS...`. In a subshell,
# so the toolchain's variables stay out of the caller's own cargo runs.
windows_cargo() {
    local subcommand=$1
    shift
    (
        export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
        export CARGO_TARGET_DIR="$WINDOWS_TARGET_DIR"
        export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
        export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/harness/windows/wine_run.sh"
        export BINDGEN_EXTRA_CLANG_ARGS_x86_64_pc_windows_gnu="-I$windows_clang_include -I$windows_mingw_include"
        /usr/bin/cargo "$subcommand" -Zbuild-std=std,panic_unwind --target "$WINDOWS_TARGET" "$@"
    )
}

# The Windows path wine gives a file of this machine (drive Z: is the root).
winepath_of() {
    local path
    path=$(realpath "$1")
    echo "Z:${path//\//\\}"
}
