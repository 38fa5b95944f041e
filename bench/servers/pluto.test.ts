// The pluto launcher: its reading of pluto's config, and a whole pluto
// workload run through it against real processes of a stand-in binary
// (pluto-standin.ts, from dist/ as npm test builds it first), since no pluto
// binary can be built on this machine.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSelfSigned } from "../../src/tls/certs";
import { plutoScenario } from "../scenarios/pluto-workload";
import { PlutoServer, plutoRoot, readPlutoConfig, readPlutoUsers } from "./pluto";
import { freePort, isAlive } from "./proc";

const STANDIN = path.resolve(__dirname, "..", "..", "dist", "bench", "servers", "pluto-standin.js");

describe("pluto's config", () => {
  it("reads the later format: PublicMailAddr, workers by Name, user ranges", () => {
    const f = readPlutoConfig(
      [
        '[Distributor]\nName = "distributor"\nPublicMailAddr = "127.0.0.1:19933" # x\nListenMailAddr = "127.0.0.1:19933"',
        '  [Distributor.AuthFile]\n  File = "users.txt"\n  Separator = ";"',
        '[Workers]\n  [Workers.worker-1]\n  Name = "w1"\n  UserStart = 1\n  UserEnd = 10',
        '    [Workers.worker-1.Peers.subnet-1]\n    storage = "127.0.0.1:21001"',
        '  [Workers.worker-2]\n  UserStart = 11\n  UserEnd = 20\n[Storage]\nName = "storage"',
      ].join("\n"),
    );
    expect(f).toMatchObject({ publicAddr: { host: "127.0.0.1", port: 19933 }, workers: ["w1", "worker-2"], userRanges: [[1, 10], [11, 20]], authFile: "users.txt", separator: ";" });
    expect(f.distributor.ListenMailAddr).toBe("127.0.0.1:19933");
  });

  it("reads the earlier format's distributor address and refuses a config without one", () => {
    expect(readPlutoConfig('[Distributor]\nIP = "127.0.0.1"\nPort = "19933"\n[Workers.worker-1]\n').publicAddr).toEqual({ host: "127.0.0.1", port: 19933 });
    expect(readPlutoConfig('[Distributor]\nPublicIP = "::1"\nListenIP = "::1"\nPort = "993"\n').publicAddr).toEqual({ host: "::1", port: 993 });
    expect(() => readPlutoConfig("[Workers]\n")).toThrow(/PublicMailAddr/);
  });

  it("resolves relative paths as pluto does, and numbers users by line", () => {
    expect(plutoRoot("/src/pluto")).toBe("/src/pluto");
    expect(plutoRoot("/src/pluto/config")).toBe("/src/pluto");
    const users = readPlutoUsers("a;pa\nb;pb\n\nd;pd\n", { separator: ";", userRanges: [[1, 1], [4, 9]] });
    expect(users).toEqual([
      { name: "a", password: "pa" },
      { name: "d", password: "pd" },
    ]);
    expect(readPlutoUsers("a;pa\nb;pb\n", { separator: ";", userRanges: [] })).toHaveLength(2);
  });
});

