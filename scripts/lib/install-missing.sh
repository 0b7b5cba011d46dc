# shellcheck shell=bash
# Sourced by scripts/deps and scripts/deps-arm64.
# install_missing WHAT PACKAGE...: installs with apt-get those of the packages
# that are not installed yet; WHAT says what for in the message. PACKAGE:ARCH
# (a Debian multiarch twin) first adds ARCH as a foreign architecture. Root or
# sudo is needed only when something is missing.
install_missing() {
  local what=$1 p arch
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  echo "bitlab: installing missing packages${what:+ $what}: ${missing[*]}" >&2
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
      echo "bitlab: need root (or sudo) to install: ${missing[*]}" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  for arch in $(printf '%s\n' "${missing[@]}" | sed -n 's/^[^:]*:\(.*\)$/\1/p' | sort -u); do
    dpkg --print-foreign-architectures | grep -qx "$arch" || "${sudo[@]}" dpkg --add-architecture "$arch"
  done
  "${sudo[@]}" apt-get update -qq
  # --no-remove: never trade an installed package (a native library) for another (its arm64 twin).
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}" >/dev/null
}
