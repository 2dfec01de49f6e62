/**
 * `shopfloor/testing`: try role cards and `.github/shopfloor.yml` against scripted models in a
 * team's own CI. See README.md beside this file.
 */
export {
  startModelServer,
  type ErrorTurn,
  type HangTurn,
  type ModelScript,
  type ModelServer,
  type ModelServerEnv,
  type RecordedRequest,
  type ReplyTurn,
  type ScriptedToolCall,
  type ScriptedUsage,
  type Turn,
} from "./model-server.js";
export { finish, toolCall, type TurnOptions } from "./turns.js";
export { systemPromptOf, taskOf, toolNamesOf } from "./requests.js";
export { runPlanner, type PlannerTrial, type PlannerTrialOutcome } from "./plan-trial.js";
export { runReviewers, type ReviewTrial, type ReviewTrialOutcome, type ReviewerTrialOutcome } from "./review-trial.js";
export { runBuilder, type BuildTrial, type BuildTrialOutcome } from "./build-trial.js";
export type { TrialBase } from "./trial.js";
export type { Failure, Finding, Plan, Result, Review, Usage } from "../domain/index.js";