describe("the pluto launcher, against a stand-in binary", () => {
  const dirs: string[] = [];
  const servers: PlutoServer[] = [];
  afterEach(async () => {
    // A failed assertion must not leave the stand-in's processes running.
    for (const s of servers.splice(0)) await s.stop();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** A pluto checkout's layout: the binary and users at the root, the config one level down. */
  async function plutoDir(o: { certs: boolean }): Promise<{ bin: string; config: string; log: string }> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "charon-pluto-"));
    dirs.push(root);
    fs.mkdirSync(path.join(root, "config"));
    fs.mkdirSync(path.join(root, "private"));
    if (o.certs) {
      const pair = await createSelfSigned();
      fs.writeFileSync(path.join(root, "private", "public-distributor-cert.pem"), pair.cert);
      fs.writeFileSync(path.join(root, "private", "public-distributor-key.pem"), pair.key);
    }
    fs.writeFileSync(path.join(root, "users.txt"), "user1;pass1\nuser2;pass2\nuser3;pass3\nuser4;pass4\n");
    const port = await freePort();
    const config = path.join(root, "config", "config.toml");
    fs.writeFileSync(
      config,
      [
        'RootCertLoc = "private/root-cert.pem"',
        "[Distributor]",
        `PublicMailAddr = "127.0.0.1:${port}"`,
        `ListenMailAddr = "127.0.0.1:${port}"`,
        'PublicCertLoc = "private/public-distributor-cert.pem"',
        'PublicKeyLoc = "private/public-distributor-key.pem"',
        'AuthAdapter = "AuthFile"',
        "  [Distributor.AuthFile]",
        '  File = "users.txt"',
        '  Separator = ";"',
        "[Workers]",
        "  [Workers.worker-1]",
        '  Name = "w-alpha"',
        "  UserStart = 1",
        "  UserEnd = 2",
        "  [Workers.worker-2]",
        '  Name = "w-beta"',
        "  UserStart = 3",
        "  UserEnd = 3",
        "[Storage]",
        'Name = "storage"',
      ].join("\n"),
    );
    const bin = path.join(root, "pluto");
    fs.writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${STANDIN}" "$@"\n`, { mode: 0o755 });
    return { bin, config, log: path.join(root, "config", "pluto-bench.log") };
  }

  const started = (log: string) =>
    fs
      .readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { role: string; worker?: string; pid: number; cwd: string });

  // Storage first and the distributor last; the workers start together.
  const startOrder = (nodes: Array<{ role: string; worker?: string }>) => [nodes[0]?.role, nodes.slice(1, -1).map((n) => n.worker).sort(), nodes[nodes.length - 1]?.role];

  it("starts storage, the workers by name and the distributor, runs the pluto workload and stops them all", async () => {
    const p = await plutoDir({ certs: true });
    const logs: string[] = [];
    const server = await PlutoServer.start(p.bin, p.config, [], (s) => logs.push(s));
    servers.push(server);
    // user4 is outside every worker's range, so pluto could not serve it.
    expect(server.users.map((u) => u.name)).toEqual(["user1", "user2", "user3"]);
    const pids = server.allPids();
    const result = await plutoScenario({ quick: true, durationS: 1, dovecotScheme: "unused", log: (s) => logs.push(s) }, async () => server, ["pluto"]);

    const nodes = started(p.log);
    expect(startOrder(nodes)).toEqual(["storage", ["w-alpha", "w-beta"], "distributor"]);
    expect(new Set(nodes.map((n) => n.cwd))).toEqual(new Set([path.dirname(p.config)]));
    expect(pids.length).toBeGreaterThanOrEqual(4);
    expect(pids.filter(isAlive)).toEqual([]);

    const run = (result.raw as Record<string, { sessions: number; firstLogin: Record<string, { count: number; errors: number }>; perCommand: Record<string, { count: number; errors: number }> }>).pluto;
    expect(run.firstLogin.LOGIN).toMatchObject({ count: 3, errors: 0 });
    expect(run.sessions).toBeGreaterThan(0);
    // Sessions of one user race (one DELETEs the mailbox another has selected), on
    // every server; those failures are the workload's. The dialect's would fail
    // every LOGIN (quoted arguments) or every APPEND (LITERAL+), or show as a command pluto lacks.
    expect(Object.keys(run.perCommand).sort()).toEqual(["APPEND", "CREATE", "DELETE", "EXPUNGE", "LOGIN", "LOGOUT", "SELECT", "STORE"]);
    for (const cmd of ["LOGIN", "CREATE", "LOGOUT"]) expect(run.perCommand[cmd].errors, cmd).toBe(0);
    for (const [cmd, s] of Object.entries(run.perCommand)) expect(s.count - s.errors, cmd).toBeGreaterThan(0);
    const p99 = result.figures.find((f) => f.metric === "STORE p99");
    expect(p99?.values.pluto).toBeGreaterThan(0);
    // One connect per session that logged in, apart from the commands.
    const connect = (result.raw as Record<string, { connect: { count: number; p50: number } }>).pluto.connect;
    expect(connect.count).toBeGreaterThanOrEqual(run.sessions);
    expect(connect.count).toBeLessThanOrEqual(run.perCommand.LOGIN.count);
    expect(result.figures.find((f) => f.metric === "connect (TCP, TLS, greeting) p99")?.values.pluto).toBeGreaterThan(0);
  });

  it("reports a node that exits at start and leaves none of the others running", async () => {
    const p = await plutoDir({ certs: false });
    await expect(PlutoServer.start(p.bin, p.config, [], () => undefined)).rejects.toThrow(/did not listen on 127\.0\.0\.1:\d+ \(see .*pluto-bench\.log\)/);
    const nodes = started(p.log);
    expect(startOrder(nodes)).toEqual(["storage", ["w-alpha", "w-beta"], "distributor"]);
    expect(nodes.map((n) => n.pid).filter(isAlive)).toEqual([]);
    expect(fs.readFileSync(p.log, "utf8")).toMatch(/failed to create public TLS config/);
  });
});
