// The load generator's connection against a scripted plain-TCP server on
// loopback: pipelining, synchronising literals when LITERAL+ is missing,
// LITERAL+ when offered, and a refused literal. No timing assertions.
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ImapConnection, openSession } from "./connection";

interface Fake {
  port: number;
  received: string[];
  close: () => Promise<void>;
}

/** A tiny IMAP-ish server: answers each complete command line; literals handled per `plus`. */
function fakeServer(caps: string, opts: { refuseLiterals?: boolean } = {}): Promise<Fake> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.write(`* OK [CAPABILITY IMAP4rev1 ${caps}] fake\r\n`);
    let buf = "";
    let literal = 0;
    let line = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      for (;;) {
        if (literal > 0) {
          if (buf.length < literal) return;
          line += `<${literal} bytes>`;
          buf = buf.slice(literal);
          literal = 0;
          continue;
        }
        const eol = buf.indexOf("\r\n");
        if (eol < 0) return;
        const part = buf.slice(0, eol);
        buf = buf.slice(eol + 2);
        const m = /\{(\d+)(\+?)\}$/.exec(part);
        line += part;
        if (m) {
          const tag = line.split(" ")[0];
          if (!m[2] && opts.refuseLiterals) {
            s.write(`${tag} NO too big\r\n`);
            received.push(line);
            line = "";
            continue;
          }
          if (!m[2]) s.write("+ go\r\n");
          literal = Number(m[1]);
          continue;
        }
        received.push(line);
        const [tag, cmd] = line.split(" ");
        line = "";
        if (cmd === "LOGIN") s.write(`${tag} OK [CAPABILITY IMAP4rev1 ${caps}] in\r\n`);
        else if (cmd === "FETCH") s.write(`* 1 FETCH (BODY[] {3}\r\nabc)\r\n${tag} OK done\r\n`);
        else s.write(`${tag} OK ${cmd}\r\n`);
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        received,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

let fake: Fake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe("ImapConnection", () => {
  it("pipelines commands and attributes untagged data to the command in flight", async () => {
    fake = await fakeServer("LITERAL+");
    const c = await openSession({ host: "127.0.0.1", port: fake.port, tls: false, user: "u", password: 'p"w' });
    const [a, b, f] = await Promise.all([c.command("NOOP"), c.command("SELECT INBOX"), c.command("FETCH 1 BODY[]")]);
    expect([a.status, b.status, f.status]).toEqual(["OK", "OK", "OK"]);
    expect(f.untagged.map((u) => u.text)).toEqual(["* 1 FETCH (BODY[] {3})"]);
    expect(fake.received[0]).toBe('a1 LOGIN "u" "p\\"w"');
    expect(c.literalPlus).toBe(true);
    c.close();
  });

  it("counts a countOnly command's untagged responses without keeping them; the next command keeps its own", async () => {
    fake = await fakeServer("LITERAL+");
    const c = await openSession({ host: "127.0.0.1", port: fake.port, tls: false, user: "u", password: "p" });
    const [counted, kept] = await Promise.all([c.command("FETCH 1 BODY[]", { countOnly: true }), c.command("FETCH 1 BODY[]")]);
    expect([counted.untaggedCount, counted.untagged]).toEqual([1, []]);
    expect(kept.untagged.map((u) => u.text)).toEqual(["* 1 FETCH (BODY[] {3})"]);
    c.close();
  });

  it("sends LITERAL+ literals without waiting, synchronising ones after '+'", async () => {
    fake = await fakeServer("LITERAL+");
    const plus = await ImapConnection.connect({ host: "127.0.0.1", port: fake.port, tls: false });
    const r = await plus.command(["APPEND INBOX ", Buffer.from("hello")]);
    expect(r.status).toBe("OK");
    expect(fake.received).toEqual(["a1 APPEND INBOX {5+}<5 bytes>"]);
    plus.close();
    await fake.close();

    fake = await fakeServer("IDLE");
    const sync = await ImapConnection.connect({ host: "127.0.0.1", port: fake.port, tls: false });
    const rs = await Promise.all([sync.command(["APPEND INBOX ", Buffer.from("abc")]), sync.command(["APPEND X ", Buffer.from("hello!")]), sync.command("NOOP")]);
    expect(rs.map((x) => x.status)).toEqual(["OK", "OK", "OK"]);
    expect(fake.received).toEqual(["a1 APPEND INBOX {3}<3 bytes>", "a2 APPEND X {6}<6 bytes>", "a3 NOOP"]);
    sync.close();
  });

  it("a refused synchronising literal settles with NO and the next command still runs", async () => {
    fake = await fakeServer("IDLE", { refuseLiterals: true });
    const c = await ImapConnection.connect({ host: "127.0.0.1", port: fake.port, tls: false });
    const [r1, r2] = await Promise.all([c.command(["APPEND INBOX ", Buffer.from("abc")]), c.command("NOOP")]);
    expect(r1.status).toBe("NO");
    expect(r2.status).toBe("OK");
    c.close();
  });

  it("rejects pending commands when the server goes away", async () => {
    fake = await fakeServer("LITERAL+");
    const c = await ImapConnection.connect({ host: "127.0.0.1", port: fake.port, tls: false });
    await fake.close();
    fake = undefined;
    await expect(c.command("NOOP")).rejects.toThrow();
  });
});

describe("ImapConnection set-up time", () => {
  it("runs from the connect to the greeting, so a server that greets late shows in it", async () => {
    const server = net.createServer((s) => {
      setTimeout(() => s.write("* OK [CAPABILITY IMAP4rev1] late\r\n"), 80);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const c = await ImapConnection.connect({ host: "127.0.0.1", port, tls: false });
      // Timers may fire late, never early: a lower bound only.
      expect(c.connectMs).toBeGreaterThanOrEqual(75);
      c.close();
    } finally {
      server.close();
    }
  });
});

describe("ImapConnection bounds", () => {
  it("drops a connection whose server stops answering", async () => {
    const server = net.createServer((s) => s.write("* OK [CAPABILITY IMAP4rev1 LITERAL+] mute\r\n"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const c = await ImapConnection.connect({ host: "127.0.0.1", port, tls: false, commandTimeoutMs: 200 });
      await expect(c.command("NOOP")).rejects.toThrow(/no response to a1 within 200 ms/);
      expect(c.isClosed).toBe(true);
    } finally {
      server.close();
    }
  });
});
