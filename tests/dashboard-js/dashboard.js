// Drives the operator dashboard in Debian's Chromium: signs in with an API key, waits for the agents and queues the
// calling test created, opens a trace, checks the span tree is drawn, and saves a screenshot.
// Usage: node dashboard.js  (DASHBOARD_URL, DASHBOARD_KEY, EXPECT_AGENT, EXPECT_TRACE, SCREENSHOT from the environment;
// EXPECT_GENAI_AGENTS and EXPECT_GENAI_MODELS, comma-separated, for the LLM usage panel, whose rows must show input and
// output tokens; then it prints READY and waits for EXPECT_GENAI_LIVE_AGENT and EXPECT_GENAI_LIVE_MODEL, which the
// calling test makes only after READY, to appear without a reload).
const { chromium } = require('playwright-core');

async function main() {
  const url = process.env.DASHBOARD_URL;
  const key = process.env.DASHBOARD_KEY;
  const agent = process.env.EXPECT_AGENT;
  const trace = process.env.EXPECT_TRACE;
  const screenshot = process.env.SCREENSHOT;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    // playwright starts the browser with a new empty profile of its own (--user-data-dir in a temp folder).
  });
  const result = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url, { waitUntil: 'load' });

    // A wrong key is refused on the form.
    await page.fill('#apikey', 'not-a-key');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0, null, { timeout: 30000 });
    result.badKeyMessage = await page.textContent('#login-error');

    await page.fill('#apikey', key);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#board:not([hidden])', { timeout: 30000 });

    await page.waitForFunction((id) => document.querySelector('#agents .body').textContent.includes(id), agent, { timeout: 60000 });
    await page.waitForFunction((id) => [...document.querySelectorAll('#queues tr')].some((r) => r.textContent.includes(id) && Number(r.children[1]?.textContent) > 0), agent, { timeout: 60000 });
    result.queueRow = await page.evaluate((id) => [...document.querySelectorAll('#queues tr')].find((r) => r.textContent.includes(id)).textContent, agent);
    result.notDeployed = await page.$$eval('.not-deployed', (nodes) => nodes.map((n) => n.textContent));
    if (process.env.EXPECT_RUN) {
      // The workflow run the test started, with its steps' states.
      await page.waitForFunction((id) => document.querySelector('#workflows .body').textContent.includes(id), process.env.EXPECT_RUN, { timeout: 60000 });
      result.workflowRow = await page.evaluate((id) => [...document.querySelectorAll('#workflows tr')].find((r) => r.textContent.includes(id)).textContent, process.env.EXPECT_RUN);
    }
    await page.waitForFunction(() => document.querySelector('#live').textContent.startsWith('live'), null, { timeout: 60000 });
    result.live = await page.textContent('#live');

    if (process.env.EXPECT_GENAI_AGENTS) {
      // Rows whose first cell is the name and whose input and output token cells are above zero.
      const shown = ([table, names]) => names.every((name) => [...document.querySelectorAll(`#${table} tbody tr`)]
        .some((r) => r.children[0].textContent === name && Number(r.children[1].textContent) > 0 && Number(r.children[2].textContent) > 0));
      const agents = process.env.EXPECT_GENAI_AGENTS.split(',');
      const models = process.env.EXPECT_GENAI_MODELS.split(',');
      await page.waitForFunction(shown, ['genai-agents', agents], { timeout: 90000 });
      await page.waitForFunction(shown, ['genai-models', models], { timeout: 90000 });
      console.log('READY');
      await page.waitForFunction(shown, ['genai-agents', [process.env.EXPECT_GENAI_LIVE_AGENT]], { timeout: 90000 });
      await page.waitForFunction(shown, ['genai-models', [process.env.EXPECT_GENAI_LIVE_MODEL]], { timeout: 90000 });
      const rows = (table) => [...document.querySelectorAll(`#${table} tbody tr`)].map((r) => [...r.children].map((c) => c.textContent));
      result.genaiAgents = await page.evaluate(rows, 'genai-agents');
      result.genaiModels = await page.evaluate(rows, 'genai-models');
    }

    // Traces through messaging are listed; the one the test made is opened by its id.
    await page.fill('#trace-service', 'messaging');
    await page.click('#trace-open button');
    await page.waitForSelector('#traces a.trace', { timeout: 60000 });
    await page.fill('#trace-query', trace);
    await page.click('#trace-open button');
    await page.waitForFunction(() => document.querySelectorAll('#span-tree rect').length >= 2, null, { timeout: 30000 });
    result.spanBars = await page.$$eval('#span-tree rect', (bars) => bars.length);
    result.spanLabels = await page.$$eval('#span-tree g text:first-child', (labels) => labels.map((l) => l.textContent));
    await page.waitForFunction(() => document.querySelectorAll('#charts polyline').length > 0, null, { timeout: 60000 });
    result.chartLines = await page.$$eval('#charts polyline', (lines) => lines.length);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot, fullPage: true });
    result.pageErrors = errors;
    console.log(JSON.stringify(result));
  } catch (error) {
    // What the page showed when a wait ran out, for the failure message.
    const page = browser.contexts()[0]?.pages()[0];
    if (page) console.error(await page.evaluate(() => document.querySelector('main').innerText).catch(() => ''));
    throw error;
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error.stack ?? String(error));
  process.exit(1);
});
