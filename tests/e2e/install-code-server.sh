#!/usr/bin/env bash
# Installs code-server 4.100.3 (the last line that runs on Node 20) into a cache folder outside the
# repository, for the end-to-end tests in tests/e2e/: its bundled VS Code server
# (lib/vscode/out/server-main.js) is the real extension host and workbench those tests drive with
# Debian's chromium. See ../../../shared/docs/vscode-e2e.md for why not @vscode/test-electron.
#
#   tests/e2e/install-code-server.sh            # install (or check) and print the install folder
#   MOLMO_E2E_CACHE=/some/dir tests/e2e/install-code-server.sh
#
# Needs, besides Node 20 and npm: apt packages chromium ripgrep libkrb5-dev build-essential python3
# (node-pty and kerberos compile from source here, because their prebuilt downloads are not reachable).
# Network: only the npm registry. Idempotent: a working install is left alone (a second run takes ~1 s).
set -euo pipefail

readonly version="4.100.3"
# The version of @vscode/ripgrep that code-server 4.100.3's VS Code depends on, and the ripgrep
# release that package downloads from GitHub in its postinstall (not reachable here).
readonly vscode_ripgrep_version="1.15.11"
readonly ripgrep_asset="ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"

cache_root="${MOLMO_E2E_CACHE:-$HOME/.cache/molmo-e2e}"
install_dir="$cache_root/code-server-$version"
server_main="$install_dir/node_modules/code-server/lib/vscode/out/server-main.js"
code_server_bin="$install_dir/node_modules/.bin/code-server"

log() { printf 'install-code-server: %s\n' "$*" >&2; }

# A working install answers --version with our version and has the VS Code server the tests start.
is_working() {
  [ -f "$server_main" ] && [ -x "$code_server_bin" ] &&
    "$code_server_bin" --version 2>/dev/null | grep -q "^$version "
}

if is_working; then
  log "code-server $version already installed in $install_dir"
  printf '%s\n' "$install_dir"
  exit 0
fi

for tool in node npm rg; do
  command -v "$tool" >/dev/null || { log "missing '$tool' (apt-get install -y nodejs ripgrep)"; exit 1; }
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != "20" ]; then
  # 4.100.3 refuses other majors in its postinstall; a newer code-server line would be needed.
  log "code-server $version needs Node 20, found $(node --version)"
  exit 1
fi

mkdir -p "$cache_root"
# Install into a fresh folder and move it into place only when it works, so an interrupted install
# is never mistaken for a working one.
staging="$(mktemp -d "$cache_root/.staging-XXXXXX")"
trap 'rm -rf "$staging"' EXIT

# @vscode/ripgrep's postinstall looks in $TMPDIR/vscode-ripgrep-cache-<version>/ before downloading
# from GitHub: put Debian's rg there, packed as the asset it expects. A private TMPDIR keeps this
# (and everything else the install writes to the temp dir) out of the shared /tmp.
export TMPDIR="$staging/tmp"
ripgrep_cache="$TMPDIR/vscode-ripgrep-cache-$vscode_ripgrep_version"
mkdir -p "$ripgrep_cache" "$staging/rg"
cp "$(command -v rg)" "$staging/rg/rg"
tar -czf "$ripgrep_cache/$ripgrep_asset" -C "$staging/rg" rg

# Native modules (node-pty, kerberos, ...) build against the installed Node's headers when they are
# there (Debian/NodeSource put them in /usr/include/node), instead of downloading them.
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_version.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

log "installing code-server $version into $install_dir (a few minutes with a cold npm cache)"
started="$(date +%s)"
# --unsafe-perm: code-server's postinstall refuses to run as root without it (CI runs as root).
# npm_config_yes=true: node-pty's `npx node-gyp` would otherwise ask, and cancel without a terminal.
# --foreground-scripts: the postinstall output shows in the log when something fails.
# From the staging folder, so that no project's .npmrc (e.g. this repository's) applies to this install.
(cd "$staging" && npm_config_yes=true npm install --unsafe-perm "code-server@$version" --foreground-scripts \
  --prefix "$staging/install" --no-save --no-audit --no-fund --loglevel=error >&2)

rm -rf "$install_dir"
mv "$staging/install" "$install_dir"
if ! is_working; then
  log "code-server $version was installed into $install_dir but does not run ('$code_server_bin --version')"
  exit 1
fi
log "installed code-server $version in $(($(date +%s) - started)) s"
printf '%s\n' "$install_dir"
