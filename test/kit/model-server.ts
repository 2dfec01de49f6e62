/** The scripted model server lives in src/testing (published as `shopfloor/testing`); tests import it from here. */
export * from "../../src/testing/model-server.js";
