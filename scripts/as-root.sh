# Sourced by the scripts that install Debian packages (setup-browser.sh, toolchains/c.sh).
#
# as_root CMD...: runs CMD as root, directly when we are, else through sudo; without either,
# says what to run and exits.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "error: installing Debian packages needs root: run \`$*\` as root, then this again" >&2
        exit 1
    fi
}
