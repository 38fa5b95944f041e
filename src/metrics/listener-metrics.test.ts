// A node's metrics end to end: real ImapListener over TLS, imapflow as the
// client, the admin server scraped over HTTP while the session runs.
import { once } from "node:events";
import net from "node:net";
import { ImapFlow } from "imapflow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startAdminServer, type AdminServer } from "../admin/http";
import { silentLogger } from "../log/logger";
import type { BoundEndpoints } from "../server/imap-listener";
import { startTestListener, type TestListener } from "../server/listener-test-support";
import { createMetrics, type Metrics } from "./index";
import { parsePrometheusText, sampleValue, type MetricFamily } from "./parse";

describe("node metrics over a real listener", () => {
  let server: TestListener;
  let bound: BoundEndpoints;
  let metrics: Metrics;
  let admin: AdminServer;

  beforeEach(async () => {
    metrics = createMetrics({ node: "worker-1", role: "worker" });
    server = await startTestListener({ alice: "wonderland" }, { observer: metrics.sessionObserver(), onTlsHandshakeFailure: metrics.tlsHandshakeFailed });
    bound = server.bound;
    metrics.watchDirectorySize(server.storeDir);
    admin = await startAdminServer({ port: 0, metrics, ready: () => true, log: silentLogger() });
  });
  afterEach(async () => {
    await admin.close();
    await server.close();
    metrics.close();
  });

  async function scrape(): Promise<Map<string, MetricFamily>> {
    const res = await fetch(`http://127.0.0.1:${admin.port}/metrics`);
    expect(res.status).toBe(200);
    return parsePrometheusText(await res.text());
  }

  /** Scrapes until `pred` holds (the server side of a close is asynchronous); fails after many tries. */
  async function scrapeUntil(pred: (f: Map<string, MetricFamily>) => boolean): Promise<Map<string, MetricFamily>> {
    let last = await scrape();
    for (let i = 0; i < 500 && !pred(last); i++) {
      await new Promise((r) => setTimeout(r, 10));
      last = await scrape();
    }
    return last;
  }

  it("imapflow session: families exist and move", async () => {
    const first = await scrape();
    for (const name of ["charon_sessions_active", "charon_commands_total", "charon_command_duration_seconds", "charon_auth_failures_total", "charon_leveldb_size_bytes", "charon_event_loop_lag_seconds", "charon_process_cpu_seconds_total"]) {
      expect(first.has(name), name).toBe(true);
    }
    expect(sampleValue(first, "charon_sessions_active")).toBe(0);

    const client = new ImapFlow({
      host: "127.0.0.1",
      port: bound.imaps!.port,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: "alice", pass: "wonderland" },
      logger: false,
      disableAutoIdle: true,
    });
    client.on("error", () => undefined);
    await client.connect();
    const during = await scrape();
    expect(sampleValue(during, "charon_sessions_active", { node: "worker-1", role: "worker" })).toBe(1);
    // imapflow uses AUTHENTICATE PLAIN when offered
    expect(sampleValue(during, "charon_commands_total", { command: "AUTHENTICATE", status: "OK" })).toBe(1);

    await client.mailboxOpen("INBOX");
    await client.append("INBOX", "Subject: hi\r\n\r\nhello\r\n");
    for await (const msg of client.fetch("1:*", { flags: true })) expect(msg.seq).toBe(1);
    await client.logout();

    const after = await scrapeUntil((f) => sampleValue(f, "charon_sessions_active") === 0);
    expect(sampleValue(after, "charon_sessions_active")).toBe(0);
    expect(sampleValue(after, "charon_connections_total")).toBe(1);
    expect(sampleValue(after, "charon_commands_total", { command: "APPEND", status: "OK" })).toBe(1);
    expect(sampleValue(after, "charon_commands_total", { command: "SELECT", status: "OK" })).toBe(1);
    expect(sampleValue(after, "charon_commands_total", { command: "LOGOUT", status: "OK" })).toBe(1);
    expect(sampleValue(after, "charon_command_duration_seconds_count", { command: "APPEND" })).toBe(1);
    expect(sampleValue(after, "charon_leveldb_size_bytes")).toBeGreaterThan(0);
  });

  it("counts failed logins and failed TLS handshakes", async () => {
    const bad = new ImapFlow({
      host: "127.0.0.1",
      port: bound.imaps!.port,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: "alice", pass: "not-it" },
      logger: false,
    });
    bad.on("error", () => undefined);
    await expect(bad.connect()).rejects.toThrow();
    bad.close();

    // Plain bytes on the implicit-TLS port: the handshake fails.
    const sock = net.connect({ host: "127.0.0.1", port: bound.imaps!.port });
    sock.on("error", () => undefined);
    await once(sock, "connect");
    sock.write("a1 LOGIN alice wonderland\r\n".repeat(20));
    await once(sock, "close");

    const f = await scrapeUntil((m) => sampleValue(m, "charon_tls_handshake_failures_total") >= 1);
    expect(sampleValue(f, "charon_tls_handshake_failures_total")).toBe(1);
    expect(sampleValue(f, "charon_auth_failures_total", { reason: "authenticationfailed" })).toBe(1);
    expect(sampleValue(f, "charon_commands_total", { command: "AUTHENTICATE", status: "NO" })).toBe(1);
  });
});
