/** Anthropic's wire shapes, for tests that script a vendor error body. */
export * from "../../../src/testing/model-server/anthropic.js";
