"""The servers and peers of the benchmarks: sse-tail from the shipped
conf/ snippets and its peers behind one lighttpd or one nginx (Stack),
and the feeder of nginx's nchan."""

import hashlib
import os
import shutil
import sys

from benchlib import BENCH, Failed, TOP, can_connect, children, comm, free_port, wait_for



class Stack:
    """sse-tail and the peers behind one lighttpd or one nginx."""

    def __init__(self, env, sse_tail, streams, kind):
        self.env, self.kind = env, kind
        self.port = free_port()
        self.ws_port = free_port()
        self.frontail_port = free_port()
        self.streams = streams
        self.frontail = None
        self.write_sse_tail_conf(streams)
        self.write_shell_cgi()
        if kind == "lighttpd":
            self.start_lighttpd(sse_tail)
        else:
            self.start_nginx(sse_tail)
        self.websocketd = env.start(
            ["websocketd", "--port", str(self.ws_port), "--address",
             "127.0.0.1", env.path("ws-tail.sh")], "websocketd")
        wait_for(lambda: can_connect(self.port), 20, kind)
        wait_for(lambda: can_connect(self.ws_port), 20, "websocketd")

    def write_sse_tail_conf(self, streams):
        with open(self.env.path("sse-tail.conf"), "w") as f:
            f.write("heartbeat = 15\nmax-clients = 20000\n")
            for name, (path, backlog) in streams.items():
                f.write("[stream %s]\npath = %s\nbacklog = %d\n" %
                        (name, path, backlog))

    def write_shell_cgi(self):
        """The shell route and websocketd's command: tail the file named
        in the query (NAME.log[:START]) from byte START (1 by default).
        Debian's awk is mawk, which reads its input in blocks: without
        -W interactive the last lines stay in it until more come."""
        common = ('q=$QUERY_STRING; f=${q%%%%:*}\n'
                  'case $q in *:*) start=${q#*:} ;; *) start=1 ;; esac\n'
                  'case $f in *.log) ;; *) exit 1 ;; esac\n'
                  'case $f in */*) exit 1 ;; esac\n')
        with open(self.env.path("shell.cgi"), "w") as f:
            f.write('#!/bin/sh\n' + common.replace("%%", "%") +
                    "printf 'Content-Type: text/event-stream\\r\\n"
                    "Cache-Control: no-cache\\r\\n\\r\\n'\n"
                    'tail -c +$start -F "%s/$f" | '
                    "awk -W interactive '{ print \"data: \" $0 \"\\n\"; fflush() }'\n"
                    % self.env.dir)
        with open(self.env.path("ws-tail.sh"), "w") as f:
            f.write('#!/bin/sh\n' + common.replace("%%", "%") +
                    'exec tail -c +$start -F "%s/$f"\n' % self.env.dir)
        os.chmod(self.env.path("shell.cgi"), 0o755)
        os.chmod(self.env.path("ws-tail.sh"), 0o755)

    def start_lighttpd(self, sse_tail):
        e = self.env
        with open(os.path.join(TOP, "conf", "lighttpd-fastcgi.conf")) as f:
            snippet = f.read()
        for default, mine in (("/usr/bin/sse-tail", sse_tail),
                              ("/etc/sse-tail.conf", e.path("sse-tail.conf")),
                              ("/run/lighttpd/sse-tail.sock",
                               e.path("sse-tail.sock"))):
            if default not in snippet:
                raise Failed("conf/lighttpd-fastcgi.conf lacks " + default)
            snippet = snippet.replace(default, mine)
        with open(e.path("sse-tail-lighttpd.conf"), "w") as f:
            f.write(snippet)
        os.makedirs(e.path("www"), exist_ok=True)
        with open(e.path("lighttpd.conf"), "w") as f:
            f.write("""
server.bind          = "127.0.0.1"
server.port          = %(port)d
server.document-root = "%(dir)s/www"
server.pid-file      = "%(dir)s/lighttpd.pid"
server.errorlog      = "%(dir)s/lighttpd-error.log"
server.max-fds       = 16384
server.max-connections = 8000
server.modules += ( "mod_alias", "mod_cgi", "mod_proxy" )
include "%(dir)s/sse-tail-lighttpd.conf"
$HTTP["url"] =~ "^/ceiling" {
	fastcgi.server = ( "/ceiling" => ((
		"bin-path" => "%(bench)s/ceiling",
		"socket" => "%(dir)s/ceiling.sock",
		"check-local" => "disable", "max-procs" => 1 )))
	server.stream-response-body = 2
}
$HTTP["url"] =~ "^/floor" {
	fastcgi.server = ( "/floor" => ((
		"socket" => "%(dir)s/floor.sock", "check-local" => "disable" )))
	server.stream-response-body = 2
}
$HTTP["url"] =~ "^/shell" {
	alias.url = ( "/shell" => "%(dir)s/shell.cgi" )
	cgi.assign = ( "" => "" )
	server.stream-response-body = 2
}
$HTTP["url"] =~ "^/ws/" {
	proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => %(ws)d )))
	proxy.header = ( "upgrade" => "enable" )
	server.stream-response-body = 2
}
$HTTP["url"] =~ "^/socket.io/" {
	proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => %(ft)d )))
	proxy.header = ( "upgrade" => "enable" )
	server.stream-response-body = 2
}
""" % {"port": self.port, "dir": e.dir, "bench": BENCH,
                "ws": self.ws_port, "ft": self.frontail_port})
        self.server = e.start(["lighttpd", "-D", "-f", e.path("lighttpd.conf")],
                              "lighttpd")
        self.sse_tail_pid = None    # lighttpd spawns it: see backend_pid

    def start_nginx(self, sse_tail):
        e = self.env
        with open(os.path.join(TOP, "conf", "nginx.conf")) as f:
            snippet = f.read()
        if "/run/sse-tail.sock" not in snippet:
            raise Failed("conf/nginx.conf lacks /run/sse-tail.sock")
        with open(e.path("sse-tail-nginx.conf"), "w") as f:
            f.write(snippet.replace("/run/sse-tail.sock",
                                    e.path("sse-tail.sock")))
        shutil.copy("/etc/nginx/fastcgi_params", e.path("fastcgi_params"))
        os.makedirs(e.path("nginx-tmp"), exist_ok=True)
        with open(e.path("nginx.conf"), "w") as f:
            f.write("""
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
user root;      # the bench's sockets and files are root's
worker_processes 2;
worker_rlimit_nofile 20000;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log;
events { worker_connections 12000; }
http {
	access_log off;
	client_body_temp_path %(dir)s/nginx-tmp/body;
	proxy_temp_path %(dir)s/nginx-tmp/proxy;
	fastcgi_temp_path %(dir)s/nginx-tmp/fastcgi;
	uwsgi_temp_path %(dir)s/nginx-tmp/uwsgi;
	scgi_temp_path %(dir)s/nginx-tmp/scgi;
	server {
		listen 127.0.0.1:%(port)d reuseport backlog=4096;
		include %(dir)s/sse-tail-nginx.conf;
		location ~ ^/floor(/|$) {
			include fastcgi_params;
			fastcgi_pass unix:%(dir)s/floor.sock;
			fastcgi_buffering off;
			fastcgi_read_timeout 600s;
		}
		location = /nchan/sub {
			nchan_subscriber eventsource;
			nchan_channel_id bench;
			nchan_subscriber_first_message newest;
		}
		location = /nchan/pub {
			nchan_publisher;
			nchan_channel_id bench;
		}
		location /ws/ {
			proxy_pass http://127.0.0.1:%(ws)d;
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_buffering off;
			proxy_read_timeout 600s;
		}
		location /socket.io/ {
			proxy_pass http://127.0.0.1:%(ft)d;
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection "upgrade";
			proxy_buffering off;
			proxy_read_timeout 600s;
		}
	}
}
""" % {"port": self.port, "dir": e.dir, "ws": self.ws_port,
                "ft": self.frontail_port})
        self.sse_tail_bin = sse_tail
        self.sse_tail = None
        self.restart_sse_tail()
        self.server = e.start(["nginx", "-p", e.dir, "-c",
                               e.path("nginx.conf")], "nginx")

    def restart_sse_tail(self):
        """A fresh sse-tail --listen behind nginx: its RSS owes nothing to
        earlier rounds."""
        e = self.env
        if self.sse_tail is not None:
            e.stop(self.sse_tail)
        if os.path.exists(e.path("sse-tail.sock")):
            os.unlink(e.path("sse-tail.sock"))
        self.sse_tail = e.start([self.sse_tail_bin, "--config",
                                 e.path("sse-tail.conf"), "--listen",
                                 "unix:" + e.path("sse-tail.sock")],
                                "sse-tail")
        self.sse_tail_pid = self.sse_tail.pid
        wait_for(lambda: can_connect(e.path("sse-tail.sock")), 20,
                 "sse-tail to accept")

    def backend_pid(self):
        """sse-tail's pid (lighttpd spawns it on start)."""
        if self.sse_tail_pid:
            return self.sse_tail_pid
        return next((p for p in children(self.server.pid)
                     if comm(p) == "sse-tail"), None)

    def start_broadcaster(self, path):
        e = self.env
        sock = e.path("floor.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        p = e.start([os.path.join(BENCH, "broadcaster"), "--listen",
                     "unix:" + sock, "--file", path], "broadcaster")
        wait_for(lambda: os.path.exists(sock), 20, "the broadcaster's socket")
        return p

    def start_frontail(self, path, lines):
        """frontail on path, keeping `lines` lines; returns (process,
        socket.io namespace)."""
        e = self.env
        main = os.path.join(BENCH, "node_modules", "frontail", "index.js")
        p = e.start(["node", main, "--disable-usage-stats", "--host",
                     "127.0.0.1", "-p", str(self.frontail_port), "-n",
                     str(lines), "-l", str(max(lines, 1)), path], "frontail")
        wait_for(lambda: can_connect(self.frontail_port), 30, "frontail")
        return p, "/" + hashlib.md5(path.encode()).hexdigest()

    def url(self, target):
        return target

    def close(self):
        pass


def sio_args(ns):
    return ["-P", "sio", "-I", "-u", "/socket.io/?EIO=3&transport=websocket",
            "-N", ns]


def start_nchan_feed(env, st, path):
    return env.start([sys.executable, os.path.join(BENCH, "nchan-feed"),
                      path, "127.0.0.1", str(st.port), "/nchan/pub"],
                     "nchan-feed")
