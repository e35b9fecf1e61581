export { configSchema, configJsonSchema, accessTokenTtlOf, LOGIN_BACKOFF, LOGIN_PER_ACCOUNT, type WardenConfig, type UpstreamConfig, type AllowListConfig, type ConfigInput, type OAuthConfig, type AuthorizationConfig } from './schema.js';
export { loadConfigFile, parseConfigText, resolveConfigPath, ConfigError, isLoopbackHost, type LoadedConfig, type ConfigIssue } from './load.js';
