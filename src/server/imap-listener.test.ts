// The real IMAP engine behind the real listener: TLS greeting, STARTTLS, LOGIN policy, BYE on close.
import { once } from "node:events";
import net from "node:net";
import tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BoundEndpoints, ImapListener } from "./imap-listener";
import { startTestListener, type TestListener } from "./listener-test-support";

/** Collects CRLF lines from a socket. */
function reader(socket: net.Socket) {
  let buf = "";
  let closed = false;
  let wake: (() => void) | undefined;
  const onData = (d: Buffer) => {
    buf += d.toString("latin1");
    wake?.();
  };
  const onClose = () => {
    closed = true;
    wake?.();
  };
  socket.on("data", onData);
  socket.on("close", onClose);
  socket.on("error", () => undefined);
  return {
    async line(): Promise<string> {
      for (;;) {
        const i = buf.indexOf("\r\n");
        if (i >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 2);
          return l;
        }
        if (closed) throw new Error(`closed; pending ${JSON.stringify(buf)}`);
        await new Promise<void>((r) => (wake = r));
      }
    },
    /** Lines up to and including the tagged response for `tag`. */
    async until(tag: string): Promise<string[]> {
      const lines: string[] = [];
      for (;;) {
        const l = await this.line();
        lines.push(l);
        if (l.startsWith(`${tag} `)) return lines;
      }
    },
    async rest(): Promise<string[]> {
      while (!closed) await new Promise<void>((r) => (wake = r));
      return buf.split("\r\n").filter(Boolean);
    },
    detach() {
      socket.off("data", onData);
      socket.off("close", onClose);
    },
  };
}

describe("ImapListener with ImapSession", () => {
  let server: TestListener;
  let listener: ImapListener;
  let bound: BoundEndpoints;

  beforeEach(async () => {
    server = await startTestListener({ alice: "wonderland" });
    ({ listener, bound } = server);
  });
  afterEach(() => server.close());

  it("greets over implicit TLS and logs in", async () => {
    const sock = tls.connect({ host: "127.0.0.1", port: bound.imaps!.port, rejectUnauthorized: false });
    await once(sock, "secureConnect");
    const r = reader(sock);
    expect(await r.line()).toMatch(/^\* OK /);
    sock.write("a1 LOGIN alice wonderland\r\n");
    expect((await r.until("a1")).at(-1)).toMatch(/^a1 OK/);
    sock.write("a2 LOGIN alice wonderland\r\n");
    expect((await r.until("a2")).at(-1)).toMatch(/^a2 BAD/);
    sock.write("a3 LOGOUT\r\n");
    const tail = await r.until("a3");
    expect(tail[0]).toMatch(/^\* BYE/);
    expect(tail.at(-1)).toMatch(/^a3 OK/);
    sock.destroy();
  });

  it("refuses LOGIN before STARTTLS, then upgrades in place and accepts it", async () => {
    const plain = net.connect({ host: "127.0.0.1", port: bound.imap!.port });
    await once(plain, "connect");
    const r = reader(plain);
    const greeting = await r.line();
    expect(greeting).toMatch(/^\* OK /);
    expect(greeting).toMatch(/STARTTLS/);
    expect(greeting).toMatch(/LOGINDISABLED/);
    plain.write("b1 LOGIN alice wonderland\r\n");
    expect((await r.until("b1")).at(-1)).toMatch(/^b1 (NO|BAD)/);
    plain.write("b2 STARTTLS\r\n");
    expect((await r.until("b2")).at(-1)).toMatch(/^b2 OK/);
    r.detach();
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: "localhost" });
    await once(secure, "secureConnect");
    const sr = reader(secure);
    secure.write("b3 CAPABILITY\r\n");
    const caps = await sr.until("b3");
    expect(caps[0]).toMatch(/^\* CAPABILITY /);
    expect(caps[0]).not.toMatch(/LOGINDISABLED|STARTTLS/);
    secure.write("b4 LOGIN alice wonderland\r\n");
    expect((await sr.until("b4")).at(-1)).toMatch(/^b4 OK/);
    secure.write("b5 SELECT INBOX\r\n");
    expect((await sr.until("b5")).at(-1)).toMatch(/^b5 OK/);
    secure.destroy();
  });

  it("rejects a wrong password", async () => {
    const sock = tls.connect({ host: "127.0.0.1", port: bound.imaps!.port, rejectUnauthorized: false });
    await once(sock, "secureConnect");
    const r = reader(sock);
    await r.line();
    sock.write("c1 LOGIN alice queen\r\n");
    expect((await r.until("c1")).at(-1)).toMatch(/^c1 NO/);
    sock.destroy();
  });

  it("sends BYE to logged-in sessions on close", async () => {
    const sock = tls.connect({ host: "127.0.0.1", port: bound.imaps!.port, rejectUnauthorized: false });
    await once(sock, "secureConnect");
    const r = reader(sock);
    await r.line();
    sock.write("d1 LOGIN alice wonderland\r\n");
    await r.until("d1");
    sock.write("d2 SELECT INBOX\r\n");
    await r.until("d2");
    await listener.close();
    const rest = await r.rest();
    expect(rest.some((l) => /^\* BYE /.test(l))).toBe(true);
  });
});
