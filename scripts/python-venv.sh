# Sourced by the scripts that make a Python virtual environment (toolchains/python.sh,
# setup-cluster.sh).
#
# find_python WHO WHAT: sets $python to a python3 of 3.10 or newer that has its `venv` module
# (installing Debian's python3-venv with apt-get, as root, if the module is missing). WHO
# prefixes its messages (on stderr), WHAT names what needs that Python. Exits with a message
# saying what to install otherwise.
find_python() {
    local who=$1 what=$2
    python=$(command -v python3 || true)
    if [ -z "$python" ]; then
        echo "error: python3 not found: install Python 3.10 or newer (Debian: apt-get install python3 python3-venv)" >&2
        exit 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        echo "error: $python is $("$python" --version 2>&1); $what needs Python 3.10 or newer" >&2
        exit 1
    fi
    if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            echo "$who: installing python3-venv with apt-get" >&2
            apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
        else
            echo "error: $python has no venv module: install it (Debian: apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
}
