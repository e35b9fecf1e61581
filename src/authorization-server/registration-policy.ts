import { errors, type ClientMetadata } from 'oidc-provider';

/**
 * What dynamic client registration (RFC 7591) may ask for, beyond oidc-provider's own checks. Runs as its
 * `extraClientMetadata.validator`, which is called before oidc-provider checks the types of the metadata: so
 * every field read here is type-checked here first (a string where an array belongs answered 500 before).
 */

/** Marks clients made by `warden clients add`; dynamic registration may not claim it. */
export const CLIENT_KIND_PROPERTY = 'warden_client_kind';

const LOOPBACK_REDIRECT = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?\//i;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** The hostname of an http: URI (as URL parsing sees it, so userinfo tricks do not count), else undefined. */
function plainHttpHost(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' ? url.hostname : undefined;
  } catch {
    return undefined;
  }
}

export interface RegistrationOptions {
  /** RFC 8705 bound tokens are on: a client that authenticates with a certificate gets them, whatever it asked. */
  bindCertificateClients: boolean;
}

const CERTIFICATE_AUTH = new Set(['tls_client_auth', 'self_signed_tls_client_auth']);

/**
 * Checks a registration request. `kind` is the value of CLIENT_KIND_PROPERTY it carries, `body` what the
 * client sent, `metadata` that with oidc-provider's defaults filled in (and changed here: application_type).
 */
export function checkRegistration(kind: unknown, body: Record<string, unknown> | undefined, metadata: ClientMetadata, options: RegistrationOptions = { bindCertificateClients: false }): void {
  if (kind !== undefined) throw new errors.InvalidClientMetadata(`${CLIENT_KIND_PROPERTY} is set by warden only`);
  for (const field of ['redirect_uris', 'grant_types'] as const) {
    if (metadata[field] !== undefined && !isStringArray(metadata[field])) {
      // Worded so that oidc-provider does not make it invalid_redirect_uri (it does for a description starting "redirect_uris"):
      // this is the metadata's shape, not a redirect URI's value.
      throw new errors.InvalidClientMetadata(`the metadata field ${field} must be an array of strings, e.g. "${field}": ["${field === 'redirect_uris' ? 'http://127.0.0.1:8976/callback' : 'authorization_code'}"]`);
    }
  }
  const grantTypes = (metadata.grant_types ?? []) as string[];
  if (grantTypes.includes('client_credentials')) {
    throw new errors.InvalidClientMetadata('client_credentials is for service clients made with `warden clients add`');
  }
  const uris = (metadata.redirect_uris ?? []) as string[];
  // OAuth 2.1 §2.3.1, RFC 8252 §8.3: a code sent over plain http to another host can be read on the way;
  // only loopback, which never leaves the machine, may use http.
  const plain = uris.find((u) => {
    const host = plainHttpHost(u);
    return host !== undefined && !LOOPBACK_HOSTS.has(host);
  });
  if (plain !== undefined) {
    // A description starting "redirect_uris" makes it RFC 7591 invalid_redirect_uri.
    throw new errors.InvalidClientMetadata(`redirect_uris: ${plain.slice(0, 200)} uses http on a host that is not loopback; register an https redirect URI, or http://127.0.0.1:<port>/… for an app on the user's machine`);
  }
  // RFC 8252: an app that only redirects to loopback is a native app, so any loopback port matches.
  // SDK v1 and mcp-remote do not say so, and a changed callback port would otherwise fail the sign-in.
  // The metadata has oidc-provider's defaults filled in by now ('web'): what the client asked for is in the body.
  if (body?.application_type === undefined && uris.length > 0 && uris.every((u) => LOOPBACK_REDIRECT.test(u))) {
    metadata.application_type = 'native';
  }
  // A client that proves its certificate at the token endpoint holds it at the resource too: binding its
  // tokens costs it nothing and makes a stolen token useless. RFC 7591 §3.2.1 lets the server replace a
  // value; the registration response shows it. Public clients opt in (they may have no certificate).
  if (options.bindCertificateClients && CERTIFICATE_AUTH.has(String(metadata.token_endpoint_auth_method))) {
    metadata.tls_client_certificate_bound_access_tokens = true;
  }
}
