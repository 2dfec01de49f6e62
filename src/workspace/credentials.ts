/** The variable that carries the token; only the git child process (and its helpers) get it. */
export const TOKEN_ENV = "SHOPFLOOR_GIT_TOKEN";

/**
 * A `!` helper run by git's shell. It answers only `get`, so git's `store`/`erase` calls after a
 * success or a 401 write nothing anywhere. The script text names the variable, never the token.
 */
const HELPER =
  `!f() { test "$1" = get || exit 0; ` +
  `printf '%s\\n' username=x-access-token "password=$${TOKEN_ENV}"; }; f`;

/**
 * What makes one git command authenticate as `x-access-token:<token>`: `-c` args to put before
 * the subcommand and env for that git process. The token never lands in a URL, in argv, or in
 * any `.git/config`; the empty `credential.helper=` first drops any helper configured elsewhere.
 */
export function credentialArgs(token: string): { args: string[]; env: Record<string, string> } {
  if (token === "" || /[\r\n\0]/.test(token)) {
    throw new Error("credentialArgs: the token is empty or holds a line break");
  }
  return {
    args: ["-c", "credential.helper=", "-c", `credential.helper=${HELPER}`],
    env: { [TOKEN_ENV]: token },
  };
}
