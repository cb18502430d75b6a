// What the driver scripts share: run one named scenario under a deadline, print its outcome as one
// "RESULT {json}" line for the test to assert on, and exit non-zero with the reason when it fails.
"use strict";

const { DaprClient, HttpMethod, LogLevel } = require("@dapr/dapr");

const quiet = { logger: { level: LogLevel.Warning } };
const deadlineMs = 60_000;

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` returns a truthy value (which it returns), failing after `ms`. */
async function eventually(probe, what, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await sleep(50);
  }
}

/** What the app saw (activities run, events delivered, actor turns), read through service invocation. */
async function appSaw(client) {
  return client.invoker.invoke(process.env.APP_ID, "seen", HttpMethod.GET);
}

const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

async function run(scenarios) {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) {
    console.error(`unknown scenario '${name}'; known: ${Object.keys(scenarios).join(", ")}`);
    process.exit(2);
  }
  let timer;
  try {
    const outcome = await Promise.race([
      scenario(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`scenario did not finish within ${deadlineMs} ms`)), deadlineMs);
      }),
    ]);
    console.log(`RESULT ${JSON.stringify(outcome)}`);
    process.exit(0);
  } catch (error) {
    console.error(`FAILED ${name}: ${error?.stack ?? error}`);
    process.exit(1);
  } finally {
    clearTimeout(timer);
  }
}

module.exports = { DaprClient, appSaw, check, eventually, quiet, run, sleep, unique };
