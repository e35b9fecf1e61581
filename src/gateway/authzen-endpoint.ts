import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../shared/errors.js';
import { presentsBearer } from '../shared/constant-time.js';
// The modules themselves, not the package index: the WebAssembly engine is loaded only when policies are configured.
import { authZenAnswer, fromAuthZen } from '../policy/cedar/authzen.js';
import { policyTime } from '../policy/cedar/time.js';
import type { CedarEngine } from '../policy/cedar/engine.js';
import { readBody } from './pipeline/transport.js';
import { sendJson } from './respond.js';

/** An evaluation request is small; anything larger is not one. */
const MAX_BODY = 64 * 1024;

/**
 * `POST /access/v1/evaluation`: this gateway's Cedar set as an OpenID AuthZEN policy decision point, for other
 * gateways (`authorization.authzen`) and services. Behind its own credential, a bearer token compared in
 * constant time; never behind an MCP caller's credential, since a PDP answers questions about anyone.
 */
export class AuthZenEndpoint {
  constructor(private readonly engine: CedarEngine, private readonly token: string, private readonly timeZone: string) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new GatewayError('method_not_allowed', 'The evaluation API takes POST with a JSON body');
    if (!this.authorized(req.headers.authorization)) {
      throw new GatewayError('unauthorized', 'The evaluation API needs Authorization: Bearer <authorization.cedar.authzenApi.token>', { 'www-authenticate': 'Bearer realm="warden-pdp"' });
    }
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) throw new GatewayError('unsupported_media_type', 'The evaluation API takes Content-Type: application/json');
    const body = await readBody(req, MAX_BODY);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new GatewayError('invalid_request', 'The body is not JSON');
    }
    let question;
    try {
      question = fromAuthZen(json, () => policyTime(new Date(), this.timeZone));
    } catch (err) {
      throw new GatewayError('invalid_request', `Not an AuthZEN evaluation request: ${(err as Error).message}`);
    }
    sendJson(res, 200, authZenAnswer(this.engine.decide(question)));
  }

  private authorized(header: string | undefined): boolean {
    return presentsBearer(header, this.token);
  }
}
