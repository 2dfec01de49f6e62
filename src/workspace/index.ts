export type { CommitOutcome, GitTokenSource, RepoName, SandboxOutcome, SandboxRequest } from "./types.js";
export { GitError, runGit } from "./git.js";
export { gitRemoteUrl } from "./remote.js";
export { credentialArgs } from "./credentials.js";
export { Workspace, safeLabel } from "./workspace.js";
export { runSandboxed, sandboxAvailable, type SandboxOptions } from "./sandbox.js";
