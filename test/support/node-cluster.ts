// A cluster whose node processes the test starts itself, one by one, with a
// per-node environment: what fault tests need to put a proxy between two
// nodes (CHARON_NODES__<name>__INTERNAL for one process only), to kill and
// restart a node, or to add a node to a running cluster.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import YAML from "yaml";
import { UserDirectory } from "../../src/auth/user-directory";
import { generateDevConfig, type ClusterConfig, type NodeConfig } from "../../src/config/cluster";
import { spawnNode, stopNode, type NodeProcess } from "../../src/cli/node-process";
import { initClusterCerts } from "../../src/tls/cluster-certs";
import type { RunningServer } from "./server";

export interface NodeClusterOptions {
  workers?: number;
  storage?: number;
  distributors?: number;
  durability?: "local" | "replicated";
  users: ReadonlyArray<readonly [string, string]>;
  logLevel?: string;
  /** Environment per node name, for overrides that only that process sees. */
  envFor?: (name: string) => NodeJS.ProcessEnv;
}

export class NodeCluster {
  readonly processes = new Map<string, NodeProcess>();
  private readonly logs = new Map<string, string>();
  /** The file later startNode calls give the nodes: the full configuration unless useConfigWithout said otherwise. */
  private activeConfigFile: string;

  private constructor(
    readonly dir: string,
    readonly configFile: string,
    readonly config: ClusterConfig,
    private readonly opts: NodeClusterOptions,
  ) {
    this.activeConfigFile = configFile;
  }

  /**
   * Later starts read a configuration without `names`: the cluster as it was
   * before those nodes were added. useFullConfig() goes back to all of them.
   */
  useConfigWithout(names: string[]): void {
    const doc = YAML.parse(readFileSync(this.configFile, "utf8")) as { nodes: Array<{ name: string }> };
    doc.nodes = doc.nodes.filter((n) => !names.includes(n.name));
    // Next to the full file: relative paths resolve against the same directory.
    this.activeConfigFile = path.join(path.dirname(this.configFile), `cluster-without-${names.join("-")}.yaml`);
    writeFileSync(this.activeConfigFile, YAML.stringify(doc));
  }

  useFullConfig(): void {
    this.activeConfigFile = this.configFile;
  }

  /** Writes the configuration, certificates and users; starts nothing yet. */
  static async create(opts: NodeClusterOptions): Promise<NodeCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), "charon-nodes-"));
    const { path: configFile, config } = await generateDevConfig({
      dir,
      workers: opts.workers ?? 2,
      storage: opts.storage ?? 1,
      distributors: opts.distributors ?? 1,
      durability: opts.durability,
      host: "127.0.0.1",
      logLevel: opts.logLevel ?? "warn",
    });
    await initClusterCerts(config);
    const users = await UserDirectory.open(config.users);
    for (const [u, p] of opts.users) await users.upsertUser(u, p);
    await users.close();
    return new NodeCluster(dir, configFile, config, opts);
  }

  /** Starts every node but `skip`: the mail nodes first, then the distributors. */
  async startAll(skip: string[] = []): Promise<this> {
    try {
      await Promise.all(this.mailNodes().filter((n) => !skip.includes(n.name)).map((n) => this.startNode(n.name)));
      const dists = this.config.nodes.filter((n) => n.role === "distributor" && !skip.includes(n.name));
      await Promise.all(dists.map((n) => this.startNode(n.name)));
      // Workers take sessions once they have caught up with storage; wait for it, so no test starts on a split.
      for (const n of this.mailNodes().filter((m) => !skip.includes(m.name))) await this.waitReady(n.name);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this;
  }

  /** Sets the per-node environment used by later startNode calls. */
  setEnv(envFor: (name: string) => NodeJS.ProcessEnv): void {
    this.opts.envFor = envFor;
  }

  mailNodes(): NodeConfig[] {
    return this.config.nodes.filter((n) => n.role !== "distributor");
  }

  node(name: string): NodeConfig {
    const n = this.config.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  async startNode(name: string, env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
    const n = this.node(name);
    const p = await spawnNode({
      role: n.role,
      name,
      configFile: this.activeConfigFile,
      logLevel: this.opts.logLevel ?? "warn",
      env: { ...this.opts.envFor?.(name), ...env },
      stderr: "pipe",
    });
    p.child.stderr!.setEncoding("utf8");
    p.child.stderr!.on("data", (d: string) => this.logs.set(name, ((this.logs.get(name) ?? "") + d).slice(-100_000)));
    this.processes.set(name, p);
    return p;
  }

  /** Polls the node's /readyz until it answers 200 (bounded: 15 s). */
  async waitReady(name: string): Promise<void> {
    for (let i = 0; i < 150; i++) {
      const res = await fetch(`${this.adminUrl(name)}/readyz`).catch(() => undefined);
      if (res?.status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} not ready within 15 s`);
  }

  /** The last log lines of a node, for failure messages. */
  log(name: string): string {
    return this.logs.get(name) ?? "";
  }

  kill9(name: string): Promise<unknown> {
    const p = this.processes.get(name)!;
    p.child.kill("SIGKILL");
    return p.exited;
  }

  async stopNode(name: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const p = this.processes.get(name)!;
    await stopNode(p);
    return p.exited;
  }

  /** What the e2e client helpers need to reach a distributor. */
  server(name = "dist-1"): RunningServer {
    const dist = this.processes.get(name)!;
    const [host, port] = splitHostPort(dist.ready.imaps!);
    const [, imapPort] = splitHostPort(dist.ready.imap!);
    return {
      host,
      imapsPort: port,
      imapPort,
      dataDir: this.dir,
      pid: dist.pid,
      stderr: () => this.log(name),
      stdout: () => "",
      alive: () => dist.child.exitCode === null && dist.child.signalCode === null,
      stop: async () => {
        await stopNode(dist);
        return { ...(await dist.exited), forced: false };
      },
    };
  }

  adminUrl(name: string): string {
    return `http://${this.processes.get(name)!.ready.admin}`;
  }

  async stop(): Promise<void> {
    const all = [...this.processes.values()];
    await Promise.all(all.filter((p) => p.role === "distributor").map((p) => stopNode(p)));
    await Promise.all(all.filter((p) => p.role !== "distributor").map((p) => stopNode(p)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function splitHostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(":");
  return [hp.slice(0, i).replace(/^\[|\]$/g, ""), Number(hp.slice(i + 1))];
}
