import { classifyFailure, type Effect, type Run } from "../../domain/index.js";
import type { Answer, EffectContext } from "./context.js";
import { loadConfig } from "./load-config.js";
import { upsertProgressComment } from "./upsert-progress-comment.js";
import { postConfigError } from "./post-config-error.js";
import { dispatchJob } from "./dispatch-job.js";
import { openPullRequest } from "./open-pull-request.js";
import { publishGate } from "./publish-gate.js";
import { addLabels } from "./add-labels.js";
import { assignOwners } from "./assign-owners.js";
import { postHandoff } from "./post-handoff.js";
import { postReview } from "./post-review.js";
import { markReady } from "./mark-ready.js";
import { requestReviewers } from "./request-reviewers.js";
import { readCi } from "./read-ci.js";
import { addReaction } from "./add-reaction.js";
import { postReply } from "./post-reply.js";
import { removeLabels } from "./remove-labels.js";
import { deleteBranch } from "./delete-branch.js";
import { stopJobs } from "./stop-jobs.js";

export type { EffectContext, Answer, RepoConfigOutcome } from "./context.js";

/** Perform one effect; never throws: a failure comes back as an `effect.failed` answer. */
export async function executeEffect(run: Run, original: Effect, ctx: EffectContext): Promise<Answer> {
  // Everything an effect writes to GitHub passes the redactor: no key or token leaves in a comment.
  const effect = ctx.redact ? (JSON.parse(ctx.redact(JSON.stringify(original))) as Effect) : original;
  try {
    switch (effect.kind) {
      case "loadConfig":
        return await loadConfig(run, ctx);
      case "upsertProgressComment":
        return await upsertProgressComment(run, effect, ctx);
      case "postConfigError":
        return await postConfigError(run, effect, ctx);
      case "dispatchJob":
        return await dispatchJob(effect, ctx);
      case "openPullRequest":
        return await openPullRequest(run, effect, ctx);
      case "publishGate":
        return await publishGate(run, effect, ctx);
      case "addLabels":
        return await addLabels(run, effect, ctx);
      case "assignOwners":
        return await assignOwners(run, effect, ctx);
      case "postHandoff":
        return await postHandoff(run, effect, ctx);
      case "postReview":
        return await postReview(run, effect, ctx);
      case "markReady":
        return await markReady(run, effect, ctx);
      case "requestReviewers":
        return await requestReviewers(run, effect, ctx);
      case "readCi":
        return await readCi(run, effect, ctx);
      case "addReaction":
        return await addReaction(run, effect, ctx);
      case "postReply":
        return await postReply(run, effect, ctx);
      case "removeLabels":
        return await removeLabels(run, effect, ctx);
      case "deleteBranch":
        return await deleteBranch(run, effect, ctx);
      case "stopJobs":
        return stopJobs(effect, ctx);
    }
  } catch (error) {
    return { type: "effect.failed", failure: classifyFailure(error), jitter: Math.random() };
  }
}
