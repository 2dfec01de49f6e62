import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

const writers = new Set(["admin", "maintain", "write"]);

/**
 * The user's live permission on the repo. `role_name` distinguishes maintain and triage,
 * which the legacy `permission` field folds into write and read.
 */
export async function canWrite(octokit: InstallationOctokit, at: RepoCoordinates, username: string): Promise<boolean> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: at.owner, repo: at.repo, username });
    const role = (data as { role_name?: string }).role_name ?? data.permission;
    return writers.has(role);
  } catch (error) {
    if ((error as { status?: number }).status === 404) return false;
    throw error;
  }
}
