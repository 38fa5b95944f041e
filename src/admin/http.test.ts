import http from "node:http";
import pino from "pino";
import { Counter, Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics, type Metrics } from "../metrics";
import { parsePrometheusText, sampleValue } from "../metrics/parse";
import { startAdminServer, type AdminServer, type Readiness } from "./http";

const log = pino({ level: "silent" });
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(ready: () => Readiness | Promise<Readiness>, metrics?: Metrics): Promise<{ admin: AdminServer; url: string; metrics: Metrics }> {
  const m = metrics ?? createMetrics({ node: "n1", role: "worker" });
  cleanups.push(() => m.close());
  const admin = await startAdminServer({ host: "127.0.0.1", port: 0, metrics: m, ready, log });
  cleanups.push(() => admin.close());
  return { admin, url: `http://127.0.0.1:${admin.port}`, metrics: m };
}

describe("admin HTTP server", () => {
  it("answers /healthz, /readyz (200 then 503 with the reason) and 404 elsewhere", async () => {
    let state: Readiness = true;
    const { admin, url } = await start(() => state);
    expect(admin.port).toBeGreaterThan(0);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect((await health.text()).trim()).toBe("ok");

    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    state = false;
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    state = { ready: false, reason: "shutting down" };
    const r = await fetch(`${url}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.text()).toContain("shutting down");
    state = { ready: true };
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // health does not depend on readiness
    state = false;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    expect((await fetch(`${url}/`)).status).toBe(404);
    expect((await fetch(`${url}/metricsx`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: "POST", body: "x" })).status).toBe(405);
  });

  it("a throwing readiness check is 503, not a crash", async () => {
    const { url } = await start(() => {
      throw new Error("boom");
    });
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it("serves /metrics as Prometheus text that moves with the node", async () => {
    const { url, metrics } = await start(() => true);
    const obs = metrics.sessionObserver();
    obs.sessionOpened();
    obs.commandDone("LOGIN", "OK", 0.002);
    obs.commandDone("LOGIN", "NO", 0.3);

    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const fam = parsePrometheusText(await res.text());
    expect(fam.get("charon_commands_total")?.type).toBe("counter");
    expect(fam.get("charon_command_duration_seconds")?.type).toBe("histogram");
    expect(fam.get("charon_sessions_active")?.type).toBe("gauge");
    expect(sampleValue(fam, "charon_commands_total", { command: "LOGIN", status: "NO", node: "n1" })).toBe(1);
    expect(sampleValue(fam, "charon_command_duration_seconds_bucket", { command: "LOGIN", le: "0.25" })).toBe(1);
    expect(sampleValue(fam, "charon_sessions_active")).toBe(1);

    obs.sessionClosed();
    obs.commandDone("NOOP", "OK", 0);
    const again = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    expect(sampleValue(again, "charon_sessions_active")).toBe(0);
    expect(sampleValue(again, "charon_commands_total", { command: "NOOP" })).toBe(1);
  });

  it("a failing collector gives 500 and the server keeps serving", async () => {
    const registry = new Registry();
    let fail = true;
    new Counter({
      name: "test_total",
      help: "x",
      registers: [registry],
      collect() {
        if (fail) throw new Error("collector broke");
      },
    });
    const admin = await startAdminServer({ port: 0, metrics: { registry }, ready: () => true, log });
    cleanups.push(() => admin.close());
    const url = `http://127.0.0.1:${admin.port}`;
    expect((await fetch(`${url}/metrics`)).status).toBe(500);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    fail = false;
    const ok = await fetch(`${url}/metrics`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("test_total 0");
  });

  it("an unreadable watched directory is a 500 too", async () => {
    const { url, metrics } = await start(() => true);
    // A file where a directory is expected: readdir fails with ENOTDIR.
    metrics.watchDirectorySize(__filename);
    expect((await fetch(`${url}/metrics`)).status).toBe(500);
  });

  it("close() returns even with a kept-alive client connection", async () => {
    const { admin } = await start(() => true);
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: admin.port, path: "/healthz", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve());
        })
        .on("error", reject);
    });
    await admin.close();
    agent.destroy();
    await expect(fetch(`http://127.0.0.1:${admin.port}/healthz`)).rejects.toThrow();
  });

  it("refuses to start on a port in use", async () => {
    const { admin, metrics } = await start(() => true);
    await expect(startAdminServer({ host: "127.0.0.1", port: admin.port, metrics, ready: () => true, log })).rejects.toThrow(/EADDRINUSE/);
  });
});
