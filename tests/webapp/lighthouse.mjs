// Lighthouse on several pages with one Chromium: what `lighthouse <url>` does for each page
// (a new tab, the origin's storage and the browser cache cleared, load, gather, audit; the
// tab closed), without starting Node, Lighthouse and Chromium anew for every page.
// Usage: node lighthouse.mjs <config.json>
// config: { modules (bench/webapp/node_modules), chromium, chromeFlags: [...], profile,
//           categories: [...], pages: {name: url}, reports (a folder) }
// Writes <reports>/<name>.json (Lighthouse's JSON report) for each page, in order; a page
// Lighthouse could not audit exits 1, as the CLI does.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const load = (module) => import(pathToFileURL(path.join(config.modules, module)).href);
const ChromeLauncher = await load('chrome-launcher/dist/index.js');

// Chromium starts while Lighthouse loads.
const [launched, loaded] = await Promise.allSettled([
  ChromeLauncher.launch({
    chromePath: config.chromium,
    chromeFlags: config.chromeFlags,
    userDataDir: config.profile,
    logLevel: 'silent',
  }),
  load('lighthouse/core/index.js'),
]);
if (launched.status === 'rejected' || loaded.status === 'rejected') {
  if (launched.status === 'fulfilled') launched.value.kill();
  throw launched.reason ?? loaded.reason;
}
const chrome = launched.value;
const lighthouse = loaded.value.default;
try {
  for (const [name, url] of Object.entries(config.pages)) {
    const result = await lighthouse(url, {
      port: chrome.port,
      output: 'json',
      onlyCategories: config.categories,
      logLevel: 'silent',
      // The screenshot of the whole page only illustrates the report: no audit reads it.
      disableFullPageScreenshot: true,
    });
    fs.writeFileSync(path.join(config.reports, `${name}.json`), result.report);
    if (result.lhr.runtimeError) {
      throw new Error(`${name}: ${result.lhr.runtimeError.code} ${result.lhr.runtimeError.message}`);
    }
  }
} finally {
  chrome.kill();
}
