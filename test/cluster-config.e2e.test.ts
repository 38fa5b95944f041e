// Issue 3, acceptance 6: a node started on a malformed configuration refuses
// to start, with a message that names the key and the problem and an exit code
// of its own per kind of mistake. Each case is a real `charon worker` or
// `charon distributor` process on a broken copy of a good configuration.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_EXIT_CODES, generateDevConfig, type ClusterConfig } from "../src/config/cluster";
import { initClusterCerts } from "../src/tls/cluster-certs";
import { CLI_ENTRY } from "./support/server";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_ENTRY, ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === "number" ? code : null, stdout, stderr });
    });
  });
}

let dir: string;
let good: string;
let config: ClusterConfig;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "charon-config-"));
  const generated = await generateDevConfig({ dir, workers: 2, storage: 1, host: "127.0.0.1" });
  config = generated.config;
  good = readFileSync(generated.path, "utf8");
  await initClusterCerts(config);
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a variant of the good file and starts `charon ROLE` on it. */
async function startOn(text: string, role = "worker", name = "worker-1", env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const file = path.join(dir, `variant-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return runCli([role, "--config", file, "--name", name, "--log-level", "silent"], env);
}

describe("a node refuses a bad configuration at start", () => {
  it("starts on the good file (the control): prints its ready line", async () => {
    // A started node would run until a signal: check the ready line, then stop it by its PID.
    const file = path.join(dir, "cluster.yaml");
    const child = spawn(process.execPath, [CLI_ENTRY, "worker", "--config", file, "--name", "worker-1", "--log-level", "silent"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out.split("\n")[0]);
      });
      child.once("exit", (code) => reject(new Error(`exited ${code}`)));
    });
    expect(line).toMatch(/^ready worker name=worker-1 internal=127\.0\.0\.1:\d+ admin=127\.0\.0\.1:\d+$/);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  const cases: Array<{ what: string; make: () => Promise<Run>; kind: keyof typeof CONFIG_EXIT_CODES; message: RegExp }> = [
    {
      what: "an unknown key",
      make: () => startOn(good + "colour: blue\n"),
      kind: "unknown-key",
      message: /colour: unknown key/,
    },
    {
      what: "an unknown key inside a node",
      make: () => startOn(good.replace("role: worker", "role: worker\n    weight: 3")),
      kind: "unknown-key",
      message: /nodes\[\d\]\.weight: unknown key/,
    },
    {
      what: "two nodes with the same name",
      make: () => startOn(good.replace("name: worker-2", "name: worker-1")),
      kind: "duplicate",
      message: /nodes\[\d\]\.name: duplicate node name "worker-1"/,
    },
    {
      what: "a missing certificate file",
      make: async () => {
        const copy = path.join(dir, "certs-missing");
        const text = good.replace(/nodeCerts: certs/, `nodeCerts: ${copy}`);
        return startOn(text);
      },
      kind: "file",
      message: /certs-missing\/worker-1\.crt/,
    },
    {
      what: "a port already in use",
      make: async () => {
        const internal = config.nodes.find((n) => n.name === "worker-1")!.internal!;
        const squatter = net.createServer();
        await new Promise<void>((r) => squatter.listen(internal.port, internal.host, r));
        try {
          return await startOn(good);
        } finally {
          await new Promise<void>((r) => squatter.close(() => r()));
        }
      },
      kind: "port-in-use",
      message: /nodes\[1\]\.internal: port already in use: 127\.0\.0\.1:\d+/,
    },
    {
      what: "a value of the wrong kind",
      make: () => startOn(good.replace("role: storage", "role: archive")),
      kind: "value",
      message: /nodes\[\d\]\.role/,
    },
    {
      what: "a value of the wrong type",
      make: () => startOn(good.replace(/^logLevel: .*$/m, "logLevel: [1, 2]")),
      kind: "type",
      message: /logLevel/,
    },
    {
      what: "invalid YAML",
      make: () => startOn(good + "nodes: [\n"),
      kind: "syntax",
      message: /yaml/i,
    },
    {
      what: "an unknown CHARON_ variable",
      make: () => startOn(good, "worker", "worker-1", { CHARON_LIMITS__MAXFROBS: "3" }),
      kind: "unknown-key",
      message: /env CHARON_LIMITS__MAXFROBS/,
    },
    {
      what: "a distributor whose public certificate is missing",
      make: () => startOn(good.replace(/cert: certs\/public\.crt/, "cert: certs/nowhere.crt"), "distributor", "dist-1"),
      kind: "file",
      message: /tls\.public\.cert.*nowhere\.crt/,
    },
  ];

  for (const c of cases) {
    it(`${c.what}: exit ${CONFIG_EXIT_CODES[c.kind]} and a message naming the key`, async () => {
      const r = await c.make();
      expect(r.stdout).not.toMatch(/^ready/m);
      expect(r.stderr).toMatch(/^charon: configuration error: /m);
      expect(r.stderr).toMatch(c.message);
      expect(r.code).toBe(CONFIG_EXIT_CODES[c.kind]);
    });
  }

  it("a --name that is not in the file, or of another role, is refused too", async () => {
    const missing = await startOn(good, "worker", "worker-9");
    expect(missing.stderr).toMatch(/--name.*worker-9/);
    expect(missing.code).not.toBe(0);
    const wrongRole = await startOn(good, "storage", "worker-1");
    expect(wrongRole.stderr).toMatch(/worker-1 is a worker, not a storage/);
    expect(wrongRole.code).toBe(CONFIG_EXIT_CODES.value);
  });

  it("keeps the certificate checks honest: removing the node's key file is caught", async () => {
    const variantDir = mkdtempSync(path.join(dir, "certs-"));
    for (const f of ["ca.crt", "worker-1.crt"]) writeFileSync(path.join(variantDir, f), readFileSync(path.join(dir, "certs", f)));
    const text = good.replace(/ca: certs\/ca\.crt/, `ca: ${variantDir}/ca.crt`).replace(/nodeCerts: certs/, `nodeCerts: ${variantDir}`);
    const r = await startOn(text);
    expect(r.stderr).toMatch(/worker-1\.key/);
    expect(r.code).toBe(CONFIG_EXIT_CODES.file);
  });
});
