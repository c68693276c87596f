// Draws the slow requests of a whyslow timeline (whyslow.json, as the demo
// writes it) as Perfetto shows its tracks, and screenshots the drawing in
// headless Chromium. ui.perfetto.dev needs the network; this draws the same
// file's slices offline: per slow request, its lane (request and function
// slices, nested), its goroutine's state thread, and the process's GC and
// stop-the-world threads, over the request's time.
//
// usage: VIEWER_DIR=DIR node screenshot.mjs whyslow.json whyslow.png
// where DIR/node_modules holds playwright-core (bash .ci/viewer.sh installs it).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.VIEWER_DIR || process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');
const [, , input, shot] = process.argv;
const doc = JSON.parse(fs.readFileSync(input, 'utf8'));
const ev = doc.traceEvents;
const threads = new Map();
for (const e of ev) if (e.ph === 'M' && e.name === 'thread_name') threads.set(`${e.pid}/${e.tid}`, e.args.name);
const xs = ev.filter((e) => e.ph === 'X');
const on = (pid, tid, lo, hi) => xs.filter((e) => e.pid === pid && e.tid === tid && e.ts < hi && e.ts + e.dur > lo);
const tidNamed = (pid, name) => { for (const [k, v] of threads) if (v === name && k.startsWith(pid + '/')) return Number(k.split('/')[1]); return null; };

const color = (name) => {
  if (name === 'running') return '#4caf50';
  if (name === 'runnable') return '#ffb300';
  if (name === 'GC assist') return '#fdd835';
  if (name === 'syscall') return '#8e24aa';
  if (name.startsWith('blocked')) return '#e53935';
  if (name === 'GC') return '#fb8c00';
  if (name.startsWith('stop-the-world')) return '#6d4c41';
  if (name.startsWith('GET')) return '#1e88e5';
  return '#64b5f6';
};
const W = 1400, LABEL = 170, ROW = 22;
let html = `<html><body style="font:13px sans-serif;margin:16px;background:#fff">
<h2 style="margin:0 0 4px">whyslow: why each slow request was slow</h2>
<div style="color:#555;margin-bottom:10px">Drawn from ${path.basename(input)} (otel2chrome output: sdkhook function spans + the flight recorder's Go execution trace).
Legend: <b style="color:#4caf50">running</b> · <b style="color:#ffb300">runnable</b> · <b style="color:#e53935">blocked (reason)</b> ·
<b style="color:#8e24aa">syscall</b> · <b style="color:#fdd835;background:#555">GC assist</b> · <b style="color:#fb8c00">GC</b> · <b style="color:#6d4c41">stop-the-world</b></div>`;
for (const p of ['/lock', '/chan', '/gc', '/syscall']) {
  const req = xs.find((e) => e.name === 'GET ' + p);
  if (!req) continue;
  const g = req.args?.attributes?.['go.goroutine.id'];
  const pad = req.dur * 0.04, lo = req.ts - pad, hi = req.ts + req.dur + pad;
  const x = (t) => LABEL + ((Math.max(lo, Math.min(hi, t)) - lo) / (hi - lo)) * (W - LABEL);
  const rows = [];
  // The request's lane, nested by depth.
  const lane = on(req.pid, req.tid, req.ts, req.ts + req.dur).sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const stack = [];
  const depthRows = [];
  for (const s of lane) {
    while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= s.ts) stack.pop();
    const d = stack.length;
    (depthRows[d] ||= []).push(s);
    stack.push(s);
  }
  depthRows.forEach((r, i) => rows.push({ label: i === 0 ? threads.get(`${req.pid}/${req.tid}`) : '', slices: r }));
  const st = tidNamed(req.pid, `G${g} state`);
  const totals = {};
  if (st !== null) {
    const ss = on(req.pid, st, lo, hi);
    for (const s of on(req.pid, st, req.ts, req.ts + req.dur)) {
      totals[s.name] = (totals[s.name] || 0) + Math.min(s.ts + s.dur, req.ts + req.dur) - Math.max(s.ts, req.ts);
    }
    rows.push({ label: `G${g} state`, slices: ss });
  }
  for (const name of ['Go runtime: GC and heap', 'Go runtime: stop-the-world']) {
    const tid = tidNamed(req.pid, name);
    if (tid !== null) rows.push({ label: name.replace('Go runtime: ', ''), slices: on(req.pid, tid, lo, hi) });
  }
  const top = Object.entries(totals).sort((a, b) => b[1] - a[1])[0];
  const H = rows.length * ROW + 24;
  let svg = `<svg width="${W}" height="${H}" style="border:1px solid #ddd">`;
  rows.forEach((r, i) => {
    const y = i * ROW + 2;
    svg += `<text x="4" y="${y + 15}" fill="#333">${r.label}</text>`;
    for (const s of r.slices) {
      const x0 = x(s.ts), x1 = Math.max(x(s.ts + s.dur), x0 + 0.5);
      svg += `<rect x="${x0}" y="${y}" width="${x1 - x0}" height="${ROW - 4}" fill="${color(s.name)}"><title>${s.name}</title></rect>`;
      if (x1 - x0 > 7 * s.name.length) svg += `<text x="${x0 + 3}" y="${y + 14}" fill="#fff" font-size="12">${s.name}</text>`;
    }
  });
  for (let k = 0; k <= 10; k++) {
    const t = lo + ((hi - lo) * k) / 10;
    svg += `<text x="${x(t) - 10}" y="${H - 6}" fill="#777" font-size="11">${((t - req.ts) / 1000).toFixed(1)}ms</text>`;
  }
  svg += '</svg>';
  const why = top ? `${top[0]} for ${(top[1] / 1000).toFixed(1)} ms` : '';
  html += `<h3 style="margin:14px 0 4px">GET ${p} — ${(req.dur / 1000).toFixed(1)} ms; goroutine ${g} mostly ${why}</h3>${svg}`;
}
html += '</body></html>';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: W + 40, height: 800 } });
  await page.setContent(html);
  await page.screenshot({ path: shot, fullPage: true });
} finally {
  await browser.close();
}
