#!/usr/bin/env bash
# Idempotent setup: installs only what is missing.
#   - system packages the tests need (Debian/Ubuntu with apt, as root or via sudo):
#       a Vulkan driver new enough for Dawn (Mesa >= 24 lavapipe; Debian 12 gets it from
#       bookworm-backports) and Debian's chromium for the browser tests;
#   - pnpm (the version pinned in package.json's packageManager);
#   - the workspace dependencies (pnpm install).
# Where apt is unavailable (e.g. macOS) it prints what is missing instead of failing.
set -euo pipefail

cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# ---------------------------------------------------------------- system packages
MIN_MESA=24 # Dawn needs Vulkan 1.1+ features that Debian 12's Mesa 22 lavapipe lacks.

pkg_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '/install ok installed/ {print $4}'; }

mesa_ok() {
  local v
  v=$(pkg_version mesa-vulkan-drivers)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge "$MIN_MESA" && [ -n "$(pkg_version libvulkan1)" ]
}
chromium_ok() { command -v chromium >/dev/null 2>&1; }

# Adds "<codename>-backports" by copying this machine's own Debian source entry with only the
# suite changed, so the mirror configured here is the one used (no host name lives in this repo).
add_backports() {
  local codename="$1" target
  if grep -rqsE "(^|[[:space:]])${codename}-backports([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    target=/etc/apt/sources.list.d/pythiajs-backports.sources
    # deb822: take the first stanza whose Suites lists the release itself (not -security),
    # and rewrite its Suites line.
    awk -v cn="$codename" '
      BEGIN { RS=""; ORS="\n\n" }
      {
        if (done) next
        n = split($0, lines, "\n"); hit = 0
        for (i = 1; i <= n; i++) if (lines[i] ~ "^Suites:" && (" " lines[i] " ") ~ (" " cn " ")) hit = 1
        if (!hit) next
        out = ""
        for (i = 1; i <= n; i++) {
          if (lines[i] ~ /^#/) continue
          if (lines[i] ~ /^Suites:/) lines[i] = "Suites: " cn "-backports"
          out = out lines[i] "\n"
        }
        printf "%s", out; done = 1
      }' /etc/apt/sources.list.d/debian.sources | $SUDO tee "$target.tmp" >/dev/null
    if ! grep -q "^Suites: ${codename}-backports" "$target.tmp"; then
      $SUDO rm -f "$target.tmp"; log "could not derive a backports entry from debian.sources"; return 1
    fi
    $SUDO mv "$target.tmp" "$target"
  elif [ -f /etc/apt/sources.list ]; then
    target=/etc/apt/sources.list.d/pythiajs-backports.list
    local line
    line=$(grep -E "^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+${codename}[[:space:]]" /etc/apt/sources.list | head -n 1 || true)
    [ -n "$line" ] || { log "no '${codename}' entry in /etc/apt/sources.list to copy"; return 1; }
    echo "$line" | sed -E "s/[[:space:]]${codename}[[:space:]]/ ${codename}-backports /" | $SUDO tee "$target" >/dev/null
  else
    log "no apt source file found"; return 1
  fi
  log "added ${codename}-backports ($target)"
}

install_system_packages() {
  if mesa_ok && chromium_ok; then return 0; fi
  if ! command -v apt-get >/dev/null 2>&1; then
    mesa_ok || log "MISSING: a Vulkan driver for WebGPU in Node (Mesa >= $MIN_MESA lavapipe, or a GPU driver). Install it with your package manager."
    chromium_ok || log "MISSING: chromium (for the browser tests). Install it and make it available as 'chromium' on PATH."
    return 0
  fi
  if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
    log "MISSING system packages and no root/sudo to install them: mesa-vulkan-drivers libvulkan1 (>= $MIN_MESA) chromium"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  local codename="" id=""
  # shellcheck disable=SC1091
  . /etc/os-release && codename="${VERSION_CODENAME:-}" && id="${ID:-}"
  $SUDO apt-get update -qq
  if ! mesa_ok; then
    local v
    v=$(apt-cache policy mesa-vulkan-drivers | awk '/Candidate:/ {print $2}')
    if [ "$id" = debian ] && { [ -z "$v" ] || ! dpkg --compare-versions "$v" ge "$MIN_MESA"; }; then
      add_backports "$codename"
      $SUDO apt-get update -qq
      $SUDO apt-get install -y -qq -t "${codename}-backports" --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
    else
      $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
    fi
  fi
  if ! chromium_ok; then
    $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
  fi
  mesa_ok || log "WARNING: Mesa >= $MIN_MESA could not be installed; WebGPU tests in Node will fail."
}

install_system_packages

# ---------------------------------------------------------------- pnpm + workspace
PNPM_SPEC=$(node -p "require('./package.json').packageManager")
PNPM_VERSION=${PNPM_SPEC#pnpm@}
PNPM_VERSION=${PNPM_VERSION%%+*}
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  log "installing pnpm $PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION"
fi

# Playwright and friends must never fetch their own browsers: the tests use the system chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
if [ -n "${CI:-}" ]; then
  pnpm install --frozen-lockfile --reporter=silent
else
  pnpm install --reporter=silent
fi
log "ready"
