# Sourced (from the repository's root) by the scripts that drive headless Chromium
# (browser_test.sh, proxies_test.sh): installs Chromium and npm (scripts/setup.sh --browser) and
# playwright-core (npm, the version in tests/browser/package-lock.json) when missing, and sets
# CHROMIUM.
bash scripts/setup.sh --browser
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
