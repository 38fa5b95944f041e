// Every node's admin port: /healthz, /readyz (with the reason a node is not
// ready) and /metrics, plus whatever JSON views the role adds.
import type { Logger } from "pino";
import { startAdminServer, type AdminServer, type AdminServerOptions } from "../admin/http";
import type { NodeConfig } from "../config/cluster";
import type { Metrics } from "../metrics";

export function startNodeAdmin(opts: {
  node: NodeConfig;
  metrics: Metrics;
  log: Logger;
  /** Why the node should not get traffic now, or undefined when it is ready. */
  notReady: () => string | undefined;
  json?: AdminServerOptions["json"];
}): Promise<AdminServer> {
  return startAdminServer({
    host: opts.node.admin?.host,
    port: opts.node.admin?.port ?? 0,
    metrics: opts.metrics,
    ready: () => {
      const reason = opts.notReady();
      return reason ? { ready: false, reason } : { ready: true };
    },
    log: opts.log,
    json: opts.json,
  });
}
