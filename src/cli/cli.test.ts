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
    expect(o).toMatchObject({ imapsPort: 1993, imapPort: 1143, host: "127.0.0.1", users: [] });
    expect(o.dataDir).toBe(path.resolve(".charon"));
    const p = parseDevArgs(["--data", "/tmp/x", "--imaps-port", "0", "--imap-port", "0", "--user", "a:b:c", "--user", "d:e", "--max-message-size", "10MiB"]);
    expect(p.users).toEqual([{ name: "a", password: "b:c" }, { name: "d", password: "e" }]);
    expect(p.maxMessageSize).toBe(10 * 1024 * 1024);
    expect(displayHost("0.0.0.0")).toBe("127.0.0.1");
  });

  it("rejects bad options", () => {
    for (const argv of [["--imaps-port", "x"], ["--imap-port", "70000"], ["--user", "nocolon"], ["--user", "a b:c"], ["--user", "a:"], ["--frob"], ["extra"], ["--log-level", "loud"]]) {
      expect(() => parseDevArgs(argv), JSON.stringify(argv)).toThrow(UsageError);
    }
  });

  it("creates the data dir, the certificate and demo, prints the password and the ready line", async () => {
    const data = path.join(dataDir(), "nested");
    const first = io();
    const node = await startDev(parseDevArgs(["--data", data, "--imaps-port", "0", "--imap-port", "0"]), first.cli, silentLogger());
    try {
      expect(first.out).toHaveLength(2);
      const [, user, , password] = first.out[0].split(" ");
      expect(first.out[0]).toMatch(/^user demo password \S{16,}$/);
      const m = /^ready imaps=127\.0\.0\.1:(\d+) imap=127\.0\.0\.1:(\d+)$/.exec(first.out[1]);
      expect(m).not.toBeNull();
      expect(existsSync(path.join(data, "tls", "server.crt"))).toBe(true);
      expect(readFileSync(path.join(data, "users.json"), "utf8")).not.toContain(password);
      expect(await login(Number(m![1]), user, password)).toBe("OK");
      expect(await login(Number(m![1]), user, "wrong")).toBe("NO");
    } finally {
      await node.close();
    }

    // A restart reuses the certificate and resets demo's password.
    const cert = readFileSync(path.join(data, "tls", "server.crt"), "utf8");
    const second = io();
    const again = await startDev(parseDevArgs(["--data", data, "--imaps-port", "0", "--imap-port", "0"]), second.cli, silentLogger());
    try {
      expect(readFileSync(path.join(data, "tls", "server.crt"), "utf8")).toBe(cert);
      expect(second.out[0]).not.toBe(first.out[0]);
      const port = Number(/imaps=[^:]+:(\d+)/.exec(second.out[1])![1]);
      expect(await login(port, "demo", first.out[0].split(" ")[3])).toBe("NO");
      expect(await login(port, "demo", second.out[0].split(" ")[3])).toBe("OK");
    } finally {
      await again.close();
    }
  });

  it("creates the --user accounts instead of demo", async () => {
    const out = io();
    const node = await startDev(
      parseDevArgs(["--data", dataDir(), "--imaps-port", "0", "--imap-port", "0", "--user", "alice:secret1"]),
      out.cli,
      silentLogger(),
    );
    try {
      expect(out.out).toHaveLength(1);
      expect(out.out[0]).toMatch(/^ready /);
      expect(node.users.listUsers()).toEqual(["alice"]);
      expect(await login(node.endpoints.imaps!.port, "alice", "secret1")).toBe("OK");
    } finally {
      await node.close();
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

  it("exits 1 when a port is taken", async () => {
    const data = dataDir();
    const first = io();
    const node = await startDev(parseDevArgs(["--data", data, "--imaps-port", "0", "--imap-port", "0", "--user", "a:b"]), first.cli, silentLogger());
    try {
      const x = io();
      const port = String(node.endpoints.imaps!.port);
      expect(await main(["dev", "--data", dataDir(), "--imaps-port", port, "--imap-port", "0", "--log-level", "silent", "--user", "a:b"], x.cli)).toBe(1);
      expect(x.err.join("\n")).toMatch(/EADDRINUSE/);
    } finally {
      await node.close();
    }
  });
});
