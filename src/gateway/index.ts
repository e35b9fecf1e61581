export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export type { Upstream } from './upstream.js';
