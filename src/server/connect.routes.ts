import type { FastifyPluginAsync } from 'fastify';
import type { CallbackAnswer, ConnectFailure, ConnectService } from '../services/connect.service';
import { CALLBACK_PATH } from '../services/client.service';

export interface ConnectRoutesOptions {
  connect: ConnectService;
}

/** The callback's page loads nothing and runs nothing: no script, no style, no frame, no form. */
export const CONNECT_PAGE_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const FAILURES: Record<ConnectFailure, string> = {
  access_denied: 'The consent was declined at the provider: no account was connected.',
  invalid_code: 'The provider refused the authorization code: start the connection again.',
  provider_unavailable: 'The provider could not be reached or allows no new token right now: try again in a few minutes.',
  accounts_server_not_allowed: 'The provider named a data center that this gateway is not allowed to use: ask its operator.',
  refresh_token_limit: 'This user already holds as many refresh tokens of this client as the provider allows.',
  internal: 'Something went wrong in the gateway: no account was connected. Try again, or ask its operator.',
};

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The small offline page of a callback: what happened, in words; never a secret, a code or a state. */
export function callbackPage(answer: Extract<CallbackAnswer, { kind: 'page' }>): string {
  const [title, text] =
    answer.outcome === 'ok'
      ? ['Account connected', `The account is connected: its token (id ${answer.tokenId ?? ''}) is stored in the gateway. You can close this window.`]
      : answer.outcome === 'expired'
        ? ['This link has expired or was already used', 'Start the connection again from where you began it.']
        : ['The account was not connected', FAILURES[answer.reason ?? 'internal']];
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escape(title)} · tokengate</title></head><body><main><h1>${escape(title)}</h1><p>${escape(text)}</p></main></body></html>\n`;
}

/**
 * `GET /oauth/callback`: where the provider sends the person's browser back
 * after consent. Answers with a redirect to the connect's `returnTo` (the
 * outcome in its query), or the small page above; `no-store` and
 * `no-referrer` either way, as the request's URL holds the code.
 */
export const connectRoutes: FastifyPluginAsync<ConnectRoutesOptions> = async (app, { connect }) => {
  // No HEAD route: a link checker's HEAD must not consume the connect.
  app.get(CALLBACK_PATH, { exposeHeadRoute: false }, async (request, reply) => {
    const answer = await connect.callback((request.query ?? {}) as Record<string, unknown>);
    void reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
    if (answer.kind === 'redirect') return reply.redirect(answer.location, 302);
    return reply
      .code(answer.status)
      .header('content-security-policy', CONNECT_PAGE_CSP)
      .header('x-frame-options', 'DENY')
      .type('text/html; charset=utf-8')
      .send(callbackPage(answer));
  });
};
