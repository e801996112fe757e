// lib.js - sets up lighttpd running sse-tail from conf/lighttpd-fastcgi.conf
// (only paths replaced, like demo.sh) on a free port of 127.0.0.1, nginx
// from conf/nginx.conf and conf/nginx-h2.conf (HTTP/1.1 and HTTP/2), and a
// headless Chromium (the Debian package, never a downloaded browser).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const { spawn, execFileSync } = require('child_process');

const top = path.resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROME_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

// streams: { name: { event: 'x', conf: 'more = lines\n' } }; each gets an
// empty file dir/NAME.log. '@PORT@' in globals and conf is lighttpd's port.
// Files put in dir/www are served at /NAME.
async function startServer(streams, globals) {
  const bin = process.env.SSE_TAIL || path.join(top, 'src', 'sse-tail');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-tail-browser.'));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'www'));
  const port = await freePort();
  let conf = 'heartbeat = 15\nretry = 200\n' + (globals || '');
  const files = {};
  for (const [name, opt] of Object.entries(streams)) {
    files[name] = path.join(dir, name + '.log');
    fs.writeFileSync(files[name], '');
    fs.chmodSync(files[name], 0o644);
    conf += `[stream ${name}]\npath = ${files[name]}\n`;
    if (opt && opt.event) conf += `event = ${opt.event}\n`;
    if (opt && opt.conf) conf += opt.conf;
  }
  fs.writeFileSync(path.join(dir, 'sse-tail.conf'), conf.split('@PORT@').join(String(port)));
  // The shipped snippet, with only the paths filled in.
  const snippet = fs.readFileSync(path.join(top, 'conf', 'lighttpd-fastcgi.conf'), 'utf8')
    .split('/usr/bin/sse-tail').join(bin)
    .split('/etc/sse-tail.conf').join(path.join(dir, 'sse-tail.conf'))
    .split('/run/lighttpd/sse-tail.sock').join(path.join(dir, 'sse-tail.sock'));
  fs.writeFileSync(path.join(dir, 'sse-tail-lighttpd.conf'), snippet);
  fs.writeFileSync(path.join(dir, 'lighttpd.conf'), [
    'server.modules       += ( "mod_accesslog" )',
    `accesslog.filename   = "${dir}/access.log"`,
    'mimetype.assign      = ( ".html" => "text/html; charset=utf-8" )',
    'server.bind          = "127.0.0.1"',
    `server.port          = ${port}`,
    `server.document-root = "${dir}/www"`,
    `server.pid-file      = "${dir}/lighttpd.pid"`,
    `server.errorlog      = "${dir}/error.log"`,
    `include "${dir}/sse-tail-lighttpd.conf"`, ''].join('\n'));
  const proc = spawn('lighttpd', ['-D', '-f', path.join(dir, 'lighttpd.conf')],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  proc.on('exit', () => { exited = true; });
  for (let i = 0; i < 200 && !(await portOpen(port)); i++) {
    if (exited) throw new Error('lighttpd did not start: ' + readLog(dir));
    await sleep(25);
  }
  const base = `http://127.0.0.1:${port}/events`;
  return {
    dir, port, base, files, proc,
    append(name, text) { fs.appendFileSync(files[name], text); },
    // sse-tail processes that lighttpd started (its children).
    backends() {
      try {
        return execFileSync('ps', ['-o', 'pid=', '--ppid', String(proc.pid)], { encoding: 'utf8' })
          .split('\n').map((s) => parseInt(s, 10)).filter((n) => n > 0);
      } catch (e) { return []; }
    },
    errorLog() { return readLog(dir); },
    accessLog() { return readLog(dir, 'access.log'); },
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 100 && !exited; i++) await sleep(20);
        if (!exited) proc.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readLog(dir, name) {
  try { return fs.readFileSync(path.join(dir, name || 'error.log'), 'utf8'); } catch (e) { return ''; }
}

// nginx from conf/nginx.conf and conf/nginx-h2.conf (only paths, the
// certificate and the port replaced) in front of sse-tail --listen: plain
// HTTP/1.1 on port, HTTP/2 over TLS on tlsPort, with a certificate made
// here. streams: names; each gets an empty file dir/NAME.log. Files put in
// dir/www are served at /NAME on both ports.
async function startNginx(streams) {
  for (const [exe, pkg] of [['/usr/sbin/nginx', 'nginx-light'], ['/usr/bin/openssl', 'openssl']]) {
    if (!fs.existsSync(exe)) throw new Error(`${exe} is not installed (apt-get install ${pkg})`);
  }
  const bin = process.env.SSE_TAIL || path.join(top, 'src', 'sse-tail');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-tail-browser-nginx.'));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'www'));
  fs.mkdirSync(path.join(dir, 'tmp'));
  const [port, tlsPort] = [await freePort(), await freePort()];
  let conf = 'heartbeat = 15\nretry = 200\n';
  const files = {};
  for (const name of streams) {
    files[name] = path.join(dir, name + '.log');
    fs.writeFileSync(files[name], '');
    fs.chmodSync(files[name], 0o644);
    conf += `[stream ${name}]\npath = ${files[name]}\n`;
  }
  fs.writeFileSync(path.join(dir, 'sse-tail.conf'), conf);
  const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const sock = path.join(dir, 'sse-tail.sock');
  const daemon = spawn(bin, ['--config', path.join(dir, 'sse-tail.conf'), '--listen', 'unix:' + sock],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'sse-tail.log'), 'a')] });
  daemon.on('error', () => {});
  let procs = [daemon];
  const stop = async () => {
    for (const p of procs) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGTERM');
      for (let i = 0; i < 100 && p.exitCode === null && p.signalCode === null; i++) await sleep(20);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await sleep(25);
    if (!fs.existsSync(sock)) throw new Error('sse-tail --listen made no socket: ' + readLog(dir, 'sse-tail.log'));
    // nginx's workers run as www-data.
    fs.chmodSync(sock, 0o666);
    const snippet = fs.readFileSync(path.join(top, 'conf', 'nginx.conf'), 'utf8')
      .split('/run/sse-tail.sock').join(sock);
    const h2 = fs.readFileSync(path.join(top, 'conf', 'nginx-h2.conf'), 'utf8')
      .replace(/^listen 443 /m, `listen 127.0.0.1:${tlsPort} `)
      .split('/etc/ssl/certs/ssl-cert-snakeoil.pem').join(cert)
      .split('/etc/ssl/private/ssl-cert-snakeoil.key').join(key);
    if (!h2.includes(`127.0.0.1:${tlsPort}`)) throw new Error('nginx-h2.conf: no "listen 443 " line');
    fs.writeFileSync(path.join(dir, 'sse-tail-nginx.conf'), snippet);
    fs.writeFileSync(path.join(dir, 'sse-tail-h2.conf'), h2);
    fs.copyFileSync('/etc/nginx/fastcgi_params', path.join(dir, 'fastcgi_params'));
    fs.writeFileSync(path.join(dir, 'nginx.conf'), [
      'user www-data;', 'worker_processes 1;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log info;`,
      'events { worker_connections 768; }', 'http {', '  include /etc/nginx/mime.types;',
      `  access_log ${dir}/access.log;`, `  client_body_temp_path ${dir}/tmp/body;`,
      `  fastcgi_temp_path ${dir}/tmp/fastcgi;`, '  server {', `    listen 127.0.0.1:${port};`,
      `    root ${dir}/www;`, `    include ${dir}/sse-tail-h2.conf;`, `    include ${dir}/sse-tail-nginx.conf;`,
      '  }', '}', ''].join('\n'));
    const nginx = spawn('/usr/sbin/nginx', ['-p', dir + '/', '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log'),
      '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
    procs = [nginx, daemon];
    for (let i = 0; i < 200 && !((await portOpen(port)) && (await portOpen(tlsPort))); i++) {
      if (nginx.exitCode !== null) throw new Error('nginx did not start: ' + readLog(dir));
      await sleep(25);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    dir, port, tlsPort, files, stop,
    append(name, text) { fs.appendFileSync(files[name], text); },
    errorLog() { return readLog(dir); },
  };
}

// extraArgs: more Chromium switches.
async function startBrowser(extraArgs) {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-tail-chromium.'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROME_ARGS.concat(extraArgs || []),
    viewport: { width: 1100, height: 700 }, acceptDownloads: true,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

module.exports = { top, sleep, startServer, startNginx, startBrowser };
