export { configSchema, configJsonSchema, accessTokenTtlOf, LOGIN_BACKOFF, LOGIN_PER_ACCOUNT, DPOP_DEFAULTS, DPOP_ALGORITHMS, type WardenConfig, type UpstreamConfig, type AllowListConfig, type ConfigInput, type OAuthConfig, type DpopConfig, type AuthorizationConfig, type JwtIssuerConfig, type IdpUse, type RedisConfig } from './schema.js';
export { loadConfigFile, parseConfigText, resolveConfigPath, ConfigError, credentialsOverPlainHttp, type LoadedConfig, type ConfigIssue } from './load.js';
export { isPostgres, DEFAULT_SQLITE, type StoreConfig, type SqliteStoreConfig, type PostgresStoreConfig } from './store-schema.js';
export { isLoopbackHost } from '../shared/client-ip.js';
export { oauthMtlsOf, type OAuthMtls, type CertificateClientAuth } from './oauth-mtls.js';
