export { AuthorizationServer, type AuthorizationServerOptions, type OAuthAuditEvent, type AccessTokenCheck } from './server.js';
export { ResourceCatalog, type ResourceEntry } from './resources.js';
export { UserDirectory, UserError } from './users.js';
export * from './revoke.js';
export { ACCESS_TOKEN_KEY_USE, COOKIE_KEY_USE } from './keys.js';
export { OAUTH_ROUTES } from './provider.js';
