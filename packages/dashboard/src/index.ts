/**
 * @openfactory/dashboard, the Node side: where the built web app is, and how to build it. The app itself (browser
 * code: Preact, uPlot) is under web/ and talks to the serving layer over HTTP and WebSocket only (DESIGN §4);
 * Vite bundles it into dist/, which `npm ci` makes (the root package's `prepare` script) and which the serving app
 * serves at `/` (`createServeApp({ dashboardDir: DASHBOARD_DIST })`, @openfactory/serve static-files.ts).
 */

// Building it (Vite, a dev dependency, imported when a build is asked for)
export { type BuildDashboardOptions, buildDashboard, ensureDashboard } from './build.ts'
// Where it is (Node built-ins only: the project's image imports this and has no Vite)
export { DASHBOARD_BUILD_COMMAND, DASHBOARD_DIST, dashboardBuilt } from './dist.ts'
