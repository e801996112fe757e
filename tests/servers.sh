#!/bin/sh
# The web-server tests (tests/servers/run.py): each shipped conf/ snippet
# run by the real lighttpd, nginx and apache2 (+ mod_fcgid), spawn-fcgi and
# systemd units. They need root (servers start as root and drop to
# www-data) and the servers installed: test.sh installs them. Anywhere
# else the suite is skipped (TAP's "1..0 # SKIP"), so that make check
# still runs. Usage: tests/servers.sh [ROUTE | ROUTE/CHECK | PREFIX* ...]
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP servers: needs root"
	exit 0
fi
for b in lighttpd nginx apache2 spawn-fcgi; do
	if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
		echo "1..0 # SKIP servers: $b is not installed (./test.sh installs it)"
		exit 0
	fi
done
exec python3 "$(dirname "$0")/servers/run.py" "$@"
