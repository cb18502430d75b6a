// A Dapr app written with the JavaScript SDK (@dapr/dapr), as a JavaScript developer writes one: workflows and
// activities on a WorkflowRuntime, actors, subscriptions and invocation methods on a DaprServer. It finds its
// sidecar through APP_PORT, DAPR_HTTP_PORT, DAPR_GRPC_PORT (and DAPR_API_TOKEN), and prints READY once serving.
// The scripts in this folder drive it through the SDK's clients; what it saw is read back through invocation.
"use strict";

const {
  AbstractActor,
  DaprPubSubStatusEnum,
  DaprServer,
  HttpMethod,
  LogLevel,
  Temporal,
  WorkflowRuntime,
} = require("@dapr/dapr");

const quiet = { logger: { level: LogLevel.Warning } };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- what the app saw, for the drivers to read back ----

const seen = {
  activities: [], // "instanceId:activity:input"
  events: {}, // topic -> [data]
  attempts: {}, // topic -> number of deliveries
  bulk: [], // data of bulk-delivered entries
  actorTurns: {}, // actor id -> { current, max }
};

function note(topic, data) {
  (seen.events[topic] ??= []).push(data);
}

// ---- workflows ----

function logActivity(ctx, name, input) {
  seen.activities.push(`${ctx.getWorkflowInstanceId()}:${name}:${JSON.stringify(input)}`);
}

const upper = (ctx, text) => {
  logActivity(ctx, "upper", text);
  return text.toUpperCase();
};
const exclaim = (ctx, text) => {
  logActivity(ctx, "exclaim", text);
  return `${text}!`;
};
const square = async (ctx, n) => {
  logActivity(ctx, "square", n);
  await sleep(5);
  return n * n;
};
const fail = (ctx, reason) => {
  logActivity(ctx, "fail", reason);
  throw new Error(`activity failed: ${reason}`);
};

const chaining = async function* (ctx, input) {
  const first = yield ctx.callActivity(upper, input);
  const second = yield ctx.callActivity(exclaim, first);
  const third = yield ctx.callActivity(exclaim, second);
  return [first, second, third];
};

const fanOut = async function* (ctx, count) {
  const tasks = [];
  for (let i = 1; i <= count; i++) {
    tasks.push(ctx.callActivity(square, i));
  }
  const squares = yield ctx.whenAll(tasks);
  return { count: squares.length, sum: squares.reduce((a, b) => a + b, 0) };
};

const timer = async function* (ctx, seconds) {
  const started = ctx.getCurrentUtcDateTime().getTime();
  yield ctx.createTimer(seconds);
  return { waitedMs: ctx.getCurrentUtcDateTime().getTime() - started };
};

const approval = async function* (ctx, timeoutSeconds) {
  const decision = ctx.waitForExternalEvent("approval");
  const timeout = ctx.createTimer(timeoutSeconds);
  const winner = yield ctx.whenAny([decision, timeout]);
  if (winner === timeout) {
    return { outcome: "timed out" };
  }
  return { outcome: "decided", decision: decision.getResult() };
};

const child = async function* (ctx, n) {
  const squared = yield ctx.callActivity(square, n);
  return { child: ctx.getWorkflowInstanceId(), squared };
};

const parent = async function* (ctx, count) {
  const children = [];
  for (let i = 1; i <= count; i++) {
    children.push(ctx.callChildWorkflow(child, i));
  }
  const results = yield ctx.whenAll(children);
  return results;
};

const countdown = async function* (ctx, state) {
  const squared = yield ctx.callActivity(square, state.round);
  const seenSoFar = [...state.seen, squared];
  if (state.round < state.rounds) {
    ctx.continueAsNew({ round: state.round + 1, rounds: state.rounds, seen: seenSoFar }, false);
    return;
  }
  return { rounds: state.round, seen: seenSoFar };
};

const waitForGo = async function* (ctx) {
  ctx.setCustomStatus("waiting for go");
  const go = yield ctx.waitForExternalEvent("go");
  return { received: go };
};

const failing = async function* (ctx, reason) {
  return yield ctx.callActivity(fail, reason);
};

const recovering = async function* (ctx, reason) {
  try {
    yield ctx.callActivity(fail, reason);
    return "not reached";
  } catch (error) {
    return `recovered from: ${error.message.includes(reason) ? reason : error.message}`;
  }
};

// ---- actors ----

