import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Tests spawn git, bubblewrap and whole apps; two cores are the budget.
    maxWorkers: 2,
  },
});
