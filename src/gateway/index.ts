export { startGateway, type RunningGateway, type GatewayOptions } from './start.js';
export { McpRoutes, mcpPath, PATHS } from './routes.js';
export type { Upstream } from './upstreams/upstream.js';
