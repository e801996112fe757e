// run.js - tests of sse-tail's viewer page in headless Chromium, through
// lighttpd. Speaks TAP (automake's tap-driver.sh reads one result a test):
// "ok N - NAME" or "not ok N - NAME" with the reason as "#" lines, the plan
// "1..N" after the last, then the plain line "N passed, N failed"; exit 1
// on any failure.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { sleep, startServer, startNginx, startBrowser } = require('./lib');

const OUT = process.env.BROWSER_OUT || path.join(__dirname, 'out');
let passed = 0, failed = 0, numbered = 0;
// TAP: what a test tells goes out as comments.
const note = (text) => console.log(String(text).replace(/^/gm, '# '));
const only = process.argv.slice(2);

function check(cond, msg) { if (!cond) throw new Error(msg); }
function eq(a, b, msg) {
  const ja = String(JSON.stringify(a)), jb = String(JSON.stringify(b));
  if (ja !== jb) throw new Error(`${msg}: got ${ja.slice(0, 400)}, want ${jb.slice(0, 400)}`);
}
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(10);
  }
}

const lines = (page) => page.evaluate(() => window.sseTail.lines());
const visible = (page) => page.evaluate(() =>
  [...document.querySelectorAll('#log > .k > div:not(.sep)')].filter((e) => e.className !== 'h').map((e) => e.textContent));
const state = (page) => page.evaluate(() => window.sseTail.state());
// Lines and separators ({sep: 'rotated'}, {sep: 'gap'}...) in display order.
const rows = (page) => page.evaluate(() => window.sseTail.rows());

