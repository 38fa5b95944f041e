import { describe, expect, it } from "vitest";
import { redialDelay } from "./peer-links";

describe("redialDelay", () => {
  it("waits the base after a closed link or a first failed dial, then doubles up to the cap", () => {
    expect([0, 1, 2, 3, 4].map((f) => redialDelay(f, 250, 5_000))).toEqual([250, 250, 500, 1000, 2000]);
    expect(redialDelay(6, 250, 5_000)).toBe(5_000);
    // The exponent is bounded, so a peer down for days still gets a finite number.
    expect(redialDelay(10_000, 250, Number.MAX_SAFE_INTEGER)).toBe(250 * 2 ** 10);
  });
});
