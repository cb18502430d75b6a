// State, pub/sub, bulk publish and service invocation through the JavaScript SDK's DaprClient: `node blocks.js <scenario>`.
"use strict";

const { HttpMethod, StateConcurrencyEnum } = require("@dapr/dapr");
const { DaprClient, appSaw, check, eventually, quiet, run, unique } = require("./lib");

const client = new DaprClient(quiet);
const store = "statestore";

/** The SDK reports publish and state failures in its answer rather than throwing. */
function ok(answer, what) {
  check(!answer?.error, `${what} failed: ${answer?.error}`);
  return answer;
}

run({
  async state() {
    const prefix = unique("js");
    const [a, b, c] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    ok(await client.state.save(store, [
      { key: a, value: { n: 1, tags: ["x"] } },
      { key: b, value: "plain text" },
    ]), "save");
    const single = await client.state.get(store, a);
    const bulk = await client.state.getBulk(store, [a, b, `${prefix}-missing`]);
    const etagOfA = bulk.find((item) => item.key === a)?.etag;
    check(etagOfA, `bulk get returned no etag for ${a}: ${JSON.stringify(bulk)}`);

    // First-write concurrency: a stale etag is refused, the current one is taken.
    const stale = await client.state.save(store, [{ key: a, value: { n: 2 }, etag: "999999", options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } }]);
    ok(await client.state.save(store, [{ key: a, value: { n: 3, tags: ["y"] }, etag: etagOfA, options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE } }]), "save with etag");

    await client.state.transaction(store, [
      { operation: "upsert", request: { key: c, value: { n: 1, from: "transaction" } } },
      { operation: "delete", request: { key: b } },
    ]);
    const query = await client.state.query(store, { filter: { EQ: { n: 1 } }, sort: [{ key: "from" }], page: { limit: 10 } });
    ok(await client.state.delete(store, `${prefix}-missing`), "delete of a missing key");

    return {
      keys: { a, b, c },
      single,
      bulk: bulk.map((item) => ({ key: item.key, data: item.data ?? null })),
      staleEtagRefused: Boolean(stale?.error),
      afterEtagSave: await client.state.get(store, a),
      deletedByTransaction: await client.state.get(store, b),
      queried: query.results.map((r) => r.key).filter((key) => key.startsWith(prefix)),
    };
  },

  async publishSubscribe() {
    const orders = [1, 2, 3].map((n) => ({ orderId: unique("order"), amount: n * 10 }));
    for (const order of orders) {
      ok(await client.pubsub.publish("pubsub", "orders", order), "publish");
    }
    const flaky = { orderId: unique("flaky") };
    ok(await client.pubsub.publish("pubsub", "flaky", flaky), "publish");
    const saw = await eventually(async () => {
      const now = await appSaw(client);
      const delivered = (now.events.orders ?? []).filter((o) => orders.some((p) => p.orderId === o.orderId));
      const retried = (now.events.flaky ?? []).some((o) => o.orderId === flaky.orderId);
      return delivered.length === orders.length && retried ? { delivered, attempts: now.attempts.flaky } : null;
    }, "the published events to reach the app's subscriptions");
    return { published: orders, delivered: saw.delivered, flakyAttempts: saw.attempts };
  },

  async bulkPublish() {
    const batch = unique("bulk");
    const entries = [1, 2, 3].map((n) => ({ batch, n }));
    const answer = await client.pubsub.publishBulk("pubsub", "bulk-orders", entries);
    check(answer.failedMessages.length === 0, `bulk publish failed: ${JSON.stringify(answer.failedMessages.map((f) => String(f.error)))}`);
    const toBulkSubscriber = [1, 2, 3, 4, 5, 6, 7].map((n) => ({ batch, n }));
    const second = await client.pubsub.publishBulk("pubsub", "batched", toBulkSubscriber);
    check(second.failedMessages.length === 0, `bulk publish failed: ${JSON.stringify(second.failedMessages.map((f) => String(f.error)))}`);
    const saw = await eventually(async () => {
      const now = await appSaw(client);
      const delivered = (now.events["bulk-orders"] ?? []).filter((e) => e.batch === batch);
      const bulkDelivered = now.bulk.filter((e) => e?.batch === batch);
      return delivered.length === 3 && bulkDelivered.length === 7 ? { delivered, bulkDelivered } : null;
    }, "the bulk-published events to be delivered");
    return {
      delivered: saw.delivered.map((e) => e.n).sort(),
      bulkDelivered: saw.bulkDelivered.map((e) => e.n).sort(),
    };
  },

  async invocation() {
    const answer = await client.invoker.invoke(process.env.APP_ID, "echo?source=js", HttpMethod.POST, { hello: "from js" }, { headers: { "x-conformance": "yes" } });
    return { answer };
  },
});
