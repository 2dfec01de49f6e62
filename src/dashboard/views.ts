/**
 * Mission Control's pages: pure functions from data to HTML strings, every outside value
 * escaped (views/html.ts). The router sends them; the live stream sends the `…Live` fragments
 * that replace `#live`.
 */
export { clientScript, pageStyle, renderMessagePage, type Flash, type Viewer } from "./views/layout.js";
export { renderRunsPage, renderRunsLive, type RunsPageInput, type RunsFilter } from "./views/runs.js";
export { renderRunPage, renderRunLive, type RunPageInput } from "./views/run.js";
export { renderFloorPage, renderFloorLive, type FloorPageInput } from "./views/floor.js";
export { renderSignInPage } from "./views/sign-in.js";
