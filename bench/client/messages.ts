// Deterministic RFC 5322 test messages of a given size, the same for every server.
import { mulberry32 } from "../../src/util/mulberry32";

const WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua".split(" ");

export function makeMessage(seed: number, size: number, to = "bench@example.test"): Buffer {
  const r = mulberry32(seed);
  const head =
    `From: Sender ${seed} <sender${seed % 97}@example.test>\r\n` +
    `To: <${to}>\r\n` +
    `Subject: bench message ${seed} ${WORDS[seed % WORDS.length]}\r\n` +
    `Date: Mon, 23 Nov 2026 04:00:${String(seed % 60).padStart(2, "0")} +0000\r\n` +
    `Message-ID: <${seed}.${size}@bench.example.test>\r\n` +
    `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const lines: string[] = [];
  let len = head.length;
  while (len < size) {
    let line = "";
    while (line.length < 70) line += WORDS[Math.floor(r() * WORDS.length)] + " ";
    line = line.trimEnd() + "\r\n";
    lines.push(line);
    len += line.length;
  }
  const buf = Buffer.from(head + lines.join(""), "latin1");
  if (buf.length <= size || size <= head.length + 2) return buf;
  const cut = Buffer.concat([buf.subarray(0, size - 2), Buffer.from("\r\n")]);
  if (cut[size - 3] === 0x0d) cut[size - 3] = 0x78; // no bare CR where the cut fell inside a CRLF
  return cut;
}

/** A fixed pool of messages with sizes drawn from [minSize, maxSize], the same for every server; hot loops pick from it instead of building bodies. */
export class MessagePool {
  private readonly items: Buffer[] = [];
  constructor(seed: number, count: number, minSize: number, maxSize: number) {
    const r = mulberry32(seed);
    for (let i = 0; i < count; i++) this.items.push(makeMessage(seed * 100_000 + i, minSize + Math.floor(r() * (maxSize - minSize + 1))));
  }
  get size(): number {
    return this.items.length;
  }
  pick(i: number): Buffer {
    return this.items[((i % this.items.length) + this.items.length) % this.items.length];
  }
}
