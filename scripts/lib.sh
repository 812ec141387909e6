# Shared by scripts/run and scripts/test: find Python 3.11+, install Debian packages, keep .venv in sync.
# Sourced, not run.

apt_updated=0

# as_root CMD...: run CMD as root (directly, or through sudo).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# need_apt PKG...: install Debian packages that are not installed yet.
need_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing Debian packages: ${missing[*]}"
    if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# find_python: print a python3 that is 3.11 or newer.
find_python() {
    local candidate
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "Python 3.11 or newer is needed (apt-get install python3)" >&2
    return 1
}

# ensure_venv REQUIREMENTS_FILE: create .venv if needed and install the file when it changed.
ensure_venv() {
    local req=$1 python stamp
    python=$(find_python)
    if [ ! -x .venv/bin/python ]; then
        echo "==> creating .venv with $python"
        if ! "$python" -m venv .venv 2>/dev/null; then
            rm -rf .venv
            # Debian ships venv/ensurepip separately.
            need_apt "python3-venv" "$(basename "$python")-venv" 2>/dev/null || need_apt python3-venv
            "$python" -m venv .venv
        fi
    fi
    stamp=".venv/.installed-$(basename "$req")"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(cat requirements*.txt | sha256sum)" ]; then
        echo "==> installing $req into .venv"
        .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req"
        cat requirements*.txt | sha256sum >"$stamp"
    fi
}