class Counter extends AbstractActor {
  async add(amount) {
    const id = this.getActorId().getId();
    const turns = (seen.actorTurns[id] ??= { current: 0, max: 0 });
    turns.current++;
    turns.max = Math.max(turns.max, turns.current);
    try {
      // Read, wait, write: two turns running at once would lose an addition.
      const [, count] = await this.getStateManager().tryGetState("count");
      await sleep(10);
      const next = (count ?? 0) + amount;
      await this.getStateManager().setState("count", next);
      return next;
    } finally {
      turns.current--;
    }
  }

  async get() {
    const [, count] = await this.getStateManager().tryGetState("count");
    return count ?? 0;
  }

  async remember(key, value) {
    await this.getStateManager().setState(key, value);
    return "ok";
  }

  async recall(key) {
    const [found, value] = await this.getStateManager().tryGetState(key);
    return found ? value : null;
  }

  async refuse(reason) {
    throw new Error(reason);
  }

  async turns() {
    return seen.actorTurns[this.getActorId().getId()] ?? { current: 0, max: 0 };
  }

  async startReminder(name, dueMs, periodMs, data) {
    await this.registerActorReminder(
      name,
      Temporal.Duration.from({ milliseconds: dueMs }),
      Temporal.Duration.from({ milliseconds: periodMs }),
      undefined,
      data,
    );
    return "ok";
  }

  async stopReminder(name) {
    await this.unregisterActorReminder(name);
    return "ok";
  }

  async receiveReminder(data) {
    const [, fired] = await this.getStateManager().tryGetState("reminders");
    await this.getStateManager().setState("reminders", [...(fired ?? []), data]);
  }

  async startTimer(name, dueMs, periodMs, data) {
    await this.registerActorTimer(
      name,
      "onTimer",
      Temporal.Duration.from({ milliseconds: dueMs }),
      Temporal.Duration.from({ milliseconds: periodMs }),
      undefined,
      data,
    );
    return "ok";
  }

  async stopTimer(name) {
    await this.unregisterActorTimer(name);
    return "ok";
  }

  async onTimer(data) {
    const [, ticks] = await this.getStateManager().tryGetState("ticks");
    await this.getStateManager().setState("ticks", [...(ticks ?? []), data]);
  }
}

// ---- the app ----

async function main() {
  const server = new DaprServer({ clientOptions: quiet, ...quiet });

  await server.pubsub.subscribe("pubsub", "orders", async (data) => {
    note("orders", data);
  });
  await server.pubsub.subscribe("pubsub", "bulk-orders", async (data) => {
    note("bulk-orders", data);
  });
  await server.pubsub.subscribe("pubsub", "flaky", async (data) => {
    const attempts = (seen.attempts.flaky = (seen.attempts.flaky ?? 0) + 1);
    if (attempts === 1) {
      return DaprPubSubStatusEnum.RETRY;
    }
    note("flaky", data);
    return DaprPubSubStatusEnum.SUCCESS;
  });
  await server.pubsub.subscribeBulk("pubsub", "batched", async (data) => {
    seen.bulk.push(data);
    return DaprPubSubStatusEnum.SUCCESS;
  }, { maxMessagesCount: 5, maxAwaitDurationMs: 200 });

  await server.invoker.listen("echo", async ({ body, query, headers }) => ({
    body: JSON.parse(body),
    query,
    header: headers["x-conformance"] ?? null,
  }), { method: HttpMethod.POST });
  await server.invoker.listen("seen", async () => seen, { method: HttpMethod.GET });

  await server.actor.init();
  server.actor.registerActor(Counter);

  await server.start();

  const workflows = new WorkflowRuntime();
  workflows
    .registerWorkflowWithName("chaining", chaining)
    .registerWorkflowWithName("fanOut", fanOut)
    .registerWorkflowWithName("timer", timer)
    .registerWorkflowWithName("approval", approval)
    .registerWorkflowWithName("parent", parent)
    .registerWorkflowWithName("child", child)
    .registerWorkflowWithName("countdown", countdown)
    .registerWorkflowWithName("waitForGo", waitForGo)
    .registerWorkflowWithName("failing", failing)
    .registerWorkflowWithName("recovering", recovering)
    .registerActivityWithName("upper", upper)
    .registerActivityWithName("exclaim", exclaim)
    .registerActivityWithName("square", square)
    .registerActivityWithName("fail", fail);
  await workflows.start();

  console.log("READY");

  const stop = async () => {
    await workflows.stop().catch(() => {});
    await server.stop().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error("app failed to start:", error);
  process.exit(1);
});
