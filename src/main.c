/* main.c - options, hardening, and the choice between FastCGI and CGI. */
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cfg.h"
#include "front.h"
#include "log.h"
#include "srv.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define LISTEN_BACKLOG	4096	/* nginx answers 502 when a backlog is full */
#define SD_LISTEN_FDS_START 3

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sse-tail [--config FILE] [--check]\n"
	    "                [--listen ADDR [--socket-mode MODE] [--socket-group GROUP]]\n"
	    "       sse-tail --help | --version\n"
	    "\n"
	    "Streams log files and named pipes as Server-Sent Events, as a\n"
	    "FastCGI or CGI responder behind a web server.\n"
	    "\n"
	    "  -c, --config FILE          configuration (default $SSE_TAIL_CONFIG,\n"
	    "                             else %s/sse-tail.conf)\n"
	    "  -l, --listen ADDR          serve FastCGI on unix:/path, HOST:PORT or\n"
	    "                             [IPv6]:PORT; without it, the socket on\n"
	    "                             fd 0 (a spawner), LISTEN_FDS (systemd),\n"
	    "                             or CGI\n"
	    "  -m, --socket-mode MODE     octal permissions of the unix: socket\n"
	    "                             (default 0777 less the umask)\n"
	    "  -g, --socket-group GROUP   group of the unix: socket (default the\n"
	    "                             process's)\n"
	    "  -t, --check                check the configuration and exit\n"
	    "  -h, --help                 show this help\n"
	    "  -V, --version              show the version\n", SYSCONFDIR);
}

/* Debian's spawners leave no fd closed, but a careless one might: keep
 * 0-2 open, so that no socket or log file becomes someone's stderr. */
static void
keep_std_fds_open(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDWR) < 0)
			exit(2);
}

static int
is_listening_socket(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* systemd socket activation: LISTEN_PID is ours, the socket is fd 3. */
static int
systemd_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() ||
	    atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
	return SD_LISTEN_FDS_START;
}

/* Parses --socket-mode: octal, at most 0777. Returns it, or -1. */
static long
parse_mode(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '7')
		return -1;
	v = strtol(s, &end, 8);
	return *end != '\0' || v > 0777 ? -1 : v;
}

/* Parses --socket-group: a group name, else a number. Returns 0 and sets
 * *gid, or -1. Linked statically (configure --enable-static), a number
 * only: getgrnam would load the C library's NSS modules, of whatever
 * version the host has. */
static int
parse_group(const char *s, gid_t *gid)
{
#ifndef SSE_TAIL_STATIC
	struct group *gr;
#endif
	char *end;
	unsigned long v;

#ifndef SSE_TAIL_STATIC
	if ((gr = getgrnam(s)) != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
#endif
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || errno != 0 || v >= (gid_t)-1)
		return -1;
	*gid = (gid_t)v;
	return 0;
}

/* Creates the socket of --listen unix:PATH, with mode (-1: the umask's)
 * and group (-1: the process's), set before it listens, so that no one
 * else can connect meanwhile. Returns the fd, or -1 (logged). */
static int
listen_unix(const char *path, long mode, gid_t group)
{
	struct sockaddr_un sun;
	struct stat sb;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_msg("--listen unix:%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_msg("socket: %s", strerror(errno));
		return -1;
	}
	/* A socket left by a process that died is replaced; a live one is
	 * not taken over. */
	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			log_msg("--listen unix:%s: another process listens there",
			    path);
			close(fd);
			return -1;
		}
		unlink(path);
		close(fd);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			log_msg("socket: %s", strerror(errno));
			return -1;
		}
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		log_msg("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (mode >= 0 && chmod(path, (mode_t)mode) < 0) {
		log_msg("--socket-mode: chmod %s: %s", path, strerror(errno));
		goto err;
	}
	if (group != (gid_t)-1 && chown(path, (uid_t)-1, group) < 0) {
		log_msg("--socket-group: chown %s: %s", path, strerror(errno));
		goto err;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		log_msg("listen %s: %s", path, strerror(errno));
		goto err;
	}
	return fd;
err:
	unlink(path);
	close(fd);
	return -1;
}

static int
listen_inet(const char *addr)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t hlen;
	int fd, rc, on = 1;

	if (colon == NULL || colon[1] == '\0') {
		log_msg("--listen %s: expected unix:/path, HOST:PORT or [IPv6]:PORT",
		    addr);
		return -1;
	}
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h = addr + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(host)) {
		log_msg("--listen %s: host too long", addr);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
#ifdef SSE_TAIL_STATIC
	/* No resolver (NSS) in a static binary: numeric addresses only. */
	hints.ai_flags |= AI_NUMERICHOST;
#endif
	if ((rc = getaddrinfo(hlen ? host : NULL, colon + 1, &hints, &res)) != 0) {
		log_msg("--listen %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    res->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		log_msg("bind %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* REMOTE_USER is whatever the FastCGI peer says: allow-users means
 * something only when no one but the web server can connect. Warns when
 * the listening socket is TCP (any local user can connect) or a unix
 * socket that others may connect to. */
static void
warn_if_open(const struct cfg *cfg, int fd)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	socklen_t len = sizeof(ss);
	struct stat sb;
	size_t i;

	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].allow_users != NULL)
			break;
	if (i == cfg->nstreams)
		return;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		log_msg("getsockname: %s", strerror(errno));
		return;
	}
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		log_msg("warning: stream \"%s\" has allow-users, but sse-tail "
		    "listens on TCP: any local process may connect and set "
		    "REMOTE_USER; listen on a unix socket only the web server "
		    "can open", cfg->streams[i].name);
	else if (ss.ss_family == AF_UNIX &&
	    len > offsetof(struct sockaddr_un, sun_path) &&
	    (sun->sun_path[0] == '\0' ||
	    (stat(sun->sun_path, &sb) == 0 && (sb.st_mode & S_IWOTH))))
		log_msg("warning: stream \"%s\" has allow-users, but any local "
		    "process may connect to sse-tail's socket and set "
		    "REMOTE_USER; let only the web server open it "
		    "(--socket-mode, --socket-group)", cfg->streams[i].name);
}

