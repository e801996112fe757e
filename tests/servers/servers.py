"""The web servers, each started from a minimal configuration of its own in
a test directory around one shipped snippet: 127.0.0.1 and a free port,
pid file, error log, document root, the module loads Debian's stock
configuration would provide, workers as www-data. Stopped by pid."""

import os
import shutil

import harness as h

APACHE_MODULES = "/usr/lib/apache2/modules"


class Server:
    name = "?"
    binary = "?"
    package = "?"

    # TLS snippets: the pattern whose group 1 is the port to replace, and
    # what replaces it (given the port).
    tls_listen = None
    tls_value = "%d"

    def __init__(self, d, snippet_text, extra="", tls=None):
        self.d = d
        self.snippet = snippet_text
        self.extra = extra
        self.port = h.free_port()
        # tls: a TLS snippet of conf/ (HTTP/2), included beside the plain
        # port on a port of its own.
        self.tls = tls
        self.tls_port = h.free_port() if tls else None
        self.proc = None
        self.error_log = d.p(self.name + "-error.log")
        # lighttpd opens it after dropping privileges, as Debian's
        # /var/log/lighttpd belongs to www-data.
        open(self.error_log, "ab").close()
        os.chown(self.error_log, *h.worker_ids())
        d.logs.append(self.error_log)

    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def write_tls(self):
        """d/sse-tail-tls.conf: the TLS snippet with the test's certificate
        and port; "" when there is none, else the line that includes it."""
        if not self.tls:
            return ""
        h.make_cert(self.d)
        text = h.fill_paths(h.snippet(self.tls), self.d, self.tls)
        text = h.set_value(text, self.tls_listen,
                           self.tls_value % self.tls_port, self.tls)
        return self.d.write("sse-tail-tls.conf", text)

    def argv(self):
        raise NotImplementedError

    def start(self):
        h.require(self.binary, self.package)
        self.write_config()
        self.proc = h.Proc(self.argv(), self.d.p(self.name + "-stdout.log"),
                           name=self.name)
        self.d.logs.append(self.proc.log)
        h.wait_until(lambda: h.can_connect(self.port) or not self.proc.alive(),
                     10, "%s listening on port %d" % (self.name, self.port))
        h.check(self.proc.alive(), "%s exited at start: %s" % (
            self.name, " | ".join(h.tail_logs(self.d.logs, 8))))
        if self.tls_port:
            h.wait_until(lambda: h.can_connect(self.tls_port) or
                         not self.proc.alive(), 10, "%s listening on port %d"
                         % (self.name, self.tls_port))
        return self

    def stop(self):
        if self.proc is not None:
            # Apache takes over a second to stop: wait for the pid.
            self.proc.stop(timeout=15)


class Lighttpd(Server):
    name = "lighttpd"
    binary = "/usr/sbin/lighttpd"
    package = "lighttpd"

    def write_config(self):
        d = self.d
        d.write("sse-tail-snippet.conf", self.snippet)
        d.write("lighttpd.conf", """\
# As Debian's lighttpd.conf, reduced to what a test needs.
server.modules = (
	"mod_indexfile",
	"mod_access",
	"mod_alias",
	"mod_redirect",
)
server.document-root = "{root}"
server.errorlog      = "{err}"
server.pid-file      = "{dir}/lighttpd.pid"
server.username      = "www-data"
server.groupname     = "www-data"
server.bind          = "127.0.0.1"
server.port          = {port}
server.feature-flags += ("server.graceful-shutdown-timeout" => 1)
index-file.names     = ( "index.html" )
mimetype.assign      = ( ".html" => "text/html", ".txt" => "text/plain" )
include "{dir}/sse-tail-snippet.conf"
{extra}
server.modules += (
	"mod_dirlisting",
	"mod_staticfile",
)
""".format(root=d.p("htdocs"), err=self.error_log, dir=d.path,
           port=self.port, extra=self.extra))

    def argv(self):
        return [self.binary, "-D", "-f", self.d.p("lighttpd.conf")]


class Nginx(Server):
    name = "nginx"
    binary = "/usr/sbin/nginx"
    package = "nginx-light"
    tls_listen = r"^\s*listen\s+(443)\b"
    tls_value = "127.0.0.1:%d"

    def write_config(self):
        d = self.d
        tls = self.write_tls()
        # "include fastcgi_params" is relative to the configuration's
        # directory, as /etc/nginx is on Debian.
        shutil.copy("/etc/nginx/fastcgi_params", d.p("fastcgi_params"))
        os.makedirs(d.p("nginx-tmp"), exist_ok=True)
        d.write("sse-tail-snippet.conf", self.snippet)
        d.write("nginx.conf", """\
# As Debian's nginx.conf, reduced to what a test needs.
user www-data;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {err} info;
events {{
	worker_connections 768;
}}
http {{
	sendfile on;
	tcp_nopush on;
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log {dir}/nginx-access.log;
	client_body_temp_path {dir}/nginx-tmp/body;
	fastcgi_temp_path {dir}/nginx-tmp/fastcgi;
	gzip on;
	{extra}
	server {{
		listen 127.0.0.1:{port};
		root {root};
		{tls}
		include {dir}/sse-tail-snippet.conf;
	}}
}}
""".format(dir=d.path, err=self.error_log, port=self.port,
           root=d.p("htdocs"), extra=self.extra,
           tls="include %s;" % tls if tls else ""))

    def argv(self):
        return [self.binary, "-p", self.d.path + "/", "-c",
                self.d.p("nginx.conf"), "-e", self.error_log,
                "-g", "daemon off;"]


