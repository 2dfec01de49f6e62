export type { CommitOutcome, GitTokenSource, RepoName, SandboxMount, SandboxNetwork, SandboxOutcome, SandboxRequest } from "./types.js";
export { GitError, runGit } from "./git.js";
export { gitRemoteUrl } from "./remote.js";
export { credentialArgs } from "./credentials.js";
export { Workspace, safeLabel } from "./workspace.js";
export { runSandboxed, prepareSandbox, sandboxAvailable, EGRESS_PORT, MODEL_PORT, type SandboxOptions, type PreparedSandbox } from "./sandbox.js";
