import { it } from "vitest";
// @ts-ignore
import { __stats } from "./properties.test.js";
it("stats", () => { __stats(); });
