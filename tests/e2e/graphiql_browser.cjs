// Drive the offline GraphiQL page of a live server in headless Chromium (puppeteer-core).
// Usage: node graphiql_browser.cjs <base-url> <token> <chromium-path>
// Prints one JSON object: the responses shown for a query and a mutation, and any
// request that left the server (there must be none: no CDN).
const puppeteer = require('puppeteer-core');

const [BASE, TOKEN, CHROMIUM] = process.argv.slice(2);

(async () => {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const out = { external: [], failed: [], pageErrors: [], results: [] };
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => out.pageErrors.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) out.external.push(r.url());
    });
    page.on('response', (r) => { if (r.status() >= 400) out.failed.push(`${r.status()} ${r.url()}`); });
    await page.goto(`${BASE}/graphiql#token=${TOKEN}`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('.graphiql-container .CodeMirror', { timeout: 15000 });
    out.addressBar = page.url();
    out.opened = await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
    const run = async (query) => {
      await page.evaluate((q) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q), query);
      // GraphiQL reads the operation name out of the edited document a moment later (and
      // stores the document then); running before that would send the old document's name.
      await page.waitForFunction((q) => localStorage.getItem('graphiql:query') === q, { timeout: 15000 }, query);
      await page.click('.graphiql-execute-button');
      const shown = () => page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue());
      await page.waitForFunction(
        (q) => {
          const text = document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue();
          return text.includes('"data"') && text.includes(q);
        },
        { timeout: 15000 },
        query.includes('setAiUsesReferenceImages') ? 'setAiUsesReferenceImages' : 'profile',
      ).catch(async (e) => { throw new Error(`${e.message}; the response pane shows: ${await shown()}`); });
      return JSON.parse(await page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()));
    };
    out.results.push(await run('{ profile { ownerId aiUsesReferenceImages } meImages { id } }'));
    out.results.push(await run('mutation { setAiUsesReferenceImages(enabled: false) { aiUsesReferenceImages } }'));
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
