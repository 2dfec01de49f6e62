import type { InstallationOctokit, RepoCoordinates } from "./octokit.js";

const writers = new Set(["admin", "maintain", "write"]);

/** What GitHub says the user may do; present on `…/collaborators/{user}/permission` answers. */
interface GrantedPermissions {
  admin?: boolean;
  maintain?: boolean;
  push?: boolean;
}

/**
 * The user's live permission on the repo. A custom repository role has its own `role_name`
 * ("deployer"), so the name alone cannot say whether it writes: `user.permissions` can, as
 * booleans derived from the role's base. Only without them do the names decide.
 */
export async function canWrite(octokit: InstallationOctokit, at: RepoCoordinates, username: string): Promise<boolean> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: at.owner, repo: at.repo, username });
    const granted = (data.user as { permissions?: GrantedPermissions } | null)?.permissions;
    if (granted) return granted.push === true || granted.maintain === true || granted.admin === true;
    // The legacy field maps only write and maintain to "write", so it speaks for a custom role's base too.
    return writers.has((data as { role_name?: string }).role_name ?? "") || writers.has(data.permission);
  } catch (error) {
    if ((error as { status?: number }).status === 404) return false;
    throw error;
  }
}
