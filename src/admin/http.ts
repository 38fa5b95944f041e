// The admin HTTP port of a node: /healthz (the process answers), /readyz
// (the node wants traffic: false while starting, catching up or shutting
// down) and /metrics (Prometheus text). Plain node:http, loopback by default;
// nothing here is secret but nothing here is for clients either.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

export type Readiness = boolean | { ready: boolean; reason?: string };

/** What /metrics needs: prom-client's Registry fits, and so does `Metrics` from src/metrics. */
export interface MetricsSource {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
}

export interface AdminServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  metrics: MetricsSource;
  ready: () => Readiness | Promise<Readiness>;
  log: Logger;
  /** Further GET endpoints answering JSON, e.g. a mail node's `/users`. */
  json?: Record<string, (query: URLSearchParams) => Promise<unknown>>;
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

async function handle(opts: AdminServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const [pathname, search = ""] = (req.url ?? "/").split("?", 2) as [string, string?];
  const json = opts.json && Object.hasOwn(opts.json, pathname) ? opts.json[pathname] : undefined;
  const known = pathname === "/healthz" || pathname === "/readyz" || pathname === "/metrics" || json !== undefined;
  if (!known) return send(res, 404, "not found\n");
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return send(res, 405, "method not allowed\n");
  }
  if (pathname === "/healthz") return send(res, 200, "ok\n");
  if (json) {
    const body = await json(new URLSearchParams(search));
    if (body === undefined) return send(res, 404, "not found\n");
    return send(res, 200, JSON.stringify(body) + "\n", "application/json");
  }
  if (pathname === "/readyz") {
    let r: Readiness;
    try {
      r = await opts.ready();
    } catch (err) {
      opts.log.warn({ err }, "readiness check failed");
      return send(res, 503, "not ready: readiness check failed\n");
    }
    const ready = typeof r === "boolean" ? r : r.ready;
    const reason = typeof r === "boolean" ? undefined : r.reason;
    if (ready) return send(res, 200, "ready\n");
    return send(res, 503, `not ready${reason ? `: ${reason.replace(/[\r\n]+/g, " ")}` : ""}\n`);
  }
  let text: string;
  try {
    text = await opts.metrics.registry.metrics();
  } catch (err) {
    opts.log.error({ err }, "metrics collection failed");
    return send(res, 500, "metrics collection failed\n");
  }
  send(res, 200, text, opts.metrics.registry.contentType);
}

export function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      opts.log.error({ err }, "admin request failed");
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: opts.host ?? "127.0.0.1", port: opts.port }, () => {
      server.off("error", reject);
      server.on("error", (err) => opts.log.error({ err }, "admin server error"));
      const addr = server.address() as AddressInfo;
      opts.log.info({ host: addr.address, port: addr.port }, "admin server listening");
      let closing: Promise<void> | undefined;
      resolve({
        host: addr.address,
        port: addr.port,
        close() {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            // Scrapers keep connections alive; do not wait for them to time out.
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
