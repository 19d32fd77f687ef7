#!/usr/bin/env bash
# Checks the addon zip as a user gets it: packages the debug build (scripts/addon.sh --debug),
# unzips it into a new, otherwise empty Godot 3 project, and runs a headless echo through the
# addon's classes there (scripts/addon_check/check.gd). Port: GDWS_ADDON_PORT (default 26500).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

bash scripts/addon.sh --debug >/dev/null
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
zip="$PWD/target/addon/gdws-$version-linux-x86_64-debug.zip"

project=$(mktemp -d "${TMPDIR:-/tmp}/gdws_addon_project.XXXXXX")
trap 'rm -rf "$project"' EXIT
printf 'config_version=4\n\n[application]\n\nconfig/name="addon check"\n' >"$project/project.godot"
(cd "$project" && python3 -m zipfile -e "$zip" .)
cp scripts/addon_check/check.gd "$project/check.gd"
# Godot 3.2.3 prints a spurious make_dir_recursive error when it creates user:// itself.
export XDG_DATA_HOME="$project/xdg"
mkdir -p "$XDG_DATA_HOME/godot/app_userdata/addon check"

log="$project/godot.log"
if ! timeout -k 5 60 "$GODOT_BIN" --path "$project" -s res://check.gd \
        --port="${GDWS_ADDON_PORT:-26500}" >"$log" 2>&1 </dev/null \
        || grep -E "^ERROR:|SCRIPT ERROR:|panicked at" "$log" | grep -v "locale '" | grep -q .; then
    echo "FAIL addon: the unzipped addon does not work in a fresh project"
    sed 's/^/    | /' "$log"
    exit 1
fi
echo "PASS addon ($(unzip -Z1 "$zip" | tr '\n' ' '))"
