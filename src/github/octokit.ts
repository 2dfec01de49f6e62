import type { ProbotOctokit } from "probot";

/** The installation-authenticated client Probot gives us (`context.octokit` / `app.auth(id)`). */
export type InstallationOctokit = InstanceType<typeof ProbotOctokit>;

export interface RepoCoordinates {
  owner: string;
  repo: string;
}
