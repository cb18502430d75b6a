// The Counter actor hosted by app.js, called through the JavaScript SDK's ActorProxyBuilder: `node actors.js <scenario>`.
"use strict";

const { ActorId, ActorProxyBuilder } = require("@dapr/dapr");
const { DaprClient, check, eventually, quiet, run, unique } = require("./lib");

const client = new DaprClient(quiet);

// The proxy calls the actor type named like this class; its methods are the actor's, run in app.js.
class Counter {}

function counter(id) {
  return new ActorProxyBuilder(Counter, client).build(new ActorId(id));
}

run({
  async callsAndState() {
    const id = unique("counter");
    const actor = counter(id);
    const first = await actor.add(5);
    const second = await actor.add(7);
    const profile = { name: "ada", languages: ["js", "c#"], active: true };
    await actor.remember("profile", profile);
    return { actorId: id, first, second, count: await actor.get(), profile: await actor.recall("profile"), missing: await actor.recall("nothing") };
  },

  async concurrentCalls() {
    const id = unique("busy");
    const actor = counter(id);
    const results = await Promise.all(Array.from({ length: 20 }, () => actor.add(1)));
    return { actorId: id, results: results.sort((a, b) => a - b), count: await actor.get(), turns: await actor.turns() };
  },

  async failingCall() {
    const id = unique("refuse");
    try {
      await counter(id).refuse("too many");
    } catch (error) {
      // The SDK throws the sidecar's status and body; daprd passes the app's own error body on.
      const failure = JSON.parse(error.message);
      return { actorId: id, status: failure.status, body: JSON.parse(failure.error_msg) };
    }
    throw new Error("the actor call that throws did not fail");
  },

  async reminders() {
    const id = unique("remind");
    const actor = counter(id);
    await actor.startReminder("ping", 100, 300, "ring");
    const fired = await eventually(async () => {
      const seen = await actor.recall("reminders");
      return seen?.length >= 2 ? seen : null;
    }, "the reminder to fire twice");
    await actor.stopReminder("ping");
    return { actorId: id, fired };
  },

  async timers() {
    const id = unique("tick");
    const actor = counter(id);
    await actor.startTimer("tick", 0, 200, "tock");
    const ticks = await eventually(async () => {
      const seen = await actor.recall("ticks");
      return seen?.length >= 2 ? seen : null;
    }, "the timer to fire twice");
    await actor.stopTimer("tick");
    check(ticks.every((t) => t === "tock"), `timer data came back as ${JSON.stringify(ticks)}`);
    return { actorId: id, ticks };
  },
});
