export { configSchema, configJsonSchema, accessTokenTtlOf, LOGIN_BACKOFF, LOGIN_PER_ACCOUNT, type WardenConfig, type UpstreamConfig, type AllowListConfig, type ConfigInput, type OAuthConfig, type AuthorizationConfig, type JwtIssuerConfig, type IdpUse } from './schema.js';
export { loadConfigFile, parseConfigText, resolveConfigPath, ConfigError, isLoopbackHost, credentialsOverPlainHttp, type LoadedConfig, type ConfigIssue } from './load.js';
export { oauthMtlsOf, type OAuthMtls, type CertificateClientAuth } from './oauth-mtls.js';
