// The official Genkit tools from npm against the real server (issue 11):
// genkit/beta/client's runFlow and streamFlow on the flow server, and
// genkit-cli's `flow:run` and `genkit start` through the runtime file and the
// reflection API, with the traces arriving at the tools' telemetry server, and
// the Developer UI's backend (its API, not its browser pages) listing,
// running, streaming and tracing our flows.
//
// Run by run.sh (CTest: genkit_official_tools), which installs the pinned
// tools with install.sh and sets:
//   GENKIT_ENDPOINTS_BINARY  the server (supervisor) binary
//   GENKIT_TOOLS_DIR         the folder install.sh installed into
// Protocols: shared/docs/genkit-protocols.md.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const BINARY = path.resolve(process.env.GENKIT_ENDPOINTS_BINARY ?? '');
const TOOLS_DIR = path.resolve(process.env.GENKIT_TOOLS_DIR ?? '');
assert.ok(process.env.GENKIT_ENDPOINTS_BINARY && fs.statSync(BINARY, { throwIfNoEntry: false })?.isFile(),
          `GENKIT_ENDPOINTS_BINARY (${process.env.GENKIT_ENDPOINTS_BINARY}) must name the server binary`);
assert.ok(process.env.GENKIT_TOOLS_DIR && fs.existsSync(path.join(TOOLS_DIR, 'node_modules', 'genkit-cli')),
          `GENKIT_TOOLS_DIR (${TOOLS_DIR}) must hold the tools installed by install.sh`);

// genkit/beta/client, the file the package's own "exports" map names for
// `import` (resolved by hand: the package lives in the install folder, not
// beside this file).
const genkitDir = path.join(TOOLS_DIR, 'node_modules', 'genkit');
const genkitPkg = JSON.parse(fs.readFileSync(path.join(genkitDir, 'package.json'), 'utf8'));
const { runFlow, streamFlow } = await import(
  pathToFileURL(path.join(genkitDir, genkitPkg.exports['./beta/client'].import)).href);
const GENKIT_CLI = path.join(TOOLS_DIR, 'node_modules', '.bin', 'genkit');
const CLI_FLAGS = ['--non-interactive', '--no-update-notification'];

const CHUNK_DELAY_MS = 100;  // MOCK_CHUNK_DELAY_MS: the mock model's pause between stream chunks
const SANITIZER_REPORT = /ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer/;
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// An error that ends a waitFor() at once (a process it waits on has exited).
class Fatal extends Error {}

// Polls probe() until it returns a truthy value; its errors are retried
// (and reported on timeout), but for Fatal ones.
async function waitFor(what, timeoutMs, probe, { intervalMs = 100, onTimeout } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (last ? ` (last error: ${last.message})` : '') +
                    (onTimeout ? `\n${onTimeout()}` : ''));
    }
    await sleep(intervalMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Every child process goes here; after() (and process exit) kills the live ones.
const children = new Set();
process.on('exit', () => {
  for (const c of children) if (c.alive) try { c.child.kill('SIGKILL'); } catch {}
});

function startProcess(name, command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, stdout: '', stderr: '', alive: true };
  child.stdout.setEncoding('utf8').on('data', (d) => { proc.stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { proc.stderr += d; });
  proc.exited = new Promise((resolve) => {
    child.on('error', (err) => {
      proc.alive = false; children.delete(proc); proc.status = `failed to start: ${err.message}`;
      resolve({ code: null, signal: null, error: err });
    });
    child.on('close', (code, signal) => {
      proc.alive = false; children.delete(proc); proc.status = `exited with code ${code}, signal ${signal}`;
      resolve({ code, signal });
    });
  });
  proc.output = () => (proc.stdout + proc.stderr).replace(ANSI, '');
  proc.gone = () => new Fatal(`${name} ${proc.status}; its output:\n${tail(proc.output())}`);
  children.add(proc);
  return proc;
}

// Resolves with the exit, or kills the process (SIGKILL) and throws after timeoutMs.
async function waitExit(proc, timeoutMs) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
  const result = await Promise.race([proc.exited, timeout]);
  clearTimeout(timer);
  if (result === 'timeout') {
    proc.child.kill('SIGKILL');
    await proc.exited;
    throw new Error(`${proc.name} did not exit within ${timeoutMs} ms; output:\n${proc.output().slice(-4000)}`);
  }
  if (result.error) throw new Error(`${proc.name} could not start: ${result.error.message}`);
  return result;
}

