export * from './errors.js';
export * from './api-key-format.js';
export * from './api-keys.js';
export * from './identity-tokens.js';
export * from './signing-keys.js';
