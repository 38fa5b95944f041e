import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../log/logger";
import type { CliIo } from "./args";
import { displayHost, parseDevArgs, startDev } from "./dev";
import { main } from "./main";
import { sharedHostNodeFlags } from "./node-process";
import { UsageError } from "./usage";

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "charon-dev-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => "" };
  return { out, err, cli };
}

async function login(port: number, user: string, password: string): Promise<string> {
  const sock = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await once(sock, "secureConnect");
  let buf = "";
  sock.on("data", (d: Buffer) => (buf += d.toString("latin1")));
  const waitFor = async (re: RegExp) => {
    while (!re.test(buf)) await once(sock, "data");
  };
  await waitFor(/^\* OK .*\r\n/);
  sock.write(`x LOGIN ${user} ${password}\r\n`);
  await waitFor(/^x (OK|NO|BAD).*\r\n/m);
  sock.destroy();
  return /^x (OK|NO|BAD)/m.exec(buf)![1];
}

describe("charon dev", () => {
  it("parses its options with defaults", () => {
    const o = parseDevArgs([]);
    expect(o).toMatchObject({ imapsPort: 1993, imapPort: 1143, host: "127.0.0.1", users: [], workers: 2, storage: 1 });
    expect(parseDevArgs(["--workers", "3", "--storage", "0"])).toMatchObject({ workers: 3, storage: 0 });
    expect(o.dataDir).toBe(path.resolve(".charon"));
    const p = parseDevArgs(["--data", "/tmp/x", "--imaps-port", "0", "--imap-port", "0", "--user", "a:b:c", "--user", "d:e", "--max-message-size", "10MiB"]);
    expect(p.users).toEqual([{ name: "a", password: "b:c" }, { name: "d", password: "e" }]);
    // Users are created concurrently, so a repeated name is settled while parsing: the last wins.
    expect(parseDevArgs(["--user", "a:1", "--user", "b:2", "--user", "a:3"]).users).toEqual([
      { name: "a", password: "3" },
      { name: "b", password: "2" },
    ]);
    expect(p.maxMessageSize).toBe(10 * 1024 * 1024);
    expect(displayHost("0.0.0.0")).toBe("127.0.0.1");
  });

  it("sizes V8's background threads by the cores each node of a shared host gets", () => {
    expect(sharedHostNodeFlags(4, 2, {})).toEqual(["--v8-pool-size=1"]);
    expect(sharedHostNodeFlags(4, 8, {})).toEqual(["--v8-pool-size=2"]);
    expect(sharedHostNodeFlags(4, 64, {})).toEqual(["--v8-pool-size=4"]);
    expect(sharedHostNodeFlags(1, 1, {})).toEqual(["--v8-pool-size=1"]);
    expect(sharedHostNodeFlags(4, 2, { NODE_OPTIONS: "--v8-pool-size=3" })).toEqual([]);
  });

  it("rejects bad options", () => {
    for (const argv of [["--imaps-port", "x"], ["--imap-port", "70000"], ["--user", "nocolon"], ["--user", "a b:c"], ["--user", "a:"], ["--frob"], ["extra"], ["--log-level", "loud"], ["--workers", "0"], ["--workers", "x"], ["--storage", "-1"]]) {
      expect(() => parseDevArgs(argv), JSON.stringify(argv)).toThrow(UsageError);
    }
  });

  it("starts the cluster as processes, prints node lines, demo and ready; a restart reuses the certificates", async () => {
    const data = path.join(dataDir(), "nested");
    const first = io();
    const cluster = await startDev(parseDevArgs(["--data", data, "--imaps-port", "0", "--imap-port", "0", "--log-level", "warn"]), first.cli, silentLogger());
    let password: string;
    try {
      // dist-1, worker-1, worker-2, storage-1; then the user line and the ready line.
      expect(first.out).toHaveLength(6);
      const nodeLines = first.out.slice(0, 4).map((l) => /^node (\S+) role=(\S+) pid=(\d+) admin=http:\/\/127\.0\.0\.1:\d+ restart="(.+)"$/.exec(l));
      expect(nodeLines.map((m) => m && `${m[1]}/${m[2]}`)).toEqual(["dist-1/distributor", "worker-1/worker", "worker-2/worker", "storage-1/storage"]);
      // Each is its own process, and the restart command names the node's config and name.
      expect(new Set(nodeLines.map((m) => m![3])).size).toBe(4);
      expect(nodeLines.map((m) => Number(m![3]))).not.toContain(process.pid);
      expect(nodeLines[1]![4]).toContain(`worker --config ${path.join(data, "cluster.yaml")} --name worker-1`);
      // Four nodes on this host share its cores: V8's background threads are sized for that.
      for (const m of nodeLines) expect(m![4]).toContain(sharedHostNodeFlags(4)[0]);
      expect(first.out[4]).toMatch(/^user demo password \S{16,}$/);
      password = first.out[4].split(" ")[3];
      const m = /^ready imaps=127\.0\.0\.1:(\d+) imap=127\.0\.0\.1:(\d+)$/.exec(first.out[5]);
      expect(m).not.toBeNull();
      expect(existsSync(path.join(data, "certs", "public.crt"))).toBe(true);
      expect(existsSync(path.join(data, "certs", "ca.crt"))).toBe(true);
      expect(readFileSync(path.join(data, "users.json"), "utf8")).not.toContain(password);
      expect(await login(Number(m![1]), "demo", password)).toBe("OK");
      expect(await login(Number(m![1]), "demo", "wrong")).toBe("NO");
    } finally {
      await cluster.close();
    }
    // Every child is gone after close.
    for (const p of cluster.nodes) expect(p.child.exitCode ?? p.child.signalCode).not.toBeNull();

    // A restart reuses the certificates and resets demo's password.
    const cert = readFileSync(path.join(data, "certs", "public.crt"), "utf8");
    const ca = readFileSync(path.join(data, "certs", "ca.crt"), "utf8");
    const second = io();
    const again = await startDev(parseDevArgs(["--data", data, "--imaps-port", "0", "--imap-port", "0", "--workers", "1", "--log-level", "warn"]), second.cli, silentLogger());
    try {
      expect(second.out.filter((l) => l.startsWith("node "))).toHaveLength(3);
      expect(readFileSync(path.join(data, "certs", "public.crt"), "utf8")).toBe(cert);
      expect(readFileSync(path.join(data, "certs", "ca.crt"), "utf8")).toBe(ca);
      const newPassword = second.out.find((l) => l.startsWith("user "))!.split(" ")[3];
      expect(newPassword).not.toBe(password);
      expect(await login(again.endpoints.imaps.port, "demo", password)).toBe("NO");
      expect(await login(again.endpoints.imaps.port, "demo", newPassword)).toBe("OK");
    } finally {
      await again.close();
    }
  });

  it("creates the --user accounts instead of demo", async () => {
    const out = io();
    const cluster = await startDev(
      parseDevArgs([
        ...["--data", dataDir(), "--imaps-port", "0", "--imap-port", "0", "--workers", "1", "--storage", "0", "--log-level", "warn"],
        ...["--user", "alice:secret1", "--user", "bob:secret2", "--user", "carol:secret3", "--user", "bob:secret4"],
      ]),
      out.cli,
      silentLogger(),
    );
    try {
      expect(out.out.filter((l) => !l.startsWith("node "))).toHaveLength(1);
      expect(out.out[out.out.length - 1]).toMatch(/^ready /);
      // Created at once, written one at a time: none lost, and bob has his last password.
      expect(cluster.users.listUsers()).toEqual(["alice", "bob", "carol"]);
      expect(await login(cluster.endpoints.imaps.port, "alice", "secret1")).toBe("OK");
      expect(await cluster.users.verify("carol", "secret3")).toBe(true);
      expect(await cluster.users.verify("bob", "secret4")).toBe(true);
      expect(await cluster.users.verify("bob", "secret2")).toBe(false);
    } finally {
      await cluster.close();
    }
  });
});

