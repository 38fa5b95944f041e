import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "distributor/**/*.test.ts", "worker/**/*.test.ts", "storage/**/*.test.ts", "verification/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    exclude: ["node_modules", "dist"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