/* The command line, once parsed. */
struct opts {
	const char *config;	/* never NULL once parsed */
	const char *listen_addr;	/* NULL: no --listen */
	const char *group_arg;	/* NULL: no --socket-group */
	long mode;		/* -1: no --socket-mode */
	gid_t group;		/* (gid_t)-1: no --socket-group */
	int check;		/* --check */
};

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, 'l' },
	{ "socket-mode", required_argument, NULL, 'm' },
	{ "socket-group", required_argument, NULL, 'g' },
	{ "check", no_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Reads the options into *o. Returns -1 to go on, else the exit status
 * (after --help, --version or a usage error, logged). */
static int
read_options(int argc, char **argv, struct opts *o)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "c:l:m:g:thV", longopts,
	    NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 'l':
			o->listen_addr = optarg;
			break;
		case 'm':
			if ((o->mode = parse_mode(optarg)) < 0) {
				log_msg("--socket-mode %s: not an octal mode of at "
				    "most 0777", optarg);
				return 2;
			}
			break;
		case 'g':
			o->group_arg = optarg;
			break;
		case 't':
			o->check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sse-tail %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Parses the command line into *o, checking the socket options and
 * defaulting the configuration file. Returns -1 to go on, else the exit
 * status (logged). */
static int
parse_options(int argc, char **argv, struct opts *o)
{
	int status;

	memset(o, 0, sizeof(*o));
	o->config = getenv("SSE_TAIL_CONFIG");
	o->mode = -1;
	o->group = (gid_t)-1;
	if ((status = read_options(argc, argv, o)) >= 0)
		return status;
	if ((o->mode >= 0 || o->group_arg != NULL) &&
	    (o->listen_addr == NULL ||
	    strncmp(o->listen_addr, "unix:", 5) != 0)) {
		log_msg("--socket-mode and --socket-group need --listen unix:PATH");
		return 2;
	}
	if (o->group_arg != NULL && parse_group(o->group_arg, &o->group) < 0) {
#ifdef SSE_TAIL_STATIC
		log_msg("--socket-group %s: not a number (this static build "
		    "does not look group names up)", o->group_arg);
#else
		log_msg("--socket-group %s: no such group", o->group_arg);
#endif
		return 2;
	}
	if (o->config == NULL || *o->config == '\0')
		o->config = SYSCONFDIR "/sse-tail.conf";
	return -1;
}

/* How we were started decides the protocol: sets *fd to the listening
 * socket of --listen, systemd or a spawner's fd 0, or to -1 for CGI, and
 * *unix_path to the socket to unlink at exit (or NULL). Returns 0, else
 * the exit status (logged). */
static int
open_listener(const struct opts *o, int *fd, const char **unix_path)
{
	*fd = -1;
	*unix_path = NULL;
	if (o->listen_addr != NULL) {
		if (strncmp(o->listen_addr, "unix:", 5) == 0) {
			*unix_path = o->listen_addr + 5;
			*fd = listen_unix(*unix_path, o->mode, o->group);
		} else
			*fd = listen_inet(o->listen_addr);
		return *fd < 0 ? 1 : 0;
	}
	if ((*fd = systemd_socket()) >= 0)
		return 0;
	if (!FCGX_IsCGI() && is_listening_socket(STDIN_FILENO)) {
		/* libfcgi's own test (fd 0 is a socket with no peer), as
		 * spawners expect, and it must listen. */
		*fd = STDIN_FILENO;
		return 0;
	}
	if (getenv("GATEWAY_INTERFACE") == NULL) {
		log_msg("not started by a web server: give --listen ADDR, pass "
		    "a listening socket on fd 0, or run as CGI");
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	const char *unix_path;
	struct req req;
	struct cfg cfg;
	struct srv *srv;
	char err[512];
	int listen_fd, status;

	/* No socket or log file may become someone's stderr. */
	keep_std_fds_open();
	if ((status = parse_options(argc, argv, &o)) >= 0)
		return status;
	if (cfg_load(&cfg, o.config, err, sizeof(err)) < 0) {
		log_msg("%s", err);
		return 1;
	}
	if (o.check) {
		cfg_free(&cfg);
		return 0;
	}
	if ((status = open_listener(&o, &listen_fd, &unix_path)) != 0) {
		cfg_free(&cfg);
		return status;
	}
	/* REMOTE_USER is only as good as the socket: say if it is open. */
	if (listen_fd >= 0)
		warn_if_open(&cfg, listen_fd);

	/* A gone client must be an error from write, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (listen_fd < 0)
		front_cgi_request(&cfg, &req);	/* before srv takes cfg */
	if ((srv = srv_new(o.config, &cfg)) == NULL)
		return 1;
	if (listen_fd < 0)
		status = srv_run_cgi(srv, &req);
	else
		status = srv_run(srv, listen_fd);
	srv_free(srv);
	if (unix_path != NULL)
		unlink(unix_path);
	return status;
}
