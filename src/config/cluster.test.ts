import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { initClusterCerts } from "../tls/cluster-certs";
import {
  checkCertificateFiles,
  checkPortsFree,
  ConfigError,
  generateDevConfig,
  loadClusterConfig,
  nodeByName,
  parseClusterConfig,
  type ClusterConfig,
} from "./cluster";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "charon-config-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const GOOD = `
cluster: { name: test }
durability: local
tls:
  ca: certs/ca.crt
  caKey: certs/ca.key
  nodeCerts: certs
  public: { cert: certs/public.crt, key: certs/public.key }
users: users.json
limits: { maxAppendSize: 1048576 }
auth: { maxFailuresPerIp: 3 }
nodes:
  - name: dist-1
    role: distributor
    imaps: 127.0.0.1:1993
    imap: 127.0.0.1:1143
    admin: 127.0.0.1:9101
    data: data/dist-1
  - { name: worker-1, role: worker, internal: 127.0.0.1:7201, admin: 127.0.0.1:9201, data: data/worker-1 }
  - { name: storage-1, role: storage, internal: "[::1]:7301", admin: 127.0.0.1:9301 }
logLevel: debug
`;

const NO_ENV = {};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw new Error(`expected a ConfigError, got ${String(err)}`);
  }
  throw new Error("expected a ConfigError, got success");
}

describe("parseClusterConfig accepts", () => {
  it("the contract's example, with paths resolved against the base dir and defaults filled in", () => {
    const c = parseClusterConfig(GOOD, "/etc/charon", NO_ENV);
    expect(c.cluster.name).toBe("test");
    expect(c.tls.ca).toBe("/etc/charon/certs/ca.crt");
    expect(c.tls.public.key).toBe("/etc/charon/certs/public.key");
    expect(c.users).toBe("/etc/charon/users.json");
    expect(c.limits.maxAppendSize).toBe(1048576);
    expect(c.limits.maxLineLength).toBe(65536);
    expect(c.auth).toEqual({ maxFailuresPerIp: 3, maxFailuresPerUser: 5, windowSeconds: 60, delayMs: 1000 });
    expect(c.logLevel).toBe("debug");
    expect(c.nodes.map((n) => `${n.name}/${n.role}`)).toEqual(["dist-1/distributor", "worker-1/worker", "storage-1/storage"]);
    expect(nodeByName(c, "dist-1").imaps).toEqual({ host: "127.0.0.1", port: 1993 });
    expect(nodeByName(c, "storage-1").internal).toEqual({ host: "::1", port: 7301 });
    expect(nodeByName(c, "storage-1").data).toBe("/etc/charon/data/storage-1");
  });

  it("a replication section: storage replicas per user and compaction settings, defaults filled in", () => {
    const c = parseClusterConfig(`${GOOD}replication: { storageReplicas: 1, compactMinOps: 50 }\n`, "/etc/charon", NO_ENV);
    expect(c.replication).toEqual({ storageReplicas: 1, compactEveryMs: 10_000, compactMinOps: 50, purgeEveryMs: 2_000 });
    expect(parseClusterConfig(GOOD, "/etc/charon", NO_ENV).replication.storageReplicas).toBe(0);
    expect(parseClusterConfig(GOOD, "/etc/charon", { CHARON_REPLICATION__COMPACTEVERYMS: "500" }).replication.compactEveryMs).toBe(500);
  });

  it("a minimal file (tls, users, limits all default)", () => {
    const c = parseClusterConfig(
      "nodes:\n  - { name: d, role: distributor, imap: 127.0.0.1:0 }\n  - { name: w, role: worker, internal: 127.0.0.1:7000 }\n",
      "/x",
      NO_ENV,
    );
    expect(c.tls.nodeCerts).toBe("/x/certs");
    expect(c.durability).toBe("local");
    expect(c.logLevel).toBe("info");
    expect(c.scheduling).toBe("batch");
  });
});

const node = (extra: string) => `nodes:\n  - { name: d, role: distributor, imaps: 127.0.0.1:1993 }\n  - { name: w, role: worker, internal: 127.0.0.1:7201 }\n${extra}`;

const REJECT: Array<[string, string, string, RegExp]> = [
  ["unknown top-level key", GOOD + "colour: blue\n", "colour", /unknown key/],
  ["unknown key with a case hint", GOOD + "loglevel: info\n", "loglevel", /did you mean "logLevel"/],
  ["unknown nested key", node("tls: { ca: a.crt, cert: b.crt }\n"), "tls.cert", /unknown key/],
  ["unknown node key", node("  - { name: s, role: storage, internal: 127.0.0.1:7301, port: 3 }\n"), "nodes[2].port", /unknown key/],
  ["unknown limit", node("limits: { maxFoo: 3 }\n"), "limits.maxFoo", /unknown key/],
  ["wrong type: limit as string", node("limits: { maxAppendSize: big }\n"), "limits.maxAppendSize", /expected a number/],
  ["wrong type: negative limit", node("limits: { maxAppendSize: -1 }\n"), "limits.maxAppendSize", /at least 1/],
  ["wrong type: nodes is a mapping", "nodes: { a: 1 }\n", "nodes", /expected a list/],
  ["wrong type: address is a number", node("  - { name: s, role: storage, internal: 7301 }\n"), "nodes[2].internal", /expected a string host:port/],
  ["bad host:port", node("  - { name: s, role: storage, internal: 'localhost' }\n"), "nodes[2].internal", /expected host:port/],
  ["port out of range", node("  - { name: s, role: storage, internal: '127.0.0.1:70000' }\n"), "nodes[2].internal", /out of range/],
  ["internal port 0", node("  - { name: s, role: storage, internal: '127.0.0.1:0' }\n"), "nodes[2].internal", /port 0/],
  ["bad role", node("  - { name: s, role: relay, internal: 127.0.0.1:7301 }\n"), "nodes[2].role", /must be one of distributor, worker, storage/],
  ["missing role", node("  - { name: s, internal: 127.0.0.1:7301 }\n"), "nodes[2].role", /missing/],
  ["bad node name", node("  - { name: 'a b', role: storage, internal: 127.0.0.1:7301 }\n"), "nodes[2].name", /bad node name/],
  ["duplicate node names", node("  - { name: w, role: storage, internal: 127.0.0.1:7301 }\n"), "nodes[2].name", /duplicate node name "w" \(also nodes\[1\]\.name\)/],
  ["duplicate address", node("  - { name: s, role: storage, internal: 127.0.0.1:7201 }\n"), "nodes[2].internal", /duplicate address 127\.0\.0\.1:7201 \(also nodes\[1\]\.internal\)/],
  ["duplicate data dir", node("  - { name: s, role: storage, internal: 127.0.0.1:7301, data: data/w }\n"), "nodes[2].data", /duplicate data directory/],
  ["worker without internal", "nodes:\n  - { name: d, role: distributor, imaps: 127.0.0.1:1993 }\n  - { name: w, role: worker }\n", "nodes[1].internal", /missing/],
  ["client listener on a worker", node("  - { name: s, role: worker, internal: 127.0.0.1:7301, imaps: 127.0.0.1:1994 }\n"), "nodes[2].imaps", /distributors/],
  ["no worker", "nodes:\n  - { name: d, role: distributor, imaps: 127.0.0.1:1993 }\n  - { name: s, role: storage, internal: 127.0.0.1:7301 }\n", "nodes", /no node has role worker/],
  ["no distributor", "nodes:\n  - { name: w, role: worker, internal: 127.0.0.1:7201 }\n", "nodes", /no node has role distributor/],
  ["no nodes", "logLevel: info\n", "nodes", /missing/],
  ["bad durability", node("durability: eventually\n"), "durability", /must be one of local, replicated/],
  ["bad logLevel type", node("logLevel: 3\n"), "logLevel", /expected one of/],
  ["duplicate YAML key", "logLevel: info\nlogLevel: debug\n" + node(""), "(yaml line 2)", /unique/i],
  ["YAML syntax error", "nodes: [\n", "(yaml line", /./],
  ["empty file", "", "nodes", /empty/],
  ["bad scheduling", node("scheduling: realtime\n"), "scheduling", /must be one of batch, normal/],
];

describe("parseClusterConfig refuses", () => {
  it.each(REJECT)("%s", (_label, text, key, problem) => {
    const err = errorOf(() => parseClusterConfig(text, "/x", NO_ENV));
    expect(err.key.startsWith(key)).toBe(true);
    expect(err.message).toContain(err.key);
    expect(err.message).toMatch(problem);
    expect(err.exitCode).toBeGreaterThan(0);
  });

  it("more storage replicas per user than storage nodes, or a compaction interval of 0", () => {
    const more = errorOf(() => parseClusterConfig(`${GOOD}replication: { storageReplicas: 2 }\n`, "/etc", NO_ENV));
    expect(more.message).toBe("replication.storageReplicas: is 2, but the cluster has 1 storage node(s)");
    const zero = errorOf(() => parseClusterConfig(`${GOOD}replication: { compactEveryMs: 0 }\n`, "/etc", NO_ENV));
    expect(zero.message).toMatch(/^replication\.compactEveryMs: /);
    expect(errorOf(() => parseClusterConfig(`${GOOD}replication: { replicas: 2 }\n`, "/etc", NO_ENV)).message).toMatch(/^replication\.replicas: unknown key/);
  });

  it("gives different kinds of error different exit codes", () => {
    const codes = new Set(
      [REJECT[0], REJECT[5], REJECT[12], REJECT[15], REJECT[20], REJECT[25]].map(([, text]) => errorOf(() => parseClusterConfig(text, "/x", NO_ENV)).exitCode),
    );
    expect(codes.size).toBe(6);
  });
});

describe("environment overrides", () => {
  it("override single keys, numbers parsed, nodes selected by name, case-insensitive segments", () => {
    const c = parseClusterConfig(GOOD, "/x", {
      CHARON_LIMITS__MAXAPPENDSIZE: "1000",
      "CHARON_NODES__worker-1__ADMIN": "127.0.0.1:9999",
      CHARON_LOGLEVEL: "warn",
      CHARON_TLS__PUBLIC__CERT: "/abs/pub.crt",
      CHARON_AUTH__DELAYMS: "0",
      CHARON_SCHEDULING: "normal",
      CHARON_LOG_LEVEL: "trace", // not a config path, left alone
      CHARON_E2E_CLI: "/whatever",
      PATH: "/bin",
    });
    expect(c.limits.maxAppendSize).toBe(1000);
    expect(nodeByName(c, "worker-1").admin).toEqual({ host: "127.0.0.1", port: 9999 });
    expect(c.logLevel).toBe("warn");
    expect(c.tls.public.cert).toBe("/abs/pub.crt");
    expect(c.auth.delayMs).toBe(0);
    expect(c.scheduling).toBe("normal");
  });

  it("create sections absent from the file", () => {
    const c = parseClusterConfig(node(""), "/x", { CHARON_LIMITS__MAXLINELENGTH: "2048", CHARON_CLUSTER__NAME: "prod" });
    expect(c.limits.maxLineLength).toBe(2048);
    expect(c.cluster.name).toBe("prod");
  });

  it.each([
    [{ CHARON_LIMITS__MAXAPPENDSIZE: "lots" }, "env CHARON_LIMITS__MAXAPPENDSIZE", /expected a number/],
    [{ CHARON_COLOUR: "blue" }, "env CHARON_COLOUR", /not a configuration key/],
    [{ CHARON_LIMITS: "3" }, "env CHARON_LIMITS", /is a section/],
    [{ CHARON_NODES__nobody__ADMIN: "127.0.0.1:1" }, "env CHARON_NODES__nobody__ADMIN", /no node named "nobody"/],
    [{ "CHARON_NODES__worker-1__PORT": "1" }, "env CHARON_NODES__worker-1__PORT", /not a node key/],
    [{ "CHARON_NODES__worker-1__ROLE": "boss" }, "nodes[1].role", /must be one of/],
    [{ "CHARON_NODES__worker-1__ADMIN": "127.0.0.1:9301" }, "nodes[2].admin", /duplicate address/],
  ])("refuse %o naming %s", (env, key, problem) => {
    const err = errorOf(() => parseClusterConfig(GOOD, "/x", env));
    expect(err.key).toBe(key);
    expect(err.message).toMatch(problem);
  });
});

async function writeConfig(dir: string, text: string): Promise<string> {
  const file = path.join(dir, "cluster.yaml");
  writeFileSync(file, text);
  return file;
}

async function rejected(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, got success");
}

describe("loadClusterConfig", () => {
  it("puts the file name in front of the key", async () => {
    const dir = tempDir();
    const file = await writeConfig(dir, GOOD + "colour: blue\n");
    const err = await rejected(loadClusterConfig(file, NO_ENV));
    expect(err.message).toBe(`${file}: colour: unknown key (known keys: cluster, durability, tls, users, limits, auth, replication, nodes, logLevel, scheduling)`);
  });

  it("refuses a missing file", async () => {
    const err = await rejected(loadClusterConfig(path.join(tempDir(), "nope.yaml"), NO_ENV));
    expect(err.key).toBe("--config");
    expect(err.message).toMatch(/does not exist/);
  });

  it("checks the certificate files of the named node only", async () => {
    const dir = tempDir();
    const file = await writeConfig(dir, GOOD);
    // No certificates yet: fine without a node name, refused with one.
    await loadClusterConfig(file, NO_ENV);
    let err = await rejected(loadClusterConfig(file, NO_ENV, { nodeName: "worker-1" }));
    expect(err.key).toBe("tls.ca");
    expect(err.kind).toBe("file");
    expect(err.message).toContain(path.join(dir, "certs/ca.crt"));

    const config = await loadClusterConfig(file, NO_ENV);
    await initClusterCerts(config);
    // storage-1 listens on [::1]: its altNames hold an IPv6 address, and a rerun still keeps it.
    expect((await initClusterCerts(config)).every((e) => e.action === "kept")).toBe(true);
    await loadClusterConfig(file, NO_ENV, { nodeName: "worker-1" });
    await loadClusterConfig(file, NO_ENV, { nodeName: "dist-1" });

    rmSync(path.join(dir, "certs/worker-1.key"));
    err = await rejected(loadClusterConfig(file, NO_ENV, { nodeName: "worker-1" }));
    expect(err.key).toBe("tls.nodeCerts");
    expect(err.message).toContain("worker-1.key");
    await loadClusterConfig(file, NO_ENV, { nodeName: "storage-1" }); // another node's key does not matter

    rmSync(path.join(dir, "certs/public.crt"));
    err = await rejected(loadClusterConfig(file, NO_ENV, { nodeName: "dist-1" }));
    expect(err.key).toBe("tls.public.cert");
    await loadClusterConfig(file, NO_ENV, { nodeName: "storage-1" }); // only distributors need it

    err = await rejected(loadClusterConfig(file, NO_ENV, { nodeName: "ghost" }));
    expect(err.key).toBe("--name");
  });

  it("refuses a node certificate issued for another role", async () => {
    const dir = tempDir();
    const file = await writeConfig(dir, GOOD);
    const config = await loadClusterConfig(file, NO_ENV);
    await initClusterCerts(config);
    // Put storage-1's certificate in worker-1's place.
    for (const ext of ["crt", "key"]) {
      writeFileSync(path.join(dir, `certs/worker-1.${ext}`), readFileSync(path.join(dir, `certs/storage-1.${ext}`)));
    }
    const err = await rejected(checkCertificateFiles(config, "worker-1"));
    expect(err.key).toBe("tls.nodeCerts");
    expect(err.message).toMatch(/issued for storage\/storage-1, not worker\/worker-1/);
  });
});

describe("checkPortsFree", () => {
  async function listening(): Promise<{ server: net.Server; port: number }> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { server, port: (server.address() as net.AddressInfo).port };
  }

  it("names the key of a port that another server holds, and passes once it is released", async () => {
    const { server, port } = await listening();
    const dev = await generateDevConfig({ dir: tempDir(), workers: 2, storage: 1, host: "127.0.0.1", env: NO_ENV });
    const config: ClusterConfig = parseClusterConfig(
      node(`  - { name: s, role: storage, internal: 127.0.0.1:${port}, admin: 127.0.0.1:${dev.config.nodes[1].admin!.port} }\n`),
      "/x",
      NO_ENV,
    );
    try {
      const err = await rejected(checkPortsFree(config, "s"));
      expect(err.key).toBe("nodes[2].internal");
      expect(err.kind).toBe("port-in-use");
      expect(err.message).toContain(`127.0.0.1:${port}`);
    } finally {
      await new Promise((r) => server.close(r));
    }
    await checkPortsFree(config, "s");
    // The check released what it bound: binding again works.
    const again = net.createServer();
    await new Promise<void>((r, j) => again.once("error", j).listen(port, "127.0.0.1", r));
    await new Promise((r) => again.close(r));
  });

  it("refuses an address that is not on this host", async () => {
    const config = parseClusterConfig(node("  - { name: s, role: storage, internal: 192.0.2.1:7301 }\n"), "/x", NO_ENV);
    const err = await rejected(checkPortsFree(config, "s"));
    expect(err.key).toBe("nodes[2].internal");
  });
});

describe("generateDevConfig", () => {
  it("writes a valid cluster.yaml with distinct free ports", async () => {
    const dir = tempDir();
    const { path: file, config } = await generateDevConfig({ dir, workers: 3, storage: 1, host: "127.0.0.1", basePort: 0, env: NO_ENV });
    expect(file).toBe(path.join(dir, "cluster.yaml"));
    expect(config.nodes.map((n) => n.name)).toEqual(["dist-1", "worker-1", "worker-2", "worker-3", "storage-1"]);
    const ports = config.nodes.flatMap((n) => [n.internal, n.imaps, n.imap, n.admin].filter(Boolean).map((hp) => hp!.port));
    expect(ports).toHaveLength(3 + 2 * 4);
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports.every((p) => p > 0)).toBe(true);
    for (const n of config.nodes) await checkPortsFree(config, n.name);
    const reread = await loadClusterConfig(file, NO_ENV);
    expect(reread.nodes).toEqual(config.nodes);
  });

  it("lays ports out from basePort, with client port overrides", async () => {
    const { config } = await generateDevConfig({ dir: tempDir(), workers: 1, storage: 1, host: "127.0.0.1", basePort: 20000, imapsPort: 1993, env: NO_ENV });
    expect(config.nodes[0].imaps!.port).toBe(1993);
    expect(config.nodes[0].imap!.port).toBe(20001);
    expect(config.nodes[0].admin!.port).toBe(20002);
    expect(config.nodes[1].internal!.port).toBe(20003);
    expect(config.nodes[2].admin!.port).toBe(20006);
  });
});

describe("dev flow", () => {
  it("generateDevConfig + initClusterCerts give every node what checkCertificateFiles and checkPortsFree want", async () => {
    const dir = tempDir();
    const { path: file, config } = await generateDevConfig({ dir, workers: 2, storage: 1, host: "127.0.0.1", env: NO_ENV });
    await initClusterCerts(config);
    for (const n of config.nodes) {
      await loadClusterConfig(file, NO_ENV, { nodeName: n.name });
      await checkPortsFree(config, n.name);
    }
    // A second certs init keeps everything (the altNames still fit).
    expect((await initClusterCerts(config)).every((e) => e.action === "kept")).toBe(true);
    // A node that moved to another host gets a new certificate.
    const moved = parseClusterConfig(readFileSync(file, "utf8").replace(/internal: 127\.0\.0\.1:(\d+)/, "internal: node-a.example:$1"), dir, NO_ENV);
    const entries = await initClusterCerts(moved);
    expect(entries.filter((e) => e.action === "created").map((e) => e.name)).toEqual(["worker-1"]);
  });
});