function tail(text, n = 6000) {
  return text.length > n ? '…' + text.slice(-n) : text;
}

describe('the official Genkit tools against genkit-endpoints', () => {
  let tmpRoot, projectDir, homeDir, runtimesDir;
  let server, port, restUrl, runtimeFile, runtime, reflectionUrl;

  const childEnv = () => {
    // A clean environment: nothing of the caller's Genkit, model or server
    // settings leaks in; the sanitizer options of the ASan build do.
    const env = {
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH || '/usr/bin:/bin'}`,
      HOME: homeDir,
      TMPDIR: process.env.TMPDIR || os.tmpdir(),
      NO_COLOR: '1',
    };
    for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'LANG']) {
      if (process.env[k] !== undefined) env[k] = process.env[k];
    }
    return env;
  };

  async function cli(args, timeoutMs = 60000) {
    const proc = startProcess(`genkit ${args[0]}`, GENKIT_CLI, [...args, ...CLI_FLAGS], { cwd: projectDir, env: childEnv() });
    const { code, signal } = await waitExit(proc, timeoutMs);
    return { code, signal, stdout: proc.stdout.replace(ANSI, ''), stderr: proc.stderr.replace(ANSI, ''), output: proc.output() };
  }

  const serverLog = (n = 6000) => (server ? tail(server.output(), n) : '(no server)');
  // While waiting for the server to come up: stop at once if it is gone or
  // a sanitizer (the ASan build) has reported.
  const serverUp = () => {
    if (!server.alive) throw server.gone();
    if (SANITIZER_REPORT.test(server.output())) throw new Fatal(`sanitizer report from the server:\n${serverLog(20000)}`);
  };

  // tell_joke through the reflection API (what the Dev UI and flow:run do);
  // returns its trace id.
  async function runJoke() {
    const r = await fetch(`${reflectionUrl}/api/runAction`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ key: '/flow/tell_joke', input: { name: 'traces' } }),
      signal: AbortSignal.timeout(20000),
    });
    assert.equal(r.status, 200);
    const traceId = r.headers.get('x-genkit-trace-id');
    assert.match(traceId ?? '', /^[0-9a-f]{32}$/, `X-Genkit-Trace-Id: ${traceId}`);
    const body = await r.json();
    assert.match(JSON.stringify(body.result), /traces/, JSON.stringify(body));
    assert.equal(body.telemetry?.traceId, traceId, JSON.stringify(body));
    return traceId;
  }

  before(async () => {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'genkit-official-tools-'));
    projectDir = path.join(tmpRoot, 'project');
    homeDir = path.join(tmpRoot, 'home');
    fs.mkdirSync(projectDir);
    fs.mkdirSync(homeDir);
    // package.json makes it the project root for the server and the CLI.
    fs.writeFileSync(path.join(projectDir, 'package.json'),
                     JSON.stringify({ name: 'genkit-official-tools-project', private: true }) + '\n');
    runtimesDir = path.join(projectDir, '.genkit', 'runtimes');

    port = await freePort();
    restUrl = `http://127.0.0.1:${port}`;
    server = startProcess('genkit-endpoints', BINARY, ['--no-grpc'], {
      cwd: projectDir,
      env: {
        ...childEnv(),
        GENKIT_ENV: 'dev',
        BIND_HOST: '127.0.0.1',
        PORT: String(port),
        WEB_CONCURRENCY: '2',
        MOCK_CHUNK_DELAY_MS: String(CHUNK_DELAY_MS),
      },
    });

    runtimeFile = await waitFor(`the runtime file in ${runtimesDir}`, 30000, () => {
      serverUp();
      if (!fs.existsSync(runtimesDir)) return null;
      const name = fs.readdirSync(runtimesDir).find((f) => f.startsWith(`${server.child.pid}-`) && f.endsWith('.json'));
      return name ? path.join(runtimesDir, name) : null;
    }, { onTimeout: () => `server output:\n${serverLog()}` });
    runtime = JSON.parse(fs.readFileSync(runtimeFile, 'utf8'));
    assert.equal(runtime.pid, server.child.pid);
    assert.equal(typeof runtime.id, 'string');
    assert.equal(runtime.reflectionApiSpecVersion, 1);
    assert.ok(!Number.isNaN(Date.parse(runtime.timestamp)), `timestamp ${runtime.timestamp}`);
    reflectionUrl = runtime.reflectionServerUrl.replace(/\/$/, '');
    assert.match(reflectionUrl, /^http:\/\/(127\.0\.0\.1|localhost):3[12]\d\d$/);

    await waitFor(`GET ${restUrl}/health`, 30000, async () => {
      serverUp();
      const r = await fetch(`${restUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return r.status === 200;
    }, { onTimeout: () => `server output:\n${serverLog()}` });
    await waitFor(`GET ${reflectionUrl}/api/__health?id=…`, 30000, async () => {
      serverUp();
      const r = await fetch(`${reflectionUrl}/api/__health?id=${encodeURIComponent(runtime.id)}`,
                            { signal: AbortSignal.timeout(2000) });
      return r.status === 200;
    }, { onTimeout: () => `server output:\n${serverLog()}` });

    const opt = await cli(['config', 'set', 'analyticsOptOut', 'true']);
    assert.equal(opt.code, 0, `genkit config set analyticsOptOut true:\n${opt.output}`);
  });

  after(async () => {
    for (const c of [...children]) {
      c.child.kill('SIGKILL');
      await Promise.race([c.exited, sleep(5000)]);
    }
    if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
  });

  it('runFlow (genkit/beta/client) runs tell_joke', { timeout: 30000 }, async () => {
    const result = await runFlow({
      url: `${restUrl}/tell_joke`, input: { name: 'cats' }, abortSignal: AbortSignal.timeout(20000),
    });
    // tell_joke's output schema is a string (GET /api/actions); a {joke}
    // object would be read the same way.
    const joke = typeof result === 'string' ? result : result?.joke;
    assert.equal(typeof joke, 'string', `result: ${JSON.stringify(result)}`);
    assert.match(joke, /cats/);
  });

  it('streamFlow (genkit/beta/client) gets tell_story chunk by chunk before the result', { timeout: 30000 }, async () => {
    const t0 = performance.now();
    const { stream, output } = streamFlow({
      url: `${restUrl}/tell_story`, input: { topic: 'dogs' }, abortSignal: AbortSignal.timeout(20000),
    });
    let outputAt;
    const outputDone = output.then((v) => { outputAt = performance.now(); return v; });
    const chunks = [];
    for await (const chunk of stream) chunks.push({ chunk, at: performance.now() });
    const result = await outputDone;
    const timeline = chunks.map((c) => `${JSON.stringify(c.chunk)} @${(c.at - t0).toFixed(0)}ms`).join(', ') +
                     `; output @${(outputAt - t0).toFixed(0)}ms`;
    assert.ok(chunks.length >= 2, `at least 2 chunks expected: ${timeline}`);
    for (const c of chunks) assert.equal(typeof c.chunk, 'string', timeline);
    assert.equal(result, chunks.map((c) => c.chunk).join(''), timeline);
    assert.match(result, /dogs/);
    // Streamed, not buffered: the first chunk came well before the output
    // (there is at least one chunk delay between them; a loaded machine may
    // stall this process a little, hence only half of one).
    assert.ok(chunks[0].at < outputAt, `first chunk after the output: ${timeline}`);
    assert.ok(outputAt - chunks[0].at >= CHUNK_DELAY_MS / 2,
              `the chunks arrived together with the output (not streamed): ${timeline}`);
  });

  it('an invalid input is refused: runFlow gets 400 INVALID_ARGUMENT, streamFlow an error', { timeout: 30000 }, async () => {
    await assert.rejects(
      runFlow({ url: `${restUrl}/tell_joke`, input: { name: 5 }, abortSignal: AbortSignal.timeout(20000) }),
      (err) => {
        assert.match(err.message, /^Server returned: 400: /);
        assert.match(err.message, /INVALID_ARGUMENT/);
        const body = JSON.parse(err.message.replace(/^Server returned: 400: /, ''));
        assert.equal(body.status, 'INVALID_ARGUMENT');
        assert.ok(body.details.errors.some((e) => e.path === 'name'), err.message);
        return true;
      });
    const { stream, output } = streamFlow({
      url: `${restUrl}/tell_story`, input: { topic: 5 }, abortSignal: AbortSignal.timeout(20000),
    });
    const outcome = output.then(() => null, (err) => err);
    try { for await (const _ of stream) { /* none expected */ } } catch { /* the same error as output */ }
    const err = await outcome;
    assert.ok(err instanceof Error, 'streamFlow with an invalid input resolved');
    assert.match(err.message, /INVALID_ARGUMENT/);
  });

  it('genkit flow:run finds the runtime file and runs tell_joke', { timeout: 90000 }, async () => {
    const r = await cli(['flow:run', 'tell_joke', '{"name":"cats"}']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /Result:\s*\n[^\n]*cats/, r.output);
    assert.match(r.stdout, /Trace ID: [0-9a-f]{32}\b/, r.output);
    assert.doesNotMatch(r.output, /Command exited with an Error/, r.output);
  });

  it('genkit flow:run --stream prints the chunks of tell_story, then the result', { timeout: 90000 }, async () => {
    const r = await cli(['flow:run', 'tell_story', '{"topic":"dogs"}', '--stream']);
    assert.equal(r.code, 0, r.output);
    const lines = r.stdout.split('\n');
    const resultAt = lines.findIndex((l) => l.trim() === 'Result:');
    assert.ok(resultAt > 0, r.output);
    const chunks = lines.slice(0, resultAt).filter((l) => /^".*"$/.test(l.trim())).map((l) => JSON.parse(l.trim()));
    assert.ok(chunks.length >= 2, `at least 2 chunks expected:\n${r.output}`);
    assert.equal(lines[resultAt + 1], chunks.join(''), r.output);
    assert.match(lines[resultAt + 1], /dogs/);
    assert.match(r.stdout, /Trace ID: [0-9a-f]{32}\b/, r.output);
  });

  it('genkit flow:run shows the error of an invalid input', { timeout: 90000 }, async () => {
    const r = await cli(['flow:run', 'tell_joke', '{"name":5}']);
    assert.equal(r.code, 0, r.output);  // (the CLI exits 0 on errors)
    assert.match(r.output, /Command exited with an Error/, r.output);
    // INVALID_ARGUMENT (3); genkit's own runtime says INTERNAL (13) for an
    // input schema failure of a non-streaming runAction.
    assert.match(r.output, /Code: (3|13)\b/, r.output);
    assert.match(r.output, /Message: .*name/, r.output);
    assert.doesNotMatch(r.stdout, /Result:/, r.output);
  });

  it('genkit start attaches to the running server and receives its traces', { timeout: 120000 }, async () => {
    // First announce a telemetry server of our own (as the tools do with
    // POST /api/notify) and see a run's trace reach it: from then on, traces
    // reach genkit start's telemetry server only once genkit start has found
    // the runtime file and announced itself.
    const recorded = new Set();
    const recorder = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => {
        try { recorded.add(JSON.parse(body).traceId); } catch { /* not a trace */ }
        res.end('OK');
      });
    });
    await new Promise((resolve, reject) => recorder.once('error', reject).listen(0, '127.0.0.1', resolve));
    let start;
    try {
      const notified = await fetch(`${reflectionUrl}/api/notify`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ telemetryServerUrl: `http://127.0.0.1:${recorder.address().port}`,
                               reflectionApiSpecVersion: 1 }),
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(notified.status, 200, await notified.text());
      const firstTrace = await runJoke();
      await waitFor(`trace ${firstTrace} at our own telemetry server`, 10000, () => recorded.has(firstTrace),
                    { onTimeout: () => `server output:\n${serverLog()}` });

      start = startProcess('genkit start', GENKIT_CLI, ['start', '--noui', ...CLI_FLAGS],
                           { cwd: projectDir, env: childEnv() });
      const telemetryUrl = await waitFor('"Telemetry API running on …" from genkit start', 30000, () => {
        if (!start.alive) throw start.gone();
        const m = start.output().match(/Telemetry API running on (http:\/\/[^\s]+)/);
        return m ? m[1].replace(/\/$/, '') : null;
      }, { onTimeout: () => `genkit start's output:\n${start.output()}` });
      assert.match(telemetryUrl, /^http:\/\/(127\.0\.0\.1|localhost):\d+$/);
      await waitFor(`GET ${telemetryUrl}/api/__health`, 10000, async () =>
        (await fetch(`${telemetryUrl}/api/__health`, { signal: AbortSignal.timeout(2000) })).status === 200);

      // Run tell_joke through the reflection API until its trace shows up at
      // the telemetry server (the first runs may precede genkit start's notify).
      let found, attempts = 0;
      const deadline = Date.now() + 45000;
      while (!found && Date.now() < deadline) {
        if (!start.alive) throw start.gone();
        attempts++;
        const traceId = await runJoke();
        const until = Math.min(Date.now() + 3000, deadline);
        while (Date.now() < until) {
          const t = await fetch(`${telemetryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5000) });
          const text = t.status === 200 ? await t.text() : '';
          const trace = text ? JSON.parse(text) : null;
          const spans = Object.values(trace?.spans ?? {});
          const root = spans.find((s) => !s.parentSpanId);
          // Complete: the root has ended, and the model call's span is there
          // (a run during genkit start's notify may split its spans between
          // the two telemetry servers: then the next run is looked at).
          if (root?.attributes?.['genkit:state'] &&
              spans.some((s) => s.attributes?.['genkit:metadata:subtype'] === 'model')) {
            found = { traceId, trace, root };
            break;
          }
          await sleep(200);
        }
      }
      assert.ok(found, `no trace of the reflection runs reached ${telemetryUrl} after ${attempts} runs\n` +
                       `genkit start:\n${start.output()}\nserver:\n${serverLog()}`);
      const { traceId, trace, root } = found;
      assert.equal(trace.traceId, traceId);
      assert.equal(root.traceId, traceId);
      assert.equal(root.displayName, 'tell_joke');
      assert.equal(root.attributes['genkit:name'], 'tell_joke');
      assert.equal(root.attributes['genkit:isRoot'], true);
      assert.equal(root.attributes['genkit:type'], 'action');
      assert.equal(root.attributes['genkit:metadata:subtype'], 'flow');
      assert.equal(root.attributes['genkit:state'], 'success');
      assert.match(root.attributes['genkit:input'], /traces/);
      assert.match(root.attributes['genkit:output'], /traces/);
      for (const s of Object.values(trace.spans)) {
        assert.equal(s.traceId, traceId);
        if (s !== root) assert.ok(trace.spans[s.parentSpanId], `span ${s.spanId}'s parent is not in the trace`);
      }
      // ... and the same trace is listed by the telemetry server.
      const list = await (await fetch(`${telemetryUrl}/api/traces?limit=50`, { signal: AbortSignal.timeout(5000) })).json();
      assert.ok(list.traces.some((t) => t.traceId === traceId), `trace ${traceId} not in GET /api/traces`);

      // Ctrl-C stops genkit start (with no command to run, SIGTERM only
      // closes its telemetry server: the CLI keeps running).
      start.child.kill('SIGINT');
      await waitExit(start, 15000);
    } finally {
      if (start?.alive) start.child.kill('SIGKILL');
      recorder.closeAllConnections();
      recorder.close();
    }
  });

  it('the Developer UI\'s backend (genkit start without --noui) lists, runs, streams and traces our flows',
     { timeout: 120000 }, async () => {
    // `genkit start` with no command attaches to the running server through
    // the runtime file; without --noui it also serves the Dev UI: its browser
    // pages (downloaded on first use: missing offline) are not used here,
    // only the API they call (tools-common's server.js and router.js):
    // tRPC queries GET /api/<procedure>?input=<JSON> answered with
    // {"result":{"data":…}}, and the plain routes POST /api/runAction and
    // POST /api/streamAction with {runtimeId, key, input}.
    const uiPort = await freePort();
    const start = startProcess('genkit start (Dev UI)', GENKIT_CLI,
                               ['start', '--port', String(uiPort), '--host', '127.0.0.1', ...CLI_FLAGS],
                               { cwd: projectDir, env: childEnv() });
    try {
      const uiUrl = await waitFor('"Genkit Developer UI: …" from genkit start', 30000, () => {
        if (!start.alive) throw start.gone();
        const m = start.output().match(/Genkit Developer UI: (http:\/\/[^\s]+)/);
        return m ? m[1].replace(/\/$/, '') : null;
      }, { onTimeout: () => `genkit start's output:\n${start.output()}` });
      assert.equal(uiUrl, `http://localhost:${uiPort}`);
      const ui = `http://127.0.0.1:${uiPort}`;  // it listens on 127.0.0.1 (--host)
      const context = () => `\ngenkit start:\n${start.output()}\nserver:\n${serverLog()}`;

      async function query(procedure, input) {
        if (!start.alive) throw start.gone();
        const r = await fetch(`${ui}/api/${procedure}` +
                              (input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`),
                              { signal: AbortSignal.timeout(10000) });
        const text = await r.text();
        assert.equal(r.status, 200, `GET /api/${procedure}: ${r.status} ${text}${context()}`);
        return JSON.parse(text).result.data;
      }
      async function post(route, body) {
        if (!start.alive) throw start.gone();
        return fetch(`${ui}/api/${route}`, {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
          signal: AbortSignal.timeout(20000),
        });
      }

      await waitFor(`GET ${ui}/api/__health`, 10000, async () => {
        if (!start.alive) throw start.gone();
        return (await fetch(`${ui}/api/__health`, { signal: AbortSignal.timeout(2000) })).status === 200;
      });
      // The UI's "connected" state: the runtime it found in the runtime file.
      const current = await waitFor('our runtime as the Dev UI\'s current runtime (getCurrentRuntime)', 30000,
        async () => { if (!start.alive) throw start.gone(); const c = await query('getCurrentRuntime'); return c?.id === runtime.id && c; },
        { onTimeout: context });
      assert.equal(current.pid, server.child.pid);
      assert.equal(current.reflectionServerUrl.replace(/\/$/, ''), reflectionUrl);
      const runtimes = await query('getActiveRuntimes');
      assert.deepEqual(runtimes.map((r) => r.id), [runtime.id], JSON.stringify(runtimes));

      // 1. listActions: what our /api/actions says, passed through.
      const actions = await query('listActions', { runtimeId: runtime.id });
      const ours = await (await fetch(`${reflectionUrl}/api/actions`, { signal: AbortSignal.timeout(5000) })).json();
      assert.deepEqual(actions, ours);
      const joke = actions['/flow/tell_joke'];
      assert.equal(joke?.key, '/flow/tell_joke', Object.keys(actions).join(', '));
      assert.equal(joke.name, 'tell_joke');
      assert.equal(joke.inputSchema?.type, 'object', JSON.stringify(joke));
      assert.equal(joke.inputSchema.properties?.name?.type, 'string', JSON.stringify(joke));
      assert.ok(actions['/flow/tell_story'], Object.keys(actions).join(', '));
      assert.equal(actions['/model/mock/echo']?.name, 'mock/echo', Object.keys(actions).join(', '));
      assert.ok(actions['/prompt/code_review'] && actions['/executable-prompt/code_review'],
                Object.keys(actions).join(', '));

      // 2. + 4. runAction tell_joke, then getTrace of its trace id. The first
      // runs may precede genkit start's POST /api/notify (sent just after it
      // adds the runtime): their traces went elsewhere, the next run is tried.
      let found, attempts = 0;
      const deadline = Date.now() + 45000;
      while (!found && Date.now() < deadline) {
        attempts++;
        const r = await post('runAction', { runtimeId: runtime.id, key: '/flow/tell_joke', input: { name: 'devui' } });
        const text = await r.text();
        assert.equal(r.status, 200, `POST /api/runAction: ${r.status} ${text}${context()}`);
        const body = JSON.parse(text);
        assert.match(JSON.stringify(body.result), /devui/, text);
        const traceId = body.telemetry?.traceId;
        assert.match(traceId ?? '', /^[0-9a-f]{32}$/, text);
        assert.equal(r.headers.get('x-genkit-trace-id'), traceId, text);
        const until = Math.min(Date.now() + 3000, deadline);
        while (Date.now() < until) {
          const trace = await query('getTrace', { traceId });  // "" while the telemetry server has none
          const spans = Object.values(trace?.spans ?? {});
          const root = spans.find((s) => !s.parentSpanId);
          if (root?.attributes?.['genkit:state'] &&
              spans.some((s) => s.attributes?.['genkit:metadata:subtype'] === 'model')) {
            found = { traceId, trace, root, spans };
            break;
          }
          await sleep(200);
        }
      }
      assert.ok(found, `getTrace found no complete trace of ${attempts} runAction runs${context()}`);
      {
        const { traceId, trace, root, spans } = found;
        assert.equal(trace.traceId, traceId);
        assert.equal(root.displayName, 'tell_joke');
        assert.equal(root.attributes['genkit:name'], 'tell_joke');
        assert.equal(root.attributes['genkit:isRoot'], true);
        assert.equal(root.attributes['genkit:metadata:subtype'], 'flow');
        assert.equal(root.attributes['genkit:state'], 'success');
        assert.match(root.attributes['genkit:input'], /devui/);
        assert.match(root.attributes['genkit:output'], /devui/);
        const model = spans.find((s) => s.attributes?.['genkit:metadata:subtype'] === 'model');
        assert.equal(model.attributes['genkit:name'], 'mock/echo');
        for (const s of spans) {
          assert.equal(s.traceId, traceId);
          if (s !== root) assert.ok(trace.spans[s.parentSpanId], `span ${s.spanId}'s parent is not in the trace`);
        }
        // ... and listed by listTraces.
        const list = await query('listTraces', { limit: 50 });
        assert.ok(list.traces.some((t) => t.traceId === traceId), `trace ${traceId} not in listTraces`);
      }

      // 3. streamAction tell_story: one JSON chunk a line as they come, then
      // the result ({result, telemetry}) with no newline after it.
      const t0 = performance.now();
      const r = await post('streamAction', { runtimeId: runtime.id, key: '/flow/tell_story', input: { topic: 'dogs' } });
      assert.equal(r.status, 200);
      const traceId = r.headers.get('x-genkit-trace-id');
      assert.match(traceId ?? '', /^[0-9a-f]{32}$/, `X-Genkit-Trace-Id: ${traceId}`);
      const decoder = new TextDecoder();
      let text = '', lines = 0;
      const arrivals = [];  // when each complete line arrived
      for await (const bytes of r.body) {
        text += decoder.decode(bytes, { stream: true });
        const now = text.split('\n').length - 1;
        for (; lines < now; lines++) arrivals.push(performance.now());
      }
      const doneAt = performance.now();
      const parts = text.split('\n');
      const final = JSON.parse(parts.pop());
      const chunks = parts.map((l) => JSON.parse(l));
      const timeline = chunks.map((c, i) => `${JSON.stringify(c)} @${(arrivals[i] - t0).toFixed(0)}ms`).join(', ') +
                       `; result @${(doneAt - t0).toFixed(0)}ms`;
      assert.equal(final.error, undefined, `${text}${context()}`);
      assert.ok(chunks.length >= 2, `at least 2 chunks expected: ${timeline}`);
      for (const c of chunks) assert.equal(typeof c, 'string', timeline);
      assert.equal(final.result, chunks.join(''), timeline);
      assert.match(final.result, /dogs/);
      assert.equal(final.telemetry?.traceId, traceId, text);
      assert.ok(doneAt - arrivals[0] >= CHUNK_DELAY_MS / 2,
                `the chunks arrived together with the result (not streamed): ${timeline}`);

      // Nothing of ours was refused or logged as an error or warning: the
      // only errors are those of the UI's browser pages (no download offline).
      const errors = start.output().split('\n').filter((l) => /error|warn/i.test(l) && !/UI assets/.test(l));
      assert.deepEqual(errors, [], `genkit start's output:\n${start.output()}`);

      // Ctrl-C stops it (SIGTERM does not, with no command).
      start.child.kill('SIGINT');
      await waitExit(start, 15000);
    } finally {
      if (start.alive) {
        start.child.kill('SIGKILL');
        await Promise.race([start.exited, sleep(5000)]);
      }
    }
  });

  it('SIGTERM stops the server, which removes its runtime file', { timeout: 60000 }, async () => {
    assert.ok(server.alive, `the server is gone:\n${serverLog()}`);
    server.child.kill('SIGTERM');
    const { code, signal } = await waitExit(server, 40000);
    assert.doesNotMatch(server.output(), SANITIZER_REPORT, `sanitizer report in the server's output:\n${serverLog(20000)}`);
    assert.equal(signal, null, serverLog());
    assert.equal(code, 0, serverLog());
    assert.ok(!fs.existsSync(runtimeFile), `${runtimeFile} is still there after the server exited`);
  });
});
