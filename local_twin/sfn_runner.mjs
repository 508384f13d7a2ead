// The local twin's Amazon States Language interpreter: aws-local-stepfunctions, driven over stdin/stdout.
//
// One Node process serves every execution of a twin run (or a test session). Python writes one JSON
// message per line; this process answers one per line:
//   <- {"op":"define","id":D,"definition":{...}}          -> {"op":"defined","id":D}
//   <- {"op":"start","definition":D,"execution":ARN,"input":{...},"context":{...}}
//   -> {"op":"task","id":N,"execution":ARN,"state":NAME,"resource":RES,"input":{...}}   (every Task)
//   <- {"op":"result","id":N,"output":...} | {"op":"result","id":N,"error":NAME,"cause":TEXT}
//   -> {"op":"event","execution":ARN,"type":...,"state":NAME,...}                       (state events)
//   -> {"op":"done","execution":ARN,"status":"SUCCEEDED"|"FAILED"|"TIMED_OUT","output"|"error","cause"}
// Wait states and Retry intervals take no time (the twin's services answer at once).
//
// Two deviations of aws-local-stepfunctions 3.0.0 from the Amazon States Language are corrected before
// it is loaded (each replacement must match exactly once, or this process stops):
//   1. intrinsic string literals keep their escapes ('\{' stays '\{'), so States.StringToJson('\{"a":1\}')
//      fails; the specification's escapes (\' \{ \} \\) are now unescaped;
//   2. every string an intrinsic function returns has ALL its backslashes removed, so
//      States.JsonToString of a value holding a quote returns text that is not JSON; results now stay as
//      the function returned them.
import { createRequire } from 'node:module';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

function patchedInterpreter() {
  const original = require.resolve('aws-local-stepfunctions').replace(/main\.node\.cjs$/, 'main.node.esm.js');
  const source = readFileSync(original, 'utf8');
  const replacements = [
    [
      'const lastSingleQuote = arg.lastIndexOf("\'");\n      return arg.slice(1, lastSingleQuote);',
      'const lastSingleQuote = arg.lastIndexOf("\'");\n      return arg.slice(1, lastSingleQuote).replace(/\\\\([\'{}\\\\])/g, "$1");',
    ],
    ['      result = result.replaceAll("\\\\", "");\n', ''],
  ];
  let patched = source;
  for (const [from, to] of replacements) {
    const count = patched.split(from).length - 1;
    if (count !== 1) {
      throw new Error(`aws-local-stepfunctions changed: expected one occurrence of ${JSON.stringify(from)}, found ${count}`);
    }
    patched = patched.replace(from, () => to);
  }
  const target = join(dirname(original), 'main.node.local-twin.mjs');
  if (!existsSync(target) || readFileSync(target, 'utf8') !== patched) {
    writeFileSync(target, patched);
  }
  return target;
}

const { StateMachine } = await import(pathToFileURL(patchedInterpreter()).href);

const definitions = new Map();
const pending = new Map();
let nextTask = 0;

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

function taskStates(states, found = []) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') found.push([name, state]);
    for (const branch of state.Branches ?? []) taskStates(branch.States, found);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) taskStates(processor.States, found);
  }
  return found;
}

function allStates(states, found = []) {
  for (const [name, state] of Object.entries(states)) {
    found.push([name, state]);
    for (const branch of state.Branches ?? []) allStates(branch.States, found);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) allStates(processor.States, found);
  }
  return found;
}

function define(id, definition) {
  const machine = new StateMachine(definition, { validationOptions: { checkPaths: false } });
  definitions.set(id, { machine, definition });
  send({ op: 'defined', id });
}

function start({ definition: id, execution, input, context }) {
  const { machine, definition } = definitions.get(id);
  const handlers = {};
  for (const [name, state] of taskStates(definition.States)) {
    handlers[name] = (taskInput) =>
      new Promise((resolve, reject) => {
        const taskId = nextTask++;
        pending.set(taskId, { resolve, reject });
        send({ op: 'task', id: taskId, execution, state: name, resource: state.Resource, input: taskInput });
      });
  }
  const waits = {};
  const retries = {};
  for (const [name, state] of allStates(definition.States)) {
    if (state.Type === 'Wait') waits[name] = 0;
    if (state.Retry) retries[name] = state.Retry.map(() => 0);
  }
  const run = machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context,
  });
  // The execution's events are forwarded before its end, so its path is complete when Python sees it.
  const logged = (async () => {
    for await (const event of run.eventLogs) {
      const { type, state, error, retry } = event;
      const message = { op: 'event', execution, type };
      if (state) message.state = state.name;
      if (event.Error !== undefined) {
        message.error = event.Error;
        message.cause = event.Cause;
      }
      if (retry) message.attempt = retry.attempt;
      if (error) message.error = error;
      send(message);
    }
  })().catch((error) => send({ op: 'log', message: `event log failed: ${error}` }));
  run.result.then(
    async (output) => {
      await logged;
      send({ op: 'done', execution, status: 'SUCCEEDED', output });
    },
    async (failure) => {
      await logged;
      const cause = failure.cause ?? failure;
      const status = failure.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
      send({ op: 'done', execution, status, error: cause.name, cause: cause.message });
    },
  );
}

function result({ id, output, error, cause }) {
  const waiting = pending.get(id);
  if (!waiting) {
    send({ op: 'fatal', message: `no task ${id} is waiting for a result` });
    return;
  }
  pending.delete(id);
  if (error !== undefined) {
    const failure = new Error(cause ?? '');
    failure.name = error;
    waiting.reject(failure);
  } else {
    waiting.resolve(output);
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let message;
  try {
    message = JSON.parse(line);
    if (message.op === 'define') define(message.id, message.definition);
    else if (message.op === 'start') start(message);
    else if (message.op === 'result') result(message);
    else if (message.op === 'exit') process.exit(0);
    else send({ op: 'fatal', message: `unknown op ${message.op}` });
  } catch (error) {
    send({ op: 'fatal', message: `${error.name}: ${error.message}`, request: message?.op });
  }
});
lines.on('close', () => process.exit(0));
send({ op: 'ready' });