// The TAG of an id: FNV-1a 32 of the file's first min(OFFSET, 4096) bytes.
function idOf(content, off) {
  const b = Buffer.from(content);
  let h = 0x811c9dc5;
  for (let i = 0; i < Math.min(off, 4096); i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return off + '.' + h.toString(16).padStart(8, '0');
}

async function openViewer(ctx, url) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { page.jsErrors = (page.jsErrors || []).concat(String(e)); });
  const r = await page.goto(url);
  eq(r.status(), 200, 'status of ' + url);
  await until(async () => (await state(page)).state === 'live', 5000, 'the page to be live');
  return page;
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const srv = await startServer({
    log: {}, ev: { event: 'line' }, big: {}, restart: {}, rot: {}, rotcut: {}, rotcut2: {},
    // Read cross-origin from a page on http://localhost:PORT.
    cors: { conf: 'allow-origin = http://localhost:@PORT@\n' },
    elsewhere: { conf: 'allow-origin = http://dash.invalid\n' },
  });
  const br = await startBrowser();
  const ctx = br.context;
  const tests = [];
  const test = (name, fn) => tests.push([name, fn]);

  test('index_lists_streams_and_links_open_viewers', async () => {
    const page = await ctx.newPage();
    await page.goto(srv.base);
    const names = await page.$$eval('a', (as) => as.map((a) => a.textContent));
    for (const n of ['log', 'ev', 'big', 'restart']) check(names.includes(n), 'index lacks ' + n + ': ' + names);
    await Promise.all([page.waitForNavigation(), page.click('a:text-is("log")')]);
    await until(async () => (await state(page)).state === 'live', 5000, 'viewer from index');
    check((await page.title()).includes('log'), 'title ' + (await page.title()));
    await Promise.all([page.waitForNavigation(), page.click('#bar h1 a')]);
    eq(new URL(page.url()).pathname, '/events', 'the viewer links back to the index');
    await page.close();
  });

  let page;
  test('lines_appear_within_200ms', async () => {
    page = await openViewer(ctx, srv.base + '/log');
    const lat = [];
    for (let i = 0; i < 10; i++) {
      const tok = `latency line ${i} ${Date.now()}`;
      const t0 = Date.now();
      srv.append('log', tok + '\n');
      await page.waitForFunction((t) => { const k = document.getElementById('log').lastElementChild, l = k && k.lastElementChild; return l && l.textContent === t; },
        tok, { polling: 'raf', timeout: 2000 });
      lat.push(Date.now() - t0);
      await sleep(50);
    }
    note('  latency ms: ' + lat.join(' '));
    check(Math.max(...lat) < 200, 'a line took ' + Math.max(...lat) + ' ms');
  });

  test('log_text_is_text_ansi_colours_control_chars', async () => {
    srv.append('log', '\x1b[1;31mred bold\x1b[0m plain \x1b[42mgreen bg\x1b[m \x1b[94mbright\x1b[39m <b>not bold</b><img src=x onerror=alert(1)> bell\x07 \x1b[2K end\n');
    await until(async () => (await lines(page)).some((l) => l.includes('not bold')), 2000, 'ansi line');
    const r = await page.evaluate(() => {
      const el = document.getElementById('log').lastElementChild.lastElementChild;
      return {
        text: el.textContent, tags: [...el.querySelectorAll('*')].map((e) => e.tagName + '.' + e.className),
        red: el.querySelector('.f1') && el.querySelector('.f1').textContent,
        redColor: el.querySelector('.f1') && getComputedStyle(el.querySelector('.f1')).color,
        bold: el.querySelector('.f1') && getComputedStyle(el.querySelector('.f1')).fontWeight,
        bg: el.querySelector('.g2') && el.querySelector('.g2').textContent,
        bright: el.querySelector('.f12') && el.querySelector('.f12').textContent,
        imgs: document.querySelectorAll('#log img, #log b').length,
      };
    });
    eq(r.red, 'red bold', 'red span');
    check(/^rgb\(\d+, \d+, \d+\)$/.test(r.redColor) && r.redColor !== 'rgb(0, 0, 0)', 'red colour ' + r.redColor);
    check(Number(r.bold) >= 600, 'bold weight ' + r.bold);
    eq(r.bg, 'green bg', 'background span');
    eq(r.bright, 'bright', 'bright span');
    eq(r.imgs, 0, 'HTML elements from the log');
    check(r.text.includes('<b>not bold</b><img src=x onerror=alert(1)>'), 'markup not shown as text: ' + r.text);
    check(r.text.includes('bell\u2407') && r.text.includes('\u241b[2K'), 'control characters not shown: ' + JSON.stringify(r.text));
    check(!/[\x00-\x08\x0b-\x1f]/.test(r.text), 'raw control characters in the text');
    check(!page.jsErrors, 'page errors: ' + page.jsErrors);
  });

  test('filter_text_and_regex_with_highlight', async () => {
    srv.append('log', 'apple one\nbanana two\nApple three\nbannnana four\n');
    await until(async () => (await lines(page)).includes('bannnana four'), 2000, 'filter lines');
    await page.click('#log');
    await page.keyboard.press('/');
    check(await page.evaluate(() => document.activeElement.id === 'filter'), '/ does not focus the filter');
    await page.keyboard.type('apple');
    await until(async () => (await visible(page)).length === 2, 1000, 'the text filter');
    eq(await visible(page), ['apple one', 'Apple three'], 'visible with "apple"');
    eq(await page.$$eval('#log mark', (m) => m.map((e) => e.textContent)), ['apple', 'Apple'], 'highlights');
    srv.append('log', 'late apple\nlate pear\n');
    await until(async () => (await visible(page)).includes('late apple'), 2000, 'a new matching line');
    check(!(await visible(page)).includes('late pear'), 'a new line that does not match is shown');
    await page.fill('#filter', '/ban+ana/');
    await page.keyboard.press('Enter');
    eq(await visible(page), ['banana two', 'bannnana four'], 'visible with /ban+ana/');
    eq(await page.$$eval('#log mark', (m) => m.map((e) => e.textContent)), ['banana', 'bannnana'], 'regex highlights');
    await page.fill('#filter', '/(/');
    await page.keyboard.press('Enter');
    check(await page.evaluate(() => document.getElementById('filter').classList.contains('bad')), 'a bad regex is not marked');
    await page.keyboard.press('Escape');
    eq((await visible(page)).length, (await lines(page)).length, 'all lines after Escape');
  });

  test('copy_and_download_the_lines_shown', async () => {
    await page.fill('#filter', '/^late /');
    await page.keyboard.press('Enter');
    try {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#dl')]);
      const file = await dl.path();
      eq(fs.readFileSync(file, 'utf8'), 'late apple\nlate pear\n', 'downloaded text');
      eq(dl.suggestedFilename(), 'log.log', 'download name');
      await page.click('#copy');
      await until(async () => (await page.textContent('#copy')).startsWith('Copied'), 1000, 'copy to say Copied');
    } finally {
      await page.fill('#filter', '');
      await page.keyboard.press('Enter');
    }
  });

  test('pause_and_resume_with_space', async () => {
    await page.click('#log');
    await page.keyboard.press(' ');
    check((await state(page)).paused, 'space did not pause');
    srv.append('log', 'while paused 1\nwhile paused 2\n');
    await sleep(300);
    check(!(await lines(page)).includes('while paused 1'), 'a line was shown while paused');
    check(/Resume \(2 waiting\)/.test(await page.textContent('#pause')), 'pause button: ' + await page.textContent('#pause'));
    await page.keyboard.press(' ');
    await until(async () => (await lines(page)).includes('while paused 2'), 1000, 'the lines after resume');
    await page.click('#pause');
    check((await state(page)).paused, 'button did not pause');
    await page.click('#pause');
    check(!(await state(page)).paused, 'button did not resume');
  });

  test('scroll_up_pauses_following_jump_to_live', async () => {
    let s = '';
    for (let i = 0; i < 300; i++) s += `scroll line ${i}\n`;
    srv.append('log', s);
    await until(async () => (await lines(page)).includes('scroll line 299'), 2000, '300 lines');
    await sleep(100);
    const atBottom = () => page.evaluate(() => { const l = document.getElementById('log'); return l.scrollHeight - l.scrollTop - l.clientHeight < 24; });
    check(await atBottom(), 'not following the end');
    await page.mouse.move(500, 400);
    await page.mouse.wheel(0, -1500);
    await until(async () => !(await state(page)).following, 1000, 'following to stop');
    const top0 = await page.evaluate(() => document.getElementById('log').scrollTop);
    srv.append('log', 'away 1\naway 2\naway 3\n');
    await until(async () => (await lines(page)).includes('away 3'), 2000, 'lines while away');
    await sleep(100);
    check(!(await atBottom()), 'scrolled to the end while the user was away: ' + JSON.stringify(await state(page)) + await page.evaluate(() => { const l = document.getElementById('log'); return [l.scrollHeight, l.scrollTop, l.clientHeight].join(' '); }) + ' top0 ' + top0);
    const top1 = await page.evaluate(() => document.getElementById('log').scrollTop);
    check(Math.abs(top1 - top0) < 5, `view moved from ${top0} to ${top1}`);
    check(await page.isVisible('#jump'), 'no jump-to-live control');
    check((await page.textContent('#jump')).includes('3 new'), 'jump text: ' + await page.textContent('#jump'));
    await page.click('#jump');
    await sleep(50);
    check(await atBottom(), 'jump did not go to the end');
    check(!(await page.isVisible('#jump')), 'jump control still shown');
    srv.append('log', 'after jump\n');
    await until(async () => (await lines(page)).includes('after jump'), 2000, 'line after jump');
    await sleep(50);
    check(await atBottom(), 'not following after jump');
  });

  test('reset_is_a_visible_separator', async () => {
    fs.truncateSync(srv.files.log, 0);
    await sleep(50);
    srv.append('log', 'after truncate\n');
    await until(async () => (await lines(page)).includes('after truncate'), 3000, 'line after truncation');
    const seps = await page.$$eval('#log .sep', (s) => s.map((e) => e.textContent));
    check(seps.length === 1 && seps[0].includes('truncated'), 'separators: ' + JSON.stringify(seps));
    await page.screenshot({ path: path.join(OUT, 'viewer.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.screenshot({ path: path.join(OUT, 'viewer-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(dark !== light, `dark ${dark} and light ${light} backgrounds are the same`);
    await page.close();
  });

  test('configured_event_name_and_wrap', async () => {
    const p = await openViewer(ctx, srv.base + '?stream=ev');
    srv.append('ev', 'named event ' + 'x'.repeat(400) + '\n');
    await until(async () => (await lines(p)).length === 1, 2000, 'a line of a named event');
    const h = () => p.evaluate(() => document.getElementById('log').lastElementChild.lastElementChild.getBoundingClientRect().height);
    const h0 = await h();
    await p.check('#wrap');
    check((await h()) > h0 * 2, 'wrap does not wrap');
    await p.uncheck('#wrap');
    await p.close();
  });

  test('cap_on_lines_kept', async () => {
    const p = await openViewer(ctx, srv.base + '/big');
    eq(await p.inputValue('#cap'), '10000', 'default cap');
    await p.fill('#cap', '100');
    await p.press('#cap', 'Enter');
    await p.evaluate(() => document.getElementById('cap').dispatchEvent(new Event('change')));
    let s = '';
    for (let i = 0; i < 250; i++) s += `big ${i}\n`;
    srv.append('big', s);
    await until(async () => (await lines(p)).includes('big 249'), 2000, '250 lines');
    const l = await lines(p);
    eq(l.length, 100, 'lines kept');
    eq(l[0], 'big 150', 'oldest kept');
    eq(await p.$$eval('#log > .k > div', (d) => d.length), 100, 'elements kept');
    await p.fill('#cap', '10000');
    await p.evaluate(() => document.getElementById('cap').dispatchEvent(new Event('change')));
    await p.close();
  });

  // Rotation as logrotate does it without copytruncate: NAME.log.1 moves
  // to .2, NAME.log to .1 (a writer may still append to it), then a new
  // NAME.log. sse-tail's default predecessor is NAME.log.1.
  const rotate = (name) => {
    const f = srv.files[name];
    if (fs.existsSync(f + '.1')) fs.renameSync(f + '.1', f + '.2');
    fs.renameSync(f, f + '.1');
  };
  const create = (name) => { fs.writeFileSync(srv.files[name], ''); fs.chmodSync(srv.files[name], 0o644); };
  // Appends lines PREFIX N0..N1-1 to a file and to want.
  const writeLines = (file, want, prefix, n0, n1) => {
    let s = '';
    for (let i = n0; i < n1; i++) { want.push(`${prefix} ${i}`); s += `${prefix} ${i}\n`; }
    fs.appendFileSync(file, s);
  };
  // Waits for want's rows, then a little longer for any extra (a
  // duplicate), and compares.
  const sameRows = async (p, want, what) => {
    try {
      await until(async () => (await rows(p)).length >= want.length, 5000, what);
    } catch (e) {
      throw new Error(e.message + ': ' + JSON.stringify(await rows(p)) + ', state ' +
        JSON.stringify(await state(p)) + '\n' + srv.errorLog().slice(-1000));
    }
    await sleep(300);
    eq(await rows(p), want, what);
  };
  // Cuts the page's connection: the browser goes offline (so it cannot
  // reconnect yet) and sse-tail is killed (lighttpd ends the response and
  // starts another). Returns once the page has tried to reconnect.
  const cut = async (p) => {
    await ctx.setOffline(true);
    const r0 = (await state(p)).reconnects;
    const pids = srv.backends();
    check(pids.length > 0, 'no sse-tail under lighttpd');
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await until(async () => (await state(p)).reconnects >= r0 + 2, 10000, 'the page to try again while cut');
    check((await state(p)).state !== 'live', 'live while cut');
  };
  const reconnect = async (p) => {
    await ctx.setOffline(false);
    await until(async () => (await state(p)).state === 'live', 10000, 'the page to reconnect');
  };

  test('rotation_is_a_quiet_separator_lines_once_in_order', async () => {
    const p = await openViewer(ctx, srv.base + '/rot');
    const f = srv.files.rot, want = [];
    writeLines(f, want, 'rot a', 0, 5);
    await until(async () => (await lines(p)).length === 5, 2000, 'the first lines');
    writeLines(f, want, 'rot b', 0, 3);
    rotate('rot');
    // The writer still holds the old file: these go to rot.log.1.
    writeLines(f + '.1', want, 'rot c', 0, 3);
    want.push({ sep: 'rotated' });
    create('rot');
    writeLines(f, want, 'rot d', 0, 5);
    await sameRows(p, want, 'rows after a rotation');
    // Once more: rot.log.1 becomes rot.log.2.
    rotate('rot');
    want.push({ sep: 'rotated' });
    create('rot');
    writeLines(f, want, 'rot e', 0, 4);
    await sameRows(p, want, 'rows after a second rotation');
    const look = await p.evaluate(() => {
      const r = document.querySelector('#log .sep'), d = document.createElement('div');
      d.className = 'sep';
      document.getElementById('log').appendChild(d);
      const reset = getComputedStyle(d).color;
      d.remove();
      return { n: document.querySelectorAll('#log .sep').length, cls: r.className, text: r.textContent,
        color: getComputedStyle(r).color, border: getComputedStyle(r).borderTopStyle, reset };
    });
    eq([look.n, look.cls, look.text], [2, 'sep rot', '\u2014 log rotated \u2014'], 'the rotated separators');
    check(look.color !== look.reset, 'a rotation looks like a reset: colour ' + look.color);
    eq(look.border, 'dotted', 'the rotated separator\'s border');
    eq((await visible(p)).length, want.length - 2, 'lines shown');
    eq(await p.textContent('#count'), `${want.length - 2} lines`, 'the count, separators not counted');
    check(!p.jsErrors, 'page errors: ' + p.jsErrors);
    await p.screenshot({ path: path.join(OUT, 'viewer-rotated.png') });
    await p.close();
  });

  test('rotation_while_cut_resumes_into_the_rotated_file', async () => {
    const p = await openViewer(ctx, srv.base + '/rotcut');
    const f = srv.files.rotcut, want = [];
    writeLines(f, want, 'cut a', 0, 5);
    await until(async () => (await lines(p)).length === 5, 2000, 'the first lines');
    await cut(p);
    try {
      // After the cut, before the rotation: only a resume in rotcut.log.1
      // finds these.
      writeLines(f, want, 'cut b', 0, 4);
      rotate('rotcut');
      writeLines(f + '.1', want, 'cut c', 0, 2);
      want.push({ sep: 'rotated' });
      create('rotcut');
      writeLines(f, want, 'cut d', 0, 4);
    } finally {
      await reconnect(p);
    }
    await sameRows(p, want, 'rows after a rotation while cut');
    writeLines(f, want, 'cut e', 0, 2);
    await sameRows(p, want, 'rows after the reconnect');
    check(!p.jsErrors, 'page errors: ' + p.jsErrors);
    await p.close();
  });

  test('cut_after_rotated_before_any_new_line_one_separator', async () => {
    const p = await openViewer(ctx, srv.base + '/rotcut2');
    const f = srv.files.rotcut2, want = [];
    // As many bytes as the lines of the new file below: the same offset,
    // another tag.
    writeLines(f, want, 'sep a', 0, 3);
    await until(async () => (await lines(p)).length === 3, 2000, 'the first lines');
    rotate('rotcut2');
    want.push({ sep: 'rotated' });
    create('rotcut2');
    await sameRows(p, want, 'rows after a rotation to an empty file');
    // The page's last id is still the old file's last line: the resume
    // sends the rotation again, and the page shows it once.
    await cut(p);
    try {
      writeLines(f, want, 'sep b', 0, 3);
    } finally {
      await reconnect(p);
    }
    await sameRows(p, want, 'rows after the reconnect');
    check(!p.jsErrors, 'page errors: ' + p.jsErrors);
    await p.close();
  });

  test('sse_tail_killed_mid_stream_page_loses_nothing', async () => {
    const p = await openViewer(ctx, srv.base + '/restart');
    const N = 1500;
    let i = 0;
    const writer = (async () => {
      while (i < N) {
        let s = '';
        for (let k = 0; k < 5 && i < N; k++, i++) s += `restart line ${i} ${'-'.repeat(i % 37)}\n`;
        srv.append('restart', s);
        await sleep(10);
      }
    })();
    const killed = [];
    for (let round = 0; round < 2; round++) {
      await sleep(700);
      const pids = srv.backends();
      check(pids.length > 0, 'no sse-tail under lighttpd');
      for (const pid of pids) { process.kill(pid, 'SIGKILL'); killed.push(pid); }
    }
    await writer;
    const want = fs.readFileSync(srv.files.restart, 'utf8').split('\n').slice(0, -1);
    eq(want.length, N, 'lines in the file');
    try {
      await until(async () => (await lines(p)).length >= N, 20000, 'all lines after the restarts');
    } catch (e) {
      throw new Error(e.message + '; have ' + (await lines(p)).length + ', state ' + JSON.stringify(await state(p)) + '\n' + srv.errorLog().slice(-1500));
    }
    await sleep(300);
    const got = await lines(p);
    eq(got.length, N, 'line count');
    for (let k = 0; k < N; k++) if (got[k] !== want[k]) throw new Error(`line ${k}: got ${JSON.stringify(got[k])}, want ${JSON.stringify(want[k])}`);
    const st = await state(p);
    check(st.reconnects >= 2, 'reconnects shown: ' + st.reconnects);
    check((await p.textContent('#recon')).includes(String(st.reconnects)), 'reconnect count not shown');
    check(st.state === 'live', 'state ' + st.state);
    check(srv.backends().every((pid) => !killed.includes(pid)), 'killed sse-tail still there');
    note(`  killed ${killed.length} sse-tail processes; the page reconnected ${st.reconnects} times; ${N} lines exactly`);
    await p.screenshot({ path: path.join(OUT, 'viewer-restart.png') });
    await p.close();
  });

  // A page on another origin (localhost, not 127.0.0.1: another host, so
  // another origin) that reads a stream with EventSource.
  fs.writeFileSync(path.join(srv.dir, 'www', 'cors.html'), `<!doctype html>
<meta charset="utf-8"><title>cross-origin reader</title><script>
const q = new URLSearchParams(location.search);
window.got = []; window.opens = 0; window.errors = 0;
const es = new EventSource(q.get('u'), { withCredentials: q.get('cred') === '1' });
es.onopen = () => { window.opens++; };
es.onmessage = (e) => { window.got.push([e.lastEventId, e.data]); };
es.onerror = () => { window.errors++; window.closed = es.readyState === EventSource.CLOSED; };
</script>`);
  const pageOrigin = `http://localhost:${srv.port}`, streamOrigin = `http://127.0.0.1:${srv.port}`;
  const got = (p) => p.evaluate(() => window.got);
  const openCrossOrigin = async (stream, cred) => {
    const p = await ctx.newPage();
    p.consoleText = [];
    p.on('console', (m) => p.consoleText.push(m.text()));
    const r = await p.goto(`${pageOrigin}/cors.html?cred=${cred ? 1 : 0}&u=` +
      encodeURIComponent(`${streamOrigin}/events/${stream}`));
    eq(r.status(), 200, 'status of the page on ' + pageOrigin);
    return p;
  };

  test('cross_origin_page_reads_and_resumes_with_last_event_id', async () => {
    const p = await openCrossOrigin('cors', true);
    await until(() => p.evaluate(() => window.opens === 1), 5000, 'the cross-origin stream to open');
    const want = [];
    let content = '';
    const add = (n0, n1) => {
      let s = '';
      for (let i = n0; i < n1; i++) {
        const line = `cors line ${i}`;
        content += line + '\n';
        want.push([idOf(content, Buffer.byteLength(content)), line]);
        s += line + '\n';
      }
      srv.append('cors', s);
    };
    add(0, 5);
    await until(async () => (await got(p)).length === 5, 3000, 'the first 5 lines');
    // Cut the connection: kill sse-tail; lighttpd starts another, and the
    // browser reconnects with Last-Event-ID. Lines written meanwhile and
    // after must come once each, in order.
    const before = srv.backends();
    for (const pid of before) process.kill(pid, 'SIGKILL');
    add(5, 10);
    await until(() => p.evaluate(() => window.opens >= 2), 10000, 'the page to reconnect');
    add(10, 12);
    try {
      await until(async () => (await got(p)).length >= 12, 5000, 'all 12 lines');
    } catch (e) {
      throw new Error(e.message + ': ' + JSON.stringify(await got(p)) + '\n' + srv.errorLog().slice(-1000));
    }
    await sleep(200);
    eq(await got(p), want, 'lines (id, data) on the cross-origin page');
    check(!p.consoleText.some((t) => /CORS/i.test(t)), 'CORS complaints: ' + p.consoleText);
    await p.close();
    // lighttpd logs a request when it ends (it sees the page gone when it
    // next writes: hence a line), and writes its log in batches.
    srv.append('cors', 'after the page closed\n');
    const log = () => srv.accessLog().split('\n').filter((l) => l.includes('/events/cors'));
    try {
      await until(() => log().filter((l) => l.includes('"GET ')).length >= 2, 10000,
        'both GETs in the access log');
    } catch (e) { throw new Error(e.message + ':\n' + srv.accessLog()); }
    const options = log().filter((l) => l.includes('"OPTIONS '));
    note(`  ${log().length - options.length} GETs, ${options.length} preflights (OPTIONS) of the cross-origin stream`);
  });

  test('page_on_an_origin_not_allowed_gets_an_error_and_no_data', async () => {
    const p = await openCrossOrigin('elsewhere', false);
    await until(() => p.evaluate(() => window.errors > 0), 5000, 'an error event');
    srv.append('elsewhere', 'not for you\n');
    await sleep(500);
    eq(await got(p), [], 'lines on a page from an origin not allowed');
    const st = await p.evaluate(() => ({ opens: window.opens, errors: window.errors, closed: window.closed }));
    // Chromium keeps retrying (readyState CONNECTING): a CORS failure is a
    // network error to EventSource. It never opens, and no line arrives.
    check(st.opens === 0 && st.errors > 0, 'the EventSource opened: ' + JSON.stringify(st));
    check(p.consoleText.some((t) => /CORS|Access-Control-Allow-Origin/.test(t)),
      'no CORS error in the console: ' + JSON.stringify(p.consoleText));
    await p.close();
  });

  test('lighttpd_passes_a_preflight_to_sse_tail', async () => {
    const r = await new Promise((resolve, reject) => {
      const req = http.request(`${streamOrigin}/events/cors`, {
        method: 'OPTIONS',
        headers: { Origin: pageOrigin, 'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'last-event-id' },
      }, (res) => { res.resume(); res.on('end', () => resolve(res)); });
      req.on('error', reject);
      req.end();
    });
    eq(r.statusCode, 204, 'preflight status through lighttpd');
    eq(r.headers['access-control-allow-origin'], pageOrigin, 'Access-Control-Allow-Origin');
    eq(r.headers['access-control-allow-headers'], 'Last-Event-ID', 'Access-Control-Allow-Headers');
    eq(r.headers['access-control-allow-credentials'], 'true', 'Access-Control-Allow-Credentials');
  });

  // One page that opens N EventSources to N streams, through nginx
  // (conf/nginx.conf + conf/nginx-h2.conf): over HTTP/2 (TLS, its own
  // Chromium with --ignore-certificate-errors for the test's certificate)
  // they share one connection; over HTTP/1.1 Chromium opens six
  // connections to a host and the seventh stream waits.
  const N = 12, MANY = Array.from({ length: N }, (_, i) => 's' + i);
  let ng = null, h2br = null;
  const many = async (c, base) => {
    if (!ng) {
      ng = await startNginx(MANY);
      fs.writeFileSync(path.join(ng.dir, 'www', 'many.html'), `<!doctype html>
<meta charset="utf-8"><title>many streams</title><link rel="icon" href="data:,"><script>
const n = Number(new URLSearchParams(location.search).get('n'));
window.es = []; window.got = [];
for (let i = 0; i < n; i++) {
  const e = new EventSource('/events/s' + i), k = i;
  window.got.push([]);
  e.onmessage = (m) => { window.got[k].push(m.data); };
  window.es.push(e);
}
window.states = () => window.es.map((e) => e.readyState);
window.proto = () => performance.getEntriesByType('navigation')[0].nextHopProtocol;
</script>`);
    }
    const p = await c.newPage();
    const r = await p.goto(base(ng) + '/many.html?n=' + N);
    eq(r.status(), 200, 'status of many.html');
    return p;
  };
  const states = (p) => p.evaluate(() => window.states());
  const open = async (p) => (await states(p)).filter((s) => s === 1).length;
  // Appends a line to every stream; returns the lines.
  const appendAll = (tag) => MANY.map((n) => { const l = `${tag} ${n} ${Date.now()}`; ng.append(n, l + '\n'); return l; });

  test('http2_page_holds_12_streams_open_at_once', async () => {
    if (!h2br) h2br = await startBrowser(['--ignore-certificate-errors']);
    const p = await many(h2br.context, (s) => `https://127.0.0.1:${s.tlsPort}`);
    eq(await p.evaluate(() => window.proto()), 'h2', 'the page\'s protocol');
    await until(async () => (await open(p)) === N, 5000, `all ${N} streams open over HTTP/2`)
      .catch(async (e) => { throw new Error(e.message + ': ' + JSON.stringify(await states(p)) + '\n' + ng.errorLog().slice(-800)); });
    const want = appendAll('h2');
    await until(async () => {
      const got = await p.evaluate(() => window.got);
      return want.every((l, i) => got[i].includes(l));
    }, 2000, 'an appended line on every stream');
    note(`  ${N} EventSources open at once over HTTP/2, each got its appended line`);
    await p.close();
  });

  test('http1_page_stops_at_six_streams', async () => {
    const p = await many(ctx, (s) => `http://127.0.0.1:${s.port}`);
    eq(await p.evaluate(() => window.proto()), 'http/1.1', 'the page\'s protocol');
    await until(async () => (await open(p)) >= 6, 5000, 'six streams open over HTTP/1.1');
    // Six stay open, the others wait (CONNECTING, 0) for as long as the
    // six hold their connections: here a second.
    await sleep(1000);
    const st = await states(p);
    eq([st.filter((s) => s === 1).length, st.filter((s) => s === 0).length], [6, N - 6],
      'streams open and waiting over HTTP/1.1 ' + JSON.stringify(st));
    const want = appendAll('h1');
    await until(async () => {
      const got = await p.evaluate(() => window.got);
      return want.filter((l, i) => got[i].includes(l)).length === 6;
    }, 2000, 'the appended line on the six open streams');
    await sleep(300);
    const got = await p.evaluate(() => window.got);
    const st2 = await states(p);
    eq(st2.map((s, i) => s === 1 ? got[i].includes(want[i]) : got[i].length), st2.map((s) => s === 1 ? true : 0),
      'lines on open streams, none on waiting ones');
    note(`  over HTTP/1.1: 6 of ${N} EventSources open, ${N - 6} still CONNECTING after 1 s`);
    await p.close();
  });

  try {
    for (const [name, fn] of tests) {
      if (only.length && !only.some((o) => name.includes(o))) continue;
      try {
        await fn();
        passed++;
        console.log(`ok ${++numbered} - ${name}`);
      } catch (e) {
        failed++;
        console.log(`not ok ${++numbered} - ${name}`);
        note('FAIL ' + name + ': ' + (e && e.stack || e));
      }
    }
  } finally {
    await br.close();
    if (h2br) await h2br.close();
    if (ng) await ng.stop();
    await srv.stop();
  }
}

main().catch((e) => {
  failed++;
  note('ERROR ' + (e && e.stack || e));
  console.log('Bail out! ' + String(e && e.message || e).split('\n')[0]);
})
  .finally(() => {
    console.log(`1..${numbered}`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
