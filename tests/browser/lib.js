// lib.js - sets up lighttpd running sse-tail from conf/lighttpd-fastcgi.conf
// (only paths replaced, like demo.sh) on a free port of 127.0.0.1, and a
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

async function startBrowser() {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-tail-chromium.'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROME_ARGS,
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

module.exports = { top, sleep, startServer, startBrowser };
