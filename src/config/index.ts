export { configSchema, configJsonSchema, accessTokenTtlOf, type WardenConfig, type UpstreamConfig, type AllowListConfig, type ConfigInput, type OAuthConfig, type AuthorizationConfig, type JwtIssuerConfig, type IdpUse } from './schema.js';
export { loadConfigFile, parseConfigText, resolveConfigPath, ConfigError, isLoopbackHost, type LoadedConfig, type ConfigIssue } from './load.js';
