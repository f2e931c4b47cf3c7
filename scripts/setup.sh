# shellcheck shell=bash
# Installs what Courier's commands need, and only what is missing. Sourced by
# scripts/run, scripts/test and scripts/bench; safe to run any number of times.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAURI_CLI_VERSION="2.12.5"       # keep in step with package.json
TAURI_DRIVER_VERSION="2.1.0"

APT_PACKAGES=(
  # Tauri v2 on Linux (WebKitGTK 4.1)
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
  libssl-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libxdo-dev
  build-essential pkg-config file patchelf curl
  # headless window, screenshots, WebDriver
  xvfb xauth x11-utils imagemagick webkit2gtk-driver
  # the real keychain in tests: Secret Service on a private D-Bus
  gnome-keyring libsecret-tools dbus dbus-x11
)

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install sudo or run as root)"; fi
}

ensure_apt() {
  command -v dpkg-query >/dev/null || { log "not Debian/Ubuntu: install the packages in README by hand"; return; }
  local missing=()
  for p in "${APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing apt packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null; then
    log "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null && rustup component add rustfmt clippy
  fi
}

ensure_node() {
  if ! command -v npm >/dev/null; then
    ensure_apt nodejs npm
  fi
}

# The Tauri CLI: `cargo tauri` if the developer has it, else npm's prebuilt
# @tauri-apps/cli (seconds, against ~15 minutes for `cargo install tauri-cli`).
ensure_tauri_cli() {
  if cargo tauri --version >/dev/null 2>&1; then
    TAURI=(cargo tauri)
    return
  fi
  ensure_node
  if [ "$("$ROOT/node_modules/.bin/tauri" --version 2>/dev/null)" != "tauri-cli $TAURI_CLI_VERSION" ]; then
    log "installing @tauri-apps/cli $TAURI_CLI_VERSION (npm)"
    # `npm install`, not `npm ci`: npm writes only this platform's optional
    # CLI binary into the lock file, and `npm ci` then refuses it.
    (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error)
  fi
  TAURI=("$ROOT/node_modules/.bin/tauri")
}

ensure_tauri_driver() {
  # tauri-driver has no --version; cargo's install list knows what is there.
  if ! cargo install --list 2>/dev/null | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
    log "installing tauri-driver $TAURI_DRIVER_VERSION (cargo)"
    cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked --quiet
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
}

ensure_convex_npm() {
  ensure_node
  if [ -f "$ROOT/convex/package-lock.json" ] && [ ! -d "$ROOT/convex/node_modules" ]; then
    log "installing convex/ npm packages"
    (cd "$ROOT/convex" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Starts Xvfb on a free display when there is none; sets DISPLAY.
XVFB_PID=""
ensure_display() {
  if [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then return; fi
  local n
  for n in $(seq 90 140); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || break
  done
  Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  XVFB_PID=$!
  export DISPLAY=":$n"
  for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
  xdpyinfo >/dev/null 2>&1 || die "Xvfb did not start on $DISPLAY"
  log "no display: started Xvfb on $DISPLAY"
}

# Seconds since an epoch stamp, for the stage timings.
STAGE_TIMES=()
stage() {
  local name="$1"; shift
  local start=$SECONDS
  log "stage: $name"
  "$@"
  local took=$((SECONDS - start))
  STAGE_TIMES+=("$(printf '%-28s %5ss' "$name" "$took")")
}
print_stage_times() {
  log "time by stage"
  printf '  %s\n' "${STAGE_TIMES[@]}" >&2
}

# Runs a command inside a private D-Bus session with an unlocked
# gnome-keyring (the real Secret Service), and a display for the window.
in_keychain() {
  local data cache rc=0
  data="$(mktemp -d)"; cache="$(mktemp -d)"
  XDG_DATA_HOME="$data" XDG_CACHE_HOME="$cache" dbus-run-session -- bash -c '
    printf %s courier-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec "$@"' in_keychain "$@" || rc=$?
  # WebKit may have started the document portal, which mounts a FUSE folder
  # `doc` in the runtime dir (the cache dir when XDG_RUNTIME_DIR is unset);
  # unmount it before cleaning up, and never fail on the clean-up.
  local dir
  for dir in "$data/doc" "$cache/doc"; do
    fusermount -uz "$dir" 2>/dev/null || fusermount3 -uz "$dir" 2>/dev/null || true
  done
  rm -rf "$data" "$cache" 2>/dev/null || true
  return $rc
}
