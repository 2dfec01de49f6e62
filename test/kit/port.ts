import { createServer } from "node:net";

/**
 * A port for a server a test starts through an API that cannot listen on port 0 (Probot reads
 * PORT and treats 0 as "use 3000"). Drawn below the kernel's ephemeral range, where outgoing
 * connections take their local ports, so a port checked free stays free until the app binds it.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
  throw new Error("no free port between 20000 and 32000");
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}
