// measure.js - not a test: writes RATE lines/s for SECS s into a stream
// that an open viewer page shows, and reports the longest main-thread task
// (PerformanceObserver longtask) and the page's memory (CDP
// Performance.getMetrics JSHeapUsedSize, performance.memory).
// Usage: [MEASURE_FILTER=TEXT] [MEASURE_WRAP=1] node measure.js [RATE] [SECS]
'use strict';
const fs = require('fs');
const { sleep, startServer, startBrowser } = require('./lib');

const RATE = +(process.argv[2] || 10000), SECS = +(process.argv[3] || 30);

(async () => {
  const srv = await startServer({ m: {} });
  const br = await startBrowser();
  const page = await br.context.newPage();
  await page.addInitScript(() => {
    window.__lt = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__lt.push(e.duration); })
      .observe({ type: 'longtask', buffered: true });
  });
  await page.goto(srv.base + '/m');
  await page.waitForFunction(() => window.sseTail && window.sseTail.state().state === 'live');
  // MEASURE_FILTER='/line \d*7 /' and MEASURE_WRAP=1 measure those too.
  if (process.env.MEASURE_FILTER) { await page.fill('#filter', process.env.MEASURE_FILTER); await page.press('#filter', 'Enter'); }
  if (process.env.MEASURE_WRAP === '1') await page.check('#wrap');
  const cdp = await br.context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => {
    const m = {};
    for (const x of (await cdp.send('Performance.getMetrics')).metrics) m[x.name] = x.value;
    return m;
  };
  await sleep(500);
  await page.evaluate(() => { window.__lt = []; });
  const fd = fs.openSync(srv.files.m, 'a');
  const t0 = Date.now();
  let n = 0, nextReport = 5000, maxHeap = 0, maxNodes = 0;
  const pad = ' lorem ipsum dolor sit amet consectetur adipiscing elit';
  while (Date.now() - t0 < SECS * 1000) {
    const due = Math.floor((Date.now() - t0) * RATE / 1000);
    let s = '';
    for (; n < due; n++) {
      s += n % 10 === 0 ? `\x1b[32m${new Date().toISOString()}\x1b[0m line ${n}${pad}\n`
        : `${new Date().toISOString()} line ${n}${pad}\n`;
    }
    if (s) fs.writeSync(fd, s);
    if (Date.now() - t0 >= nextReport) {
      nextReport += 5000;
      const m = await metric();
      maxHeap = Math.max(maxHeap, m.JSHeapUsedSize);
      maxNodes = Math.max(maxNodes, m.Nodes);
      const last = await page.evaluate(() => { const l = window.sseTail.lines(); return [l.length, l[l.length - 1]]; });
      const shown = last[1] ? +/line (\d+)/.exec(last[1])[1] : -1;
      console.log(`t=${((Date.now() - t0) / 1000).toFixed(0)}s written=${n} shown-last=${shown} lag=${n - 1 - shown} kept=${last[0]} ` +
        `JSHeapUsed=${(m.JSHeapUsedSize / 1048576).toFixed(1)}MB Nodes=${m.Nodes}`);
    }
    await sleep(5);
  }
  fs.closeSync(fd);
  const written = n;
  await sleep(1000);
  const r = await page.evaluate(() => {
    const l = window.sseTail.lines();
    return { lt: window.__lt, kept: l.length, last: l[l.length - 1], mem: performance.memory && performance.memory.usedJSHeapSize, st: window.sseTail.stats };
  });
  const m = await metric();
  const lt = r.lt.slice().sort((a, b) => b - a);
  const shown = +/line (\d+)/.exec(r.last)[1];
  console.log(`rate ${RATE}/s for ${SECS}s: ${written} lines written; page kept ${r.kept}, last shown line ${shown} (${shown === written - 1 ? 'caught up' : 'behind'})`);
  console.log(`longtasks: ${lt.length}, longest ${lt.length ? lt[0].toFixed(0) : 0} ms, top 5: ${lt.slice(0, 5).map((x) => x.toFixed(0)).join(' ')} ms`);
  console.log(`memory: JSHeapUsedSize ${(m.JSHeapUsedSize / 1048576).toFixed(1)} MB at end, max sampled ${(Math.max(maxHeap, m.JSHeapUsedSize) / 1048576).toFixed(1)} MB; performance.memory.usedJSHeapSize ${(r.mem / 1048576).toFixed(1)} MB; DOM nodes ${m.Nodes} (max ${Math.max(maxNodes, m.Nodes)})`);
  console.log('flushes: ' + JSON.stringify(r.st));
  await br.close();
  await srv.stop();
})().catch((e) => { console.error(e); process.exit(1); });
