// The local cluster as the tests see it: `charon dev` started as a real
// process (test/support/server.ts), its node lines parsed, each node's admin
// port and the `charon route` command at hand.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { CLI_ENTRY, type RunningServer } from "./server";

const run = promisify(execFile);

export interface ClusterNode {
  name: string;
  role: "distributor" | "worker" | "storage";
  pid: number;
  admin: string;
  restart: string;
}

const NODE_LINE = /^node (\S+) role=(distributor|worker|storage) pid=(\d+) admin=(\S+) restart="(.*)"$/gm;

export function clusterNodes(srv: RunningServer): ClusterNode[] {
  return [...srv.stdout().matchAll(NODE_LINE)].map((m) => ({
    name: m[1],
    role: m[2] as ClusterNode["role"],
    pid: Number(m[3]),
    admin: m[4],
    restart: m[5],
  }));
}

export function configFile(srv: RunningServer): string {
  return path.join(srv.dataDir, "cluster.yaml");
}

export async function routeOf(srv: RunningServer, user: string): Promise<{ home: string; fallbacks: string[] }> {
  const { stdout } = await run(process.execPath, [CLI_ENTRY, "route", user, "--config", configFile(srv)]);
  const m = /^user=(\S+) home=(\S+) fallbacks=(\S*)$/m.exec(stdout);
  if (!m) throw new Error(`unexpected route output: ${stdout}`);
  return { home: m[2], fallbacks: m[3] ? m[3].split(",") : [] };
}

export async function adminGet(node: ClusterNode, pathname: string): Promise<{ status: number; body: string }> {
  const res = await fetch(node.admin + pathname, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

export interface HeldMail {
  users: Array<{ name: string; mailboxes: number; messages: number }>;
  truncated: boolean;
}

/** A mail node's own account of the mail it holds (admin `/users`). */
export async function heldMail(node: ClusterNode): Promise<Map<string, number>> {
  const r = await adminGet(node, "/users");
  if (r.status !== 200) throw new Error(`${node.name} /users: ${r.status} ${r.body}`);
  const held = JSON.parse(r.body) as HeldMail;
  return new Map(held.users.map((u) => [u.name, u.messages]));
}

export { isAlive } from "../../bench/servers/proc";