describe("charon main", () => {
  it("prints help and version with exit 0", async () => {
    const h = io();
    expect(await main(["--help"], h.cli)).toBe(0);
    expect(h.out.join("\n")).toMatch(/charon dev|dev /);
    const d = io();
    expect(await main(["dev", "--help"], d.cli)).toBe(0);
    expect(d.out.join("\n")).toMatch(/--imaps-port/);
    const v = io();
    expect(await main(["--version"], v.cli)).toBe(0);
    expect(v.out[0]).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("exits 2 with a message for unknown commands and bad options", async () => {
    for (const argv of [[], ["frob"], ["dev", "--imaps-port", "abc"], ["user", "frob"]]) {
      const x = io();
      expect(await main(argv, x.cli), JSON.stringify(argv)).toBe(2);
      expect(x.err.join("\n")).toMatch(/charon|Usage/);
    }
  });

  it("exits 76 naming the key when a client port is taken", async () => {
    const data = dataDir();
    const first = io();
    const cluster = await startDev(parseDevArgs(["--data", data, "--imaps-port", "0", "--imap-port", "0", "--workers", "1", "--storage", "0", "--user", "a:b", "--log-level", "warn"]), first.cli, silentLogger());
    try {
      const x = io();
      const port = String(cluster.endpoints.imaps.port);
      expect(await main(["dev", "--data", dataDir(), "--imaps-port", port, "--imap-port", "0", "--log-level", "silent", "--user", "a:b"], x.cli)).toBe(76);
      expect(x.err.join("\n")).toMatch(new RegExp(`nodes\\[0\\]\\.imaps: port already in use: 127\\.0\\.0\\.1:${port}`));
    } finally {
      await cluster.close();
    }
  });
});
