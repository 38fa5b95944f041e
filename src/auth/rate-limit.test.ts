import { describe, expect, it } from "vitest";
import { harness } from "../imap/session-test-support";
import { AuthRateLimiter, rateLimitedAuthenticator } from "./rate-limit";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("AuthRateLimiter", () => {
  it("delays grow with failures, are capped, and the address is refused at its limit", () => {
    const c = clock();
    const rl = new AuthRateLimiter({ maxFailuresPerIp: 4, maxFailuresPerUser: 100, windowSeconds: 60, delayMs: 100, maxDelayMs: 350, now: c.now });
    expect(rl.delayFor("10.0.0.1", "alice")).toBe(0);
    expect(rl.check("10.0.0.1", "alice")).toEqual({ refuse: false, delayMs: 0 });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      rl.recordFailure("10.0.0.1", `user${i}`);
      delays.push(rl.delayFor("10.0.0.1", "someone"));
    }
    expect(delays).toEqual([100, 200, 350, 350]);
    expect(rl.isBlocked("10.0.0.1", "anyone")).toBe(true);
    expect(rl.check("10.0.0.1", "anyone")).toEqual({ refuse: true });
    // other addresses are not affected
    expect(rl.isBlocked("10.0.0.2", "anyone")).toBe(false);
    expect(rl.delayFor("10.0.0.2", "anyone")).toBe(0);
  });

  it("limits a user across addresses", () => {
    const c = clock();
    const rl = new AuthRateLimiter({ maxFailuresPerIp: 100, maxFailuresPerUser: 3, now: c.now });
    rl.recordFailure("10.0.0.1", "bob");
    rl.recordFailure("10.0.0.2", "bob");
    expect(rl.isBlocked("10.0.0.3", "bob")).toBe(false);
    rl.recordFailure("10.0.0.3", "Bob");
    expect(rl.isBlocked("10.0.0.4", "bob")).toBe(true);
    expect(rl.isBlocked("10.0.0.4", "carol")).toBe(false);
  });

  it("the window slides: old failures stop counting", () => {
    const c = clock();
    const rl = new AuthRateLimiter({ maxFailuresPerIp: 3, maxFailuresPerUser: 100, windowSeconds: 10, now: c.now });
    rl.recordFailure("ip", "u");
    c.advance(4_000);
    rl.recordFailure("ip", "u");
    c.advance(4_000);
    rl.recordFailure("ip", "u");
    expect(rl.isBlocked("ip", "u")).toBe(true);
    c.advance(2_001); // the first one is now 10.001 s old
    expect(rl.failures("ip", "u").ip).toBe(2);
    expect(rl.isBlocked("ip", "u")).toBe(false);
    c.advance(8_000);
    expect(rl.failures("ip", "u")).toEqual({ ip: 0, user: 0 });
    expect(rl.delayFor("ip", "u")).toBe(0);
    expect(rl.trackedKeys).toEqual({ ips: 0, users: 0 });
  });

  it("a success clears that user's failures from that address only", () => {
    const c = clock();
    const rl = new AuthRateLimiter({ maxFailuresPerIp: 10, maxFailuresPerUser: 10, now: c.now });
    rl.recordFailure("home", "alice");
    rl.recordFailure("home", "alice");
    rl.recordFailure("home", "mallory");
    rl.recordFailure("attacker", "alice");
    expect(rl.failures("home", "alice")).toEqual({ ip: 3, user: 3 });
    rl.recordSuccess("home", "alice");
    expect(rl.failures("home", "alice")).toEqual({ ip: 1, user: 1 });
    expect(rl.failures("attacker", "alice")).toEqual({ ip: 1, user: 1 });
  });

  it("memory is bounded: keys beyond the cap forget the least recently used", () => {
    const c = clock();
    const rl = new AuthRateLimiter({ maxFailuresPerIp: 3, maxFailuresPerUser: 3, maxKeys: 100, now: c.now });
    for (let i = 0; i < 10_000; i++) rl.recordFailure(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, `user${i}`);
    expect(rl.trackedKeys).toEqual({ ips: 100, users: 100 });
    // the most recent are still there, the first are gone
    expect(rl.failures("10.0.39.15", "user9999")).toEqual({ ip: 1, user: 1 });
    expect(rl.failures("10.0.0.0", "user0")).toEqual({ ip: 0, user: 0 });
    // many failures of one key keep only as many timestamps as the limit needs
    for (let i = 0; i < 1000; i++) rl.recordFailure("one", "u");
    expect(rl.failures("one", "u")).toEqual({ ip: 3, user: 3 });
  });
});

describe("rateLimitedAuthenticator in a real session", () => {
  it("slows failed logins, then refuses without checking the password, and a success resets", async () => {
    const h = await harness();
    try {
      const c = clock();
      const rl = new AuthRateLimiter({ maxFailuresPerIp: 100, maxFailuresPerUser: 3, delayMs: 500, now: c.now });
      const slept: number[] = [];
      let checked = 0;
      const refused: string[] = [];
      const verify = async (u: string, p: string) => {
        checked++;
        return u === "alice" && p === "secret";
      };
      const authenticate = rateLimitedAuthenticator(rl, "192.0.2.7", verify, {
        sleep: async (ms) => {
          slept.push(ms);
        },
        onRefused: (ip, u) => refused.push(`${ip} ${u}`),
      });
      const s = h.open({ authenticate });
      s.take();
      expect(await s.cmd("a LOGIN alice wrong1")).toContain("a NO [AUTHENTICATIONFAILED]");
      expect(await s.cmd("b LOGIN alice wrong2")).toContain("b NO [AUTHENTICATIONFAILED]");
      expect(slept).toEqual([500]);
      // a success resets the user's count from this address
      expect(await s.cmd("c LOGIN alice secret")).toContain("c OK");
      expect(slept).toEqual([500, 1000]);
      expect(rl.failures("192.0.2.7", "alice")).toEqual({ ip: 0, user: 0 });

      const t = h.open({ authenticate });
      t.take();
      for (const tag of ["d", "e", "f"]) expect(await t.cmd(`${tag} LOGIN alice bad`)).toContain(`${tag} NO`);
      expect(checked).toBe(6);
      // blocked: even the right password is not looked at
      expect(await t.cmd("g LOGIN alice secret")).toContain("g NO [AUTHENTICATIONFAILED]");
      expect(checked).toBe(6);
      expect(refused).toEqual(["192.0.2.7 alice"]);
      // the window passes; the right password works again
      c.advance(61_000);
      expect(await t.cmd("h LOGIN alice secret")).toContain("h OK");
      expect(checked).toBe(7);
    } finally {
      await h.cleanup();
    }
  });
});
