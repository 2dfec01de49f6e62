import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Shopfloor never merges: any request to a merge endpoint fails the test that made it.
    setupFiles: ["test/setup/no-merge.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Tests spawn git, bubblewrap and whole apps; two cores are the budget.
    maxWorkers: 2,
  },
});
