/*
 * The library as a package: its version, the language level it is written in (mini-programs
 * and older React Native runtimes run it unbuilt), its TypeScript types, and the outbox and
 * backoff rules on a clock of the test's own.
 */
"use strict";

const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { test } = require("node:test");
const acorn = require("acorn");
const { HelpdeskClient, ROOT } = require("./support/helpers.js");

const core = require(path.join(ROOT, "helpdesk/static/helpdesk/client-core.js"));

// The test's clock: setTimeout and setInterval wait for tick(ms), and every delay asked is kept.
function fakeClock(t) {
  const real = { setTimeout, clearTimeout, setInterval, clearInterval };
  const timers = new Map();
  const delays = [];
  let id = 0;
  let now = 0;
  const add = (fn, ms, every) => {
    id += 1;
    timers.set(id, { fn, at: now + ms, every });
    return id;
  };
  Object.assign(globalThis, {
    setTimeout: (fn, ms) => (delays.push(ms), add(fn, ms, 0)),
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearTimeout: (handle) => timers.delete(handle),
    clearInterval: (handle) => timers.delete(handle),
  });
  t.after(() => Object.assign(globalThis, real));
  return {
    delays,
    // Runs the next timer due, whenever it is.
    next() {
      const first = Array.from(timers).sort((a, b) => a[1].at - b[1].at)[0];
      if (first) this.tick(first[1].at - now);
    },
    tick(ms) {
      const end = now + ms;
      for (;;) {
        const due = Array.from(timers).filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        const [handle, timer] = due;
        now = timer.at;
        if (timer.every) timer.at += timer.every;
        else timers.delete(handle);
        timer.fn();
      }
      now = end;
    },
  };
}
const FILES = ["helpdesk/static/helpdesk/client-core.js", "helpdesk/static/helpdesk/client.js"];

test("the version is one number, in the library and in package.json", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  assert.match(HelpdeskClient.VERSION, /^\d+\.\d+\.\d+$/);
  assert.equal(HelpdeskClient.VERSION, pkg.version);
  const types = fs.readFileSync(path.join(ROOT, "helpdesk/static/helpdesk/client.d.ts"), "utf8");
  assert.ok(types.includes(`version ${pkg.version}`), "client.d.ts names the version it describes");
});

test("the library is plain ES2017, as mini-programs run it without a build", () => {
  for (const file of FILES) {
    const source = fs.readFileSync(path.join(ROOT, file), "utf8");
    assert.doesNotThrow(() => acorn.parse(source, { ecmaVersion: 2017, sourceType: "script" }), file);
  }
});

test("the TypeScript types describe the library: a strict program compiles, misuse does not", () => {
  const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
  const done = spawnSync(tsc, ["-p", path.join(__dirname, "types", "tsconfig.json")], { encoding: "utf8" });
  assert.equal(done.status, 0, done.stdout + done.stderr);
});

test("the outbox: a rate-limited message goes again after retry_after; a refused one leaves", (t) => {
  const clock = fakeClock(t);
  const outbox = new core.Outbox();
  const early = outbox.add({ body: "Too soon" });
  const bad = outbox.add({ body: "Refused" });
  const resent = [];
  assert.equal(outbox.refused({ type: "error", code: "rate_limited", retry_after: 3, client_id: early.client_id }, (e) => resent.push(e)), "later");
  clock.tick(2999);
  assert.deepEqual(resent, []);
  clock.tick(1);
  assert.deepEqual(resent.map((e) => e.client_id), [early.client_id]);
  assert.ok(outbox.has(early.client_id), "still waiting for its ack");
  assert.equal(outbox.refused({ type: "error", code: "body_too_long", client_id: bad.client_id }, () => {}), "failed");
  assert.equal(outbox.has(bad.client_id), false);
  assert.equal(outbox.refused({ type: "error", code: "not_found" }, () => {}), null);
  assert.equal(outbox.refused({ type: "error", code: "body_too_long", client_id: "not-ours" }, () => {}), null);
});

test("the outbox replays each change on what storage holds: another tab's entries are kept", () => {
  const shared = core.storage.memory();
  const tabA = new core.Outbox(new core.Store(shared, "p:"));
  const tabB = new core.Outbox(new core.Store(shared, "p:"));
  const a = tabA.add({ body: "from tab A" });
  const b = tabB.add({ body: "from tab B" }); // tab B never loaded A's entry
  assert.deepEqual(JSON.parse(shared.get("p:outbox")).map((e) => e.body), ["from tab A", "from tab B"]);
  tabB.remove(a.client_id); // acked: its message reached tab B too
  assert.deepEqual(JSON.parse(shared.get("p:outbox")).map((e) => e.client_id), [b.client_id]);
  tabB.remove(b.client_id);
  assert.equal(shared.get("p:outbox"), null);
});

test("reconnecting backs off from 0.5 s to 10 s with jitter, and from the start once welcomed", (t) => {
  const clock = fakeClock(t);
  const delays = clock.delays;
  let opened = 0;
  const refused = { open: (url, handlers) => (opened++, handlers.onClose(1006), null) };
  const connection = new core.Connection({ url: "ws://nowhere/", transport: refused, onOpen() {}, onFrame() {}, onClose: () => "retry" });
  connection.connect();
  const ceilings = [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000];
  ceilings.forEach((ceiling, i) => {
    assert.ok(delays[i] >= ceiling / 2 && delays[i] <= ceiling, `retry ${i + 1}: ${delays[i]} ms within ${ceiling / 2}–${ceiling}`);
    clock.next();
    assert.equal(opened, i + 2);
  });
  assert.notEqual(new Set(delays).size, 1, "jitter: the waits differ");
  connection.settled(); // as a welcome does
  const before = delays.length;
  clock.next(); // the retry already waiting fails again, and backs off afresh
  assert.ok(delays[before] >= 250 && delays[before] <= 500, `after a welcome: ${delays[before]} ms`);
  const attempts = opened;
  connection.stop();
  clock.tick(60000);
  assert.equal(opened, attempts, "stopped: no more attempts");
});

test("the examples parse: the React Native screen (JSX) and the mini-program page", () => {
  const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
  const done = spawnSync(tsc, ["-p", path.join(__dirname, "types", "examples.tsconfig.json")], { encoding: "utf8" });
  assert.equal(done.status, 0, done.stdout + done.stderr);
});
