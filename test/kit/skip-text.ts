/**
 * The text of a call that skips or focuses a test (`it` or `describe` followed by `.skip(` or `.only(`), as a generator
 * might write it into a repository under test. Fixtures build it from parts so that a scan of
 * this repository for skipped or focused tests does not mistake fixture text for a real one:
 * no test in this suite is skipped or focused.
 */
export const skipCall = (fn: "it" | "test" | "describe", modifier: "skip" | "only"): string => `${fn}.${modifier}(`;
