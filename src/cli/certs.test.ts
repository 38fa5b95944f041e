// Runs the built CLI (npm run build first) as a child process.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { roleOf } from "../tls/certs";
import { CONFIG_EXIT_CODES } from "../config/errors";

const CLI = path.resolve(__dirname, "../../dist/src/cli/main.js");

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) : 0;
      resolve({ code: typeof code === "number" ? code : -1, stdout, stderr });
    });
  });
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "charon-certs-cli-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CONFIG = `
cluster: { name: cli }
tls: { ca: pki/ca.crt, caKey: pki/ca.key, nodeCerts: pki/nodes, public: { cert: pki/public.crt, key: pki/public.key } }
nodes:
  - { name: dist-1, role: distributor, imaps: 127.0.0.1:1993, imap: 127.0.0.1:1143 }
  - { name: worker-1, role: worker, internal: 127.0.0.1:7201 }
  - { name: storage-1, role: storage, internal: 127.0.0.1:7301 }
`;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
});

describe("charon certs init (built CLI)", () => {
  it("creates the CA, one certificate per node with its role, and the public cert; keys 0600; keeps them on a second run", async () => {
    const dir = tempDir();
    const file = path.join(dir, "cluster.yaml");
    writeFileSync(file, CONFIG);
    const first = await run(["certs", "init", "--config", file]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines).toEqual([
      `created ca cert=${dir}/pki/ca.crt key=${dir}/pki/ca.key`,
      `created node dist-1 role=distributor cert=${dir}/pki/nodes/dist-1.crt key=${dir}/pki/nodes/dist-1.key`,
      `created node worker-1 role=worker cert=${dir}/pki/nodes/worker-1.crt key=${dir}/pki/nodes/worker-1.key`,
      `created node storage-1 role=storage cert=${dir}/pki/nodes/storage-1.crt key=${dir}/pki/nodes/storage-1.key`,
      `created public cert=${dir}/pki/public.crt key=${dir}/pki/public.key`,
    ]);
    const ca = new X509Certificate(readFileSync(path.join(dir, "pki/ca.crt")));
    expect(ca.ca).toBe(true);
    for (const [name, role] of [["dist-1", "distributor"], ["worker-1", "worker"], ["storage-1", "storage"]]) {
      const pem = readFileSync(path.join(dir, `pki/nodes/${name}.crt`), "utf8");
      expect(roleOf(pem)).toEqual({ role, name });
      const cert = new X509Certificate(pem);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.publicKey.asymmetricKeyType).toBe("ec");
      expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
      expect(statSync(path.join(dir, `pki/nodes/${name}.key`)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(path.join(dir, "pki/ca.key")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, "pki/public.key")).mode & 0o777).toBe(0o600);

    const caBefore = readFileSync(path.join(dir, "pki/ca.crt"), "utf8");
    const second = await run(["certs", "init", "--config", file]);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split("\n").every((l) => l.startsWith("kept "))).toBe(true);
    expect(readFileSync(path.join(dir, "pki/ca.crt"), "utf8")).toBe(caBefore);

    const forced = await run(["certs", "init", "--config", file, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout.trim().split("\n").every((l) => l.startsWith("created "))).toBe(true);
    expect(readFileSync(path.join(dir, "pki/ca.crt"), "utf8")).not.toBe(caBefore);
  });

  it("refuses a bad configuration naming the key, with the kind's exit code", async () => {
    const dir = tempDir();
    const file = path.join(dir, "cluster.yaml");
    writeFileSync(file, CONFIG + "  - { name: worker-1, role: storage, internal: 127.0.0.1:7302 }\n");
    const r = await run(["certs", "init", "--config", file]);
    expect(r.code).toBe(CONFIG_EXIT_CODES.duplicate);
    expect(r.stderr).toContain(`${file}: nodes[3].name: duplicate node name "worker-1"`);
    expect(existsSync(path.join(dir, "pki"))).toBe(false);

    writeFileSync(file, CONFIG + "colour: blue\n");
    const u = await run(["certs", "init", "--config", file]);
    expect(u.code).toBe(CONFIG_EXIT_CODES["unknown-key"]);
    expect(u.stderr).toContain("colour: unknown key");
  });

  it("applies environment overrides and refuses unknown CHARON_ variables", async () => {
    const dir = tempDir();
    const file = path.join(dir, "cluster.yaml");
    writeFileSync(file, CONFIG);
    const r = await run(["certs", "init", "--config", file], { CHARON_TLS__CA: "other/ca.crt" });
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, "other/ca.crt"))).toBe(true);
    const bad = await run(["certs", "init", "--config", file], { CHARON_TLS__CAA: "x" });
    expect(bad.code).toBe(CONFIG_EXIT_CODES["unknown-key"]);
    expect(bad.stderr).toContain("env CHARON_TLS__CAA");
  });

  it("usage errors exit 2", async () => {
    expect((await run(["certs", "init"])).code).toBe(2);
    expect((await run(["certs", "renew", "--config", "x"])).code).toBe(2);
    const help = await run(["certs", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("charon certs init --config FILE");
  });
});