class Apache(Server):
    name = "apache"
    binary = "/usr/sbin/apache2"
    package = "apache2"
    tls_listen = r"<VirtualHost\s+\*:(443)>"

    def __init__(self, d, snippet_text, extra="", mpm="event", loglevel="warn",
                 tls=None):
        Server.__init__(self, d, snippet_text, extra, tls)
        self.mpm = mpm
        self.loglevel = loglevel

    def write_config(self):
        d = self.d
        os.makedirs(d.p("apache-run"), exist_ok=True)
        d.write("sse-tail-snippet.conf", self.snippet)
        tls = self.write_tls()
        if tls:
            # What Debian's ports.conf says once mod_ssl is enabled.
            tls = "Listen 127.0.0.1:%d\nInclude %s\n" % (self.tls_port, tls)
        # Debian enables these modules by default (a2query -m).
        mods = ["mpm_" + self.mpm, "authz_core", "authz_host", "authz_user",
                "authn_core", "access_compat", "alias", "dir", "env",
                "filter", "deflate", "mime", "negotiation", "reqtimeout",
                "setenvif"]
        loads = "\n".join("LoadModule %s_module %s/mod_%s.so"
                          % (m, APACHE_MODULES, m) for m in mods)
        d.write("apache.conf", """\
# As Debian's apache2.conf with its default modules, reduced to what a
# test needs.
ServerRoot {dir}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
DefaultRuntimeDir {dir}/apache-run
PidFile {dir}/apache.pid
ErrorLog {err}
LogLevel {loglevel}
User www-data
Group www-data
Timeout 300
KeepAlive On
KeepAliveTimeout 5
{loads}
TypesConfig /etc/mime.types
AddOutputFilterByType DEFLATE text/html text/plain text/xml text/css text/javascript
AddOutputFilterByType DEFLATE application/javascript application/json
DocumentRoot {root}
<Directory />
	Options FollowSymLinks
	AllowOverride None
	Require all denied
</Directory>
<Directory {root}>
	Require all granted
</Directory>
LogFormat "%h %l %u %t \\"%r\\" %>s %O" common
CustomLog {dir}/apache-access.log common

Include {dir}/sse-tail-snippet.conf
{tls}
# Where a stock Debian install keeps these, /var/lib/apache2 and /run.
<IfModule cgid_module>
	ScriptSock {dir}/apache-run/cgisock
</IfModule>
<IfModule fcgid_module>
	FcgidIPCDir {dir}/apache-run/fcgid
	FcgidProcessTableFile {dir}/apache-run/fcgid-shm
</IfModule>
{extra}
""".format(dir=d.path, port=self.port, err=self.error_log, loads=loads,
           root=d.p("htdocs"), loglevel=self.loglevel, extra=self.extra,
           tls=tls))

    def argv(self):
        return [self.binary, "-f", self.d.p("apache.conf"), "-DFOREGROUND"]


class SharedApache(Apache):
    """Apache as a shared host runs it: mod_cgid (mod_cgi under prefork)
    loaded by the host, a document root whose .htaccess files may use only
    what AllowOverride grants, and nothing of sse-tail in the server's
    configuration. The snippet (conf/htaccess) is the user's upload,
    htdocs/events/.htaccess, beside a copy of the binary,
    htdocs/events/sse-tail.cgi; the configuration is d/sse-tail.conf,
    outside the document root, as ~/sse-tail.conf would be."""

    # What the test's host grants, exactly: the README's "Shared hosting".
    ALLOW_OVERRIDE = "FileInfo AuthConfig Limit Options=ExecCGI,Indexes"
    UPLOAD_DIR = "events"
    PROGRAM = "sse-tail.cgi"

    def __init__(self, d, snippet_text, extra="", mpm="event", loglevel="warn"):
        Apache.__init__(self, d, "", extra, mpm, loglevel)
        self.htaccess = snippet_text

    def upload_dir(self):
        return self.d.p("htdocs", self.UPLOAD_DIR)

    def write_config(self):
        up = self.upload_dir()
        os.makedirs(up, exist_ok=True)
        os.chmod(up, 0o755)
        shutil.copy(h.BIN, os.path.join(up, self.PROGRAM))
        os.chmod(os.path.join(up, self.PROGRAM), 0o755)
        with open(os.path.join(up, ".htaccess"), "w") as f:
            f.write(self.htaccess)
        os.chmod(os.path.join(up, ".htaccess"), 0o644)
        cgi = "cgi" if self.mpm == "prefork" else "cgid"
        # The host's part, which the user cannot change.
        self.snippet = """\
LoadModule {cgi}_module {mods}/mod_{cgi}.so
<Directory {root}>
	Options SymLinksIfOwnerMatch
	AllowOverride {allow}
	AllowOverrideList None
</Directory>
# As Debian's apache2.conf: .htaccess and .htpasswd are never served.
<FilesMatch "^\\.ht">
	Require all denied
</FilesMatch>
""".format(cgi=cgi, mods=APACHE_MODULES, root=self.d.p("htdocs"),
           allow=self.ALLOW_OVERRIDE)
        Apache.write_config(self)
