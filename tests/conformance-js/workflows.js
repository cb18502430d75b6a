// Workflow patterns of app.js driven through the JavaScript SDK's DaprWorkflowClient: `node workflows.js <scenario>`.
"use strict";

const { DaprWorkflowClient, WorkflowRuntimeStatus } = require("@dapr/dapr");
const { DaprClient, appSaw, check, eventually, quiet, run, unique } = require("./lib");

const workflows = new DaprWorkflowClient(quiet);
const client = new DaprClient(quiet);

const statusName = (state) => (state ? WorkflowRuntimeStatus[state.runtimeStatus] : "MISSING");
const output = (state) => (state?.serializedOutput ? JSON.parse(state.serializedOutput) : null);

async function finish(instanceId) {
  const state = await workflows.waitForWorkflowCompletion(instanceId, true, 45);
  check(state, `workflow ${instanceId} does not exist`);
  return state;
}

async function activitiesOf(instanceId) {
  const saw = await appSaw(client);
  return saw.activities.filter((a) => a.startsWith(`${instanceId}:`)).map((a) => a.slice(instanceId.length + 1));
}

run({
  async chaining() {
    const id = await workflows.scheduleNewWorkflow("chaining", "js", unique("chain"));
    const state = await finish(id);
    return { instanceId: id, status: statusName(state), output: output(state), activities: await activitiesOf(id) };
  },

  async fanOutFanIn() {
    // More activities than the SDK's worker keeps (10 running, 100 waiting; it drops the rest).
    const id = await workflows.scheduleNewWorkflow("fanOut", 300, unique("fan"));
    const state = await finish(id);
    return { instanceId: id, status: statusName(state), output: output(state), activities: (await activitiesOf(id)).length };
  },

  async timer() {
    const started = Date.now();
    const id = await workflows.scheduleNewWorkflow("timer", 1, unique("timer"));
    const state = await finish(id);
    return { instanceId: id, status: statusName(state), output: output(state), wallMs: Date.now() - started };
  },

  async externalEvents() {
    const decided = await workflows.scheduleNewWorkflow("approval", 30, unique("approve"));
    await workflows.waitForWorkflowStart(decided, false, 30);
    await workflows.raiseEvent(decided, "approval", { approved: true, by: "js" });
    const timedOut = await workflows.scheduleNewWorkflow("approval", 1, unique("approve"));
    const [a, b] = await Promise.all([finish(decided), finish(timedOut)]);
    return { instanceId: decided, status: statusName(a), output: output(a), timedOut: { status: statusName(b), output: output(b) } };
  },

  async childWorkflows() {
    const id = await workflows.scheduleNewWorkflow("parent", 3, unique("parent"));
    const state = await finish(id);
    const children = [];
    for (const result of output(state) ?? []) {
      children.push({ instanceId: result.child, status: statusName(await workflows.getWorkflowState(result.child, true)) });
    }
    return { instanceId: id, status: statusName(state), output: output(state), children };
  },

  async continueAsNew() {
    const id = await workflows.scheduleNewWorkflow("countdown", { round: 1, rounds: 3, seen: [] }, unique("again"));
    const state = await finish(id);
    return { instanceId: id, status: statusName(state), output: output(state), activities: await activitiesOf(id) };
  },

  async suspendResume() {
    const id = await workflows.scheduleNewWorkflow("waitForGo", undefined, unique("pause"));
    await workflows.waitForWorkflowStart(id, false, 30);
    await eventually(async () => (await workflows.getWorkflowState(id, true))?.customStatus, "the workflow to set its custom status");
    await workflows.suspendWorkflow(id);
    const suspended = statusName(await workflows.getWorkflowState(id, false));
    await workflows.raiseEvent(id, "go", "now");
    // The event waits while suspended: the instance is still suspended once the event is stored.
    const afterEvent = statusName(await workflows.getWorkflowState(id, false));
    await workflows.resumeWorkflow(id);
    const state = await finish(id);
    return { instanceId: id, suspended, afterEvent, status: statusName(state), output: output(state), customStatus: state.customStatus };
  },

  async terminate() {
    const id = await workflows.scheduleNewWorkflow("waitForGo", undefined, unique("stop"));
    await workflows.waitForWorkflowStart(id, false, 30);
    await workflows.terminateWorkflow(id, { reason: "stopped by the JS client" });
    const state = await finish(id);
    return { instanceId: id, status: statusName(state), output: output(state) };
  },

  async purge() {
    const id = await workflows.scheduleNewWorkflow("chaining", "purge", unique("purge"));
    const finished = statusName(await finish(id));
    const purged = await workflows.purgeWorkflow(id);
    const existsAfter = (await workflows.getWorkflowState(id, false)) !== undefined;
    const purgedAgain = await workflows.purgeWorkflow(id);

    const running = await workflows.scheduleNewWorkflow("waitForGo", undefined, unique("running"));
    await workflows.waitForWorkflowStart(running, false, 30);
    let runningRefused = false;
    try {
      await workflows.purgeWorkflow(running);
    } catch {
      runningRefused = true;
    }
    await workflows.terminateWorkflow(running, null);
    await finish(running);
    return { instanceId: id, finished, purged, existsAfter, purgedAgain, runningRefused, runningPurgedOnceEnded: await workflows.purgeWorkflow(running) };
  },

  // The SDK's older HTTP workflow client (DaprClient.workflow), over daprd's /v1.0-beta1/workflows API.
  async httpWorkflowApi() {
    const statusOf = async (id) => (await client.workflow.get(id)).runtimeStatus;
    const reached = (id, status) => eventually(async () => (await statusOf(id)) === status, `${id} to be ${status}`, 30_000);

    const summed = await client.workflow.start("fanOut", 5, unique("http-fan"));
    await reached(summed, "COMPLETED");
    const sum = await client.workflow.get(summed);

    const waiting = await client.workflow.start("waitForGo", { note: "json input" }, unique("http-wait"));
    await reached(waiting, "RUNNING");
    await client.workflow.pause(waiting);
    const paused = await statusOf(waiting);
    await client.workflow.raise(waiting, "go", { via: "http" });
    await client.workflow.resume(waiting);
    await reached(waiting, "COMPLETED");
    const raised = await client.workflow.get(waiting);

    const stopped = await client.workflow.start("waitForGo", undefined, unique("http-stop"));
    await reached(stopped, "RUNNING");
    await client.workflow.terminate(stopped);
    await reached(stopped, "TERMINATED");
    await client.workflow.purge(stopped);
    const purged = await client.workflow.get(stopped).then(() => false, () => true);

    // A string input goes as plain text, not JSON; daprd takes the body as it is.
    const text = await client.workflow.start("chaining", "plain text", unique("http-text"));
    const textInput = (await client.workflow.get(text)).properties["dapr.workflow.input"];

    return {
      instanceId: summed,
      sum: JSON.parse(sum.properties["dapr.workflow.output"]),
      textInput,
      paused,
      raised: { input: JSON.parse(raised.properties["dapr.workflow.input"]), output: JSON.parse(raised.properties["dapr.workflow.output"]) },
      purged,
    };
  },

  async failures() {
    const failed = await workflows.scheduleNewWorkflow("failing", "boom", unique("fail"));
    const recovered = await workflows.scheduleNewWorkflow("recovering", "bang", unique("recover"));
    const [a, b] = await Promise.all([finish(failed), finish(recovered)]);
    return {
      instanceId: failed,
      status: statusName(a),
      failure: a.workflowFailureDetails?.getErrorMessage() ?? null,
      recovered: { status: statusName(b), output: output(b) },
    };
  },
});
