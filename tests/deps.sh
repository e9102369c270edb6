#!/bin/sh
# deps.sh PKG... — install the Debian packages wfdsl builds and tests with.
# As root, missing packages are installed with apt-get; otherwise the exact
# command is printed and the build stops.
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 || exit 1
else
    echo "missing packages; run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
