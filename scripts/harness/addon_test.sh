#!/usr/bin/env bash
# Checks the addon zip as a user gets it: packages the release build as scripts/addon.sh makes it
# for a release (with --debug, the debug build: quicker, when the Rust code changes often),
# unzips it into a new, otherwise empty Godot 3 project, and there
#   1. runs a headless echo through the addon's classes (scripts/harness/addon_check/check.gd);
#   2. opens the project in the editor (godot3-server --editor) with a check plugin that makes
#      each class, shows it in the Inspector and quits (scripts/harness/addon_check/editor_check/).
#   3. checks that every library the .gdnlib names is in the zip, that the Windows DLL imports
#      only DLLs every Windows has (nothing to ship beside it), and that it loads under wine with
#      every import resolved and exports the GDNative entry points (harness/windows/load_dll.c).
# Each step fails on a non-zero exit, a timeout, or an ERROR / SCRIPT ERROR / panic / leak in its log.
# Port: GDWS_ADDON_PORT, by default GDWS_PORT_BASE + 900 (the Godot tests use the ports above
# GDWS_PORT_BASE, 20 each).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
source scripts/harness/windows_env.sh

case "${1:-}" in
    "") zip=$(bash scripts/addon.sh | tail -n1) ;;
    --debug) zip=$(bash scripts/addon.sh --debug | tail -n1) ;;
    *) echo "addon_test: unknown option $1 (only --debug)" >&2; exit 2 ;;
esac

project=$(mktemp -d "${TMPDIR:-/tmp}/gdws_addon_project.XXXXXX")
trap 'rm -rf "$project"' EXIT
printf 'config_version=4\n\n[application]\n\nconfig/name="addon check"\n' >"$project/project.godot"
(cd "$project" && python3 -m zipfile -e "$zip" .)
# Godot's user:// and editor settings stay in the scratch directory. Godot 3.2.3 prints a
# spurious make_dir_recursive error when it creates user:// itself.
export XDG_DATA_HOME="$project/xdg" XDG_CONFIG_HOME="$project/config" XDG_CACHE_HOME="$project/cache"
mkdir -p "$XDG_DATA_HOME/godot/app_userdata/addon check"

# Runs Godot on the project (arguments after the step's name) and checks its log: the exit code,
# the step's "done" line, and every problem harness/godot_log_check.py finds (an ERROR, SCRIPT
# ERROR, panic or leak). No pipeline: under pipefail, `grep | grep -q` can fail on SIGPIPE.
run_step() {
    local step=$1; shift
    local log="$project/$step.log" rc=0 problems
    timeout -k 5 60 "$GODOT_BIN" --path "$project" "$@" >"$log" 2>&1 </dev/null || rc=$?
    problems=$(python3 scripts/harness/godot_log_check.py "$log")
    [ "$rc" -eq 0 ] || problems="exit code $rc${problems:+$'\n'$problems}"
    grep -q "$step: done" "$log" || problems="no \"$step: done\" line${problems:+$'\n'$problems}"
    if [ -n "$problems" ]; then
        echo "FAIL addon $step: the unzipped addon does not work in a fresh project"
        echo "$problems" | sed 's/^/    /'
        sed 's/^/    | /' "$log"
        exit 1
    fi
}

cp scripts/harness/addon_check/check.gd "$project/check.gd"
run_step "addon check" -s res://check.gd --port="${GDWS_ADDON_PORT:-$((${GDWS_PORT_BASE:-21000} + 900))}"

cp -r scripts/harness/addon_check/editor_check "$project/addons/"
printf '\n[editor_plugins]\n\nenabled=PoolStringArray( "editor_check" )\n' >>"$project/project.godot"
run_step "editor check" --editor

# The license travels with the code it covers, the version with the files a user opens.
[ -f "$project/addons/gdws/LICENSE" ] || { echo "FAIL addon: the zip has no addons/gdws/LICENSE"; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[[ "$zip" == */gdws-$version-x86_64* ]] || { echo "FAIL addon: the zip's name lacks the version $version"; exit 1; }
[ "$(head -n1 "$project/addons/gdws/gdws.gdnlib")" = "; gdws $version" ] \
    || { echo "FAIL addon: the .gdnlib does not open with '; gdws $version'"; exit 1; }
for doc in "$project"/addons/gdws/docs/*.md; do
    [ "$(sed -n 3p "$doc")" = "_gdws ${version}_" ] \
        || { echo "FAIL addon: $(basename "$doc") does not name gdws $version under its title"; exit 1; }
done

# 3. The libraries. Every entry of the .gdnlib names a file of the addon.
gdnlib="$project/addons/gdws/gdws.gdnlib"
entries=$(sed -n 's/^\([A-Za-z0-9.]*\)="res:\/\/\(.*\)"$/\1 \2/p' "$gdnlib")
for platform in X11.64 Server.64 Windows.64; do
    grep -q "^$platform " <<<"$entries" || { echo "FAIL addon: the .gdnlib has no $platform entry"; exit 1; }
done
while read -r platform path; do
    [ -f "$project/$path" ] || { echo "FAIL addon: the .gdnlib's $platform entry res://$path is not in the zip"; exit 1; }
done <<<"$entries"
# Godot looks up godot_nativescript_frame in every NativeScript library each frame; a library
# without it costs a failed dlsym per frame (rust/godot/ffi.rs).
exported=$(nm -D --defined-only "$project/addons/gdws/bin/libgdws.so")
for symbol in godot_gdnative_init godot_gdnative_terminate godot_nativescript_init godot_nativescript_frame; do
    grep -q " T $symbol$" <<<"$exported" || { echo "FAIL addon: libgdws.so does not export $symbol"; exit 1; }
done
dll="$project/addons/gdws/bin/gdws.dll"
# Windows' own DLLs (and the API sets that name parts of them): nothing else may be imported.
system_dlls='^(kernel32|ntdll|advapi32|bcrypt|bcryptprimitives|userenv|ws2_32|msvcrt|api-ms-win-[a-z0-9-]+)\.dll$'
imports=$(x86_64-w64-mingw32-objdump -p "$dll" | sed -n 's/^\s*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
foreign=$(grep -Ev "$system_dlls" <<<"$imports" || true)
if [ -n "$foreign" ]; then
    echo "FAIL addon: gdws.dll imports DLLs a Windows machine does not have: $foreign"; exit 1
fi
load_dll="$project/load_dll.exe"
x86_64-w64-mingw32-gcc -O2 -o "$load_dll" scripts/harness/windows/load_dll.c
if ! loaded=$(timeout -k 5 120 scripts/harness/windows/wine_run.sh "$load_dll" "$(winepath_of "$dll")" 2>&1); then
    echo "FAIL addon: gdws.dll does not load under wine"; echo "$loaded" | sed 's/^/    | /'; exit 1
fi

echo "PASS addon: $(basename "$zip") ($(unzip -Z1 "$zip" | grep -v '/$' | tr '\n' ' ')) works in a fresh project, headless and in the editor; gdws.dll imports only $(wc -l <<<"$imports") system DLLs and loads under wine"
