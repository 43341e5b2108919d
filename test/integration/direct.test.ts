// Proves the real-endpoint harness against hypha itself (no proxies): every workload in
// Python<->Python, JS<->JS and both cross directions, over WebSocket and the /rpc HTTP transport,
// hypha's HTTP services API, liveness, and a hypha server restart on a private server instance.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type CallerResult,
  type ServiceProcess,
  failedChecks,
  httpServiceCall,
  livenessCheck,
  retryUntilOk,
  rpcHttpCheck,
  runJsCaller,
  runPyCaller,
  startJsService,
  startPyService,
  uniqueServiceId,
} from "../helpers/clients.js";
import { type HyphaServer, serverUrlFromEnv, startHyphaServer } from "../helpers/hypha-server.js";

const COMMON_CHECKS = [
  "connect", "get_service", "echo", "add_positional", "add_kwargs", "nested", "bytes_small",
  "bytes_large", "arrays", "array_large", "generator", "callback", "exception",
];
const JS_ONLY_CHECKS = ["ndarrays"];

function assertAllPassed(result: CallerResult, lang: "py" | "js", what: string): void {
  const failed = failedChecks(result);
  assert.deepEqual(failed, [], `${what}: failed checks\n${failed.join("\n")}\nstderr:\n${result.stderr}`);
  const expected = lang === "js" ? [...COMMON_CHECKS, ...JS_ONLY_CHECKS] : COMMON_CHECKS;
  assert.deepEqual(Object.keys(result.checks).sort(), [...expected].sort(), `${what}: unexpected check set`);
}

describe("workloads directly against hypha", () => {
  let url = "";
  let py: ServiceProcess | undefined;
  let js: ServiceProcess | undefined;

  before(async () => {
    url = await serverUrlFromEnv();
    [py, js] = await Promise.all([
      startPyService(url, uniqueServiceId("py")),
      startJsService(url, uniqueServiceId("js")),
    ]);
  });

  after(async () => {
    await Promise.all([py?.stop(), js?.stop()]);
  });

  test("GET /health/liveness answers 200", async () => {
    const res = await livenessCheck(url);
    assert.equal(res.status, 200);
    assert.equal((res.body as { status?: string }).status, "OK");
  });

  test("services report their full ids", () => {
    for (const svc of [py!, js!]) {
      assert.equal(svc.serviceId, `${svc.workspace}/${svc.clientId}:${svc.shortId}`);
    }
  });

  test("Python caller -> Python service", async () => {
    assertAllPassed(await runPyCaller(url, py!.serviceId), "py", "py->py");
  });

  test("JS caller -> JS service", async () => {
    assertAllPassed(await runJsCaller(url, js!.serviceId), "js", "js->js");
  });

  test("Python caller -> JS service", async () => {
    assertAllPassed(await runPyCaller(url, js!.serviceId), "py", "py->js");
  });

  test("JS caller -> Python service", async () => {
    assertAllPassed(await runJsCaller(url, py!.serviceId), "js", "js->py");
  });

  test("Python caller over the /rpc HTTP transport -> JS service", async () => {
    const result = await runPyCaller(url, js!.serviceId, { transport: "http" });
    assert.equal(result.transport, "http");
    assertAllPassed(result, "py", "py(http)->js");
  });

  test("JS caller over the /rpc HTTP transport -> Python service", async () => {
    const result = await runJsCaller(url, py!.serviceId, { transport: "http" });
    assertAllPassed(result, "js", "js(http)->py");
  });

  test("a caller reports failure for a service that does not exist", async () => {
    const result = await runPyCaller(url, `${py!.workspace}/no-such-client:no-such-service`, { timeoutMs: 60_000 });
    assert.equal(result.ok, false);
    assert.equal(result.checks.connect, true);
    assert.notEqual(result.checks.get_service, true);
  });

  test("/rpc streaming GET flushes connection_info as its first frame", async () => {
    const check = await rpcHttpCheck(url);
    assert.equal(check.status, 200);
    assert.equal(check.firstFrame.type, "connection_info");
    assert.equal(check.firstFrame.client_id, check.clientId);
    assert.equal(typeof check.firstFrame.manager_id, "string");
  });

  for (const lang of ["py", "js"] as const) {
    test(`HTTP services API calls the ${lang} service (GET and POST)`, async () => {
      const svc = lang === "py" ? py! : js!;
      const id = `${svc.clientId}:${svc.shortId}`;
      const call = (fn: string, method: "GET" | "POST", args: Record<string, unknown>) =>
        httpServiceCall(url, svc.workspace, id, fn, { method, args });

      assert.deepEqual(await call("add", "GET", { a: 2, b: 3 }), { status: 200, body: 5 });
      assert.deepEqual(await call("add", "POST", { a: 2, b: 3 }), { status: 200, body: 5 });
      assert.deepEqual(await call("add", "POST", { a: "x", b: "y" }), { status: 200, body: "xy" });
      const nested = { k: [1, "two", null, { deep: true }] };
      assert.deepEqual(await call("echo", "POST", { x: nested }), { status: 200, body: nested });
      assert.deepEqual(await call("echo", "GET", { x: "hello" }), { status: 200, body: "hello" });

      const failed = await call("fail", "POST", { msg: "http-failure-42" });
      assert.equal(failed.status, 500);
      assert.equal((failed.body as { success?: boolean }).success, false);
      if (lang === "py") {
        // hypha forwards the Python exception text; the JS client's remote error carries only a stack line.
        assert.match(String((failed.body as { detail?: string }).detail), /http-failure-42/);
      }
      const missing = await httpServiceCall(url, svc.workspace, `${svc.clientId}:no-such-service`, "add", {
        method: "GET",
        args: { a: 1, b: 2 },
      });
      assert.equal(missing.status, 404);
    });
  }
});

describe("hypha server restart (private server)", () => {
  let server: HyphaServer | undefined;
  let py: ServiceProcess | undefined;
  let js: ServiceProcess | undefined;

  before(async () => {
    server = await startHyphaServer();
    [py, js] = await Promise.all([
      startPyService(server.url, uniqueServiceId("py")),
      startJsService(server.url, uniqueServiceId("js")),
    ]);
  });

  after(async () => {
    await Promise.all([py?.stop(), js?.stop()]);
    await server?.stop();
  });

  test("services re-register after the server restarts and callers succeed again", async () => {
    const url = server!.url;
    const probe = await runPyCaller(url, js!.serviceId, { checks: ["echo", "bytes_large"] });
    assert.deepEqual(failedChecks(probe), [], `py->js before restart:\n${probe.stderr}`);
    assert.deepEqual(Object.keys(probe.checks).sort(), ["bytes_large", "connect", "echo", "get_service"]);
    const pyBefore = py!.countEvents("services_registered");
    const jsBefore = js!.countEvents("services_registered");
    const pidBefore = server!.pid;

    await server!.restart();
    assert.notEqual(server!.pid, pidBefore);
    assert.equal((await livenessCheck(url)).status, 200);

    // hypha-rpc reconnects with backoff and re-registers every service: wait for both to say so.
    await Promise.all([
      py!.waitForEventCount("services_registered", pyBefore + 1, 90_000),
      js!.waitForEventCount("services_registered", jsBefore + 1, 90_000),
    ]);

    const pyToJs = await retryUntilOk(() => runPyCaller(url, js!.serviceId), { deadlineMs: 60_000 });
    assertAllPassed(pyToJs, "py", "py->js after restart");
    const jsToPy = await retryUntilOk(() => runJsCaller(url, py!.serviceId), { deadlineMs: 60_000 });
    assertAllPassed(jsToPy, "js", "js->py after restart");
  });
});
