#!/bin/sh
# spawn-fcgi.sh - start sse-tail as a FastCGI daemon with spawn-fcgi, for
# nginx (nginx.conf) or Apache mod_proxy_fcgi (apache-proxy-fcgi.conf),
# where systemd socket activation (sse-tail.socket) is not used. Run it as
# root; stop the daemon with: kill "$(cat /run/sse-tail.pid)"
#
#   -s, -b        the socket the web server connects to, with a deep
#                 backlog (nginx answers 502 when the queue is full)
#   -M, -U, -G    only the web server's user may connect (www-data on Debian)
#   -u, -g        run sse-tail unprivileged; group adm may read /var/log
#                 on Debian: use a group that can read your streams' files
#   -P            where the pid goes
# Built from source, the paths are /usr/local/bin/sse-tail and
# /usr/local/etc/sse-tail.conf.
#   no -F or -C:  one process serves every stream, and it must stay one (a
#                 named pipe has exactly one reader; max-clients counts per
#                 process)
exec spawn-fcgi -s /run/sse-tail.sock -b 4096 -M 0660 -U www-data -G www-data \
	-u nobody -g adm -P /run/sse-tail.pid \
	-- /usr/bin/sse-tail --config /etc/sse-tail.conf
