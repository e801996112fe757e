#!/bin/sh
# The web-server tests (tests/servers/run.py): each shipped conf/ snippet
# run by the real lighttpd, nginx and apache2 (+ mod_fcgid), spawn-fcgi and
# systemd units. They need root (servers start as root and drop to
# www-data) and the servers installed: test.sh installs them. Anywhere
# else the suite is skipped (exit 77), so that make check still runs.
if [ "$(id -u)" != 0 ]; then
	echo "servers: skipped, needs root"
	exit 77
fi
for b in lighttpd nginx apache2 spawn-fcgi; do
	if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
		echo "servers: skipped, $b is not installed (./test.sh installs it)"
		exit 77
	fi
done
exec python3 "$(dirname "$0")/servers/run.py" "$@"
