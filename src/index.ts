/**
 * mcp-warden as a library: start a gateway from a config, load and validate configs, and, for MCP servers
 * behind the gateway, verify the identity it sends with every request.
 */
export { startGateway, type RunningGateway, type GatewayOptions } from './gateway/index.js';
export {
  configSchema, configJsonSchema, loadConfigFile, parseConfigText, resolveConfigPath, ConfigError,
  type WardenConfig, type ConfigInput, type LoadedConfig, type ConfigIssue, type UpstreamConfig,
} from './config/index.js';
export { identityVerifier, type IdentityVerifierOptions, type VerifiedCaller } from './credentials/identity-verifier.js';
export { IDENTITY_META_KEY, IDENTITY_JWT_TYPE, type PrincipalClaims } from './credentials/identity-tokens.js';
export { createLogger, type Logger } from './shared/log.js';
export type { Principal } from './shared/principal.js';
export type { AuditRecord, ChainedAuditRecord } from './audit/index.js';
