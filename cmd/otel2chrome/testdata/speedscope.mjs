// Opens a Chrome trace file in speedscope (a viewer that imports the Chrome
// Trace Event format), in headless Chromium, and prints what it showed as JSON:
// the page title, the profile selector text, and every page error, dialog and
// console warning. Used by viewer_integration_test.go.
//
// usage: VIEWER_DIR=DIR node speedscope.mjs SPEEDSCOPE_RELEASE_DIR TRACE_FILE SCREENSHOT_PNG
// where DIR/node_modules holds playwright-core (see .ci/viewer.sh).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.VIEWER_DIR || process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');

const [, , rootArg, trace, shot] = process.argv;
const root = path.resolve(rootArg);
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  const file = u.pathname === '/trace.json' ? trace : path.join(root, path.normalize(u.pathname));
  if (u.pathname !== '/trace.json' && !file.startsWith(root)) {
    res.writeHead(404); res.end(); return;
  }
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404); res.end(); return; }
    res.writeHead(200); res.end(data);
  });
}).listen(0, '127.0.0.1');
await new Promise((r) => server.on('listening', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss(); });
  page.on('console', (m) => {
    // The GPU driver's chatter under software rendering is not about the file.
    if ((m.type() === 'warning' || m.type() === 'error') && !m.text().includes('GL Driver Message')) {
      problems.push(`console ${m.type()}: ${m.text()}`);
    }
  });
  await page.goto(`${base}/index.html#profileURL=${encodeURIComponent(base + '/trace.json')}&title=trace`);
  // speedscope shows "trace (i/N)" once the import is done, one profile per thread.
  await page.waitForFunction(() => /\(\d+\/\d+\)|trace/.test(document.title) && document.body.innerText.includes('trace'),
    null, { timeout: 30000 });
  await page.waitForTimeout(500);
  const title = await page.title();
  const text = await page.evaluate(() => document.body.innerText);
  const m = text.match(/trace \((\d+)\/(\d+)\)/);
  await page.screenshot({ path: shot });
  console.log(JSON.stringify({ title, profiles: m ? Number(m[2]) : (text.includes('trace') ? 1 : 0), problems }));
} finally {
  await browser.close();
  server.close();
}
