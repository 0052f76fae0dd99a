/**
 * The client of a provider's token and revocation endpoints (Zoho Accounts,
 * or a generic OAuth 2.0 server, chosen by the provider profile): joins the pure request builders
 * (`./token-requests`) and response processors (`./token-response`) with
 * HTTP, a timeout on every attempt, and bounded retries.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AccountsUrlPolicy } from './accounts-url-policy';
import { InvalidResponseError, OAuthError, ProviderRefusedError, UpstreamUnavailableError, type UpstreamUnavailableReason } from './oauth-errors';
import type { ProviderProfile } from '../providers/provider';
import {
  authorizationCodeRequest,
  refreshTokenRequest,
  revokeRequest,
  type AuthorizationCodeParams,
  type Endpoint,
  type RefreshTokenParams,
  type RevokeParams,
  type TokenRequest,
} from './token-requests';
import { processRevokeResponse, processTokenResponse, type TokenGrant } from './token-response';

/**
 * Where a call goes: a provider profile (from the registry: there is no
 * profile of the client's own) and, for a profile whose data center is
 * chosen per token (Zoho), the token's accounts URL.
 */
export interface ProviderTarget {
  provider: ProviderProfile;
  accountsUrl: string | null;
}

/** What a call to the Accounts server does. */
export type AccountsRequestKind = 'refresh' | 'grant' | 'revoke';

/**
 * How one attempt ended: `ok`; `refused` (a `ProviderRefusedError`); the
 * reason of an `UpstreamUnavailableError` (`timeout`, `network`, `http_5xx`,
 * `not_json`, `rate_limited`, `provider_unavailable`, `invalid_response`);
 * `error` for anything else (a bug). A small fixed set: fit for a metric label.
 */
export type AttemptOutcome = 'ok' | 'refused' | UpstreamUnavailableReason | 'error';

/** What {@link AccountsClientOptions.onAttempt} is told after every attempt. Holds no secret. */
export interface AttemptInfo {
  kind: AccountsRequestKind;
  /** 1 for the first attempt. */
  attempt: number;
  outcome: AttemptOutcome;
  /** From just before the request was sent to the end of the processing of its answer. */
  durationMs: number;
  /** The HTTP status, when the provider answered. */
  status?: number;
  /** Whether the client will try again after this attempt. */
  willRetry: boolean;
}

/** Options of {@link AccountsClient}; defaults in brackets. */
export interface AccountsClientOptions {
  /** Every accounts URL is checked against it right before a request. */
  policy: AccountsUrlPolicy;
  /** The timeout of one attempt, reading the answer included, in ms [10000]. */
  timeoutMs?: number;
  /** The most attempts of one call, the first included [3]; at least 1. */
  maxAttempts?: number;
  /** The back-off before the second attempt is drawn from [0, baseDelayMs) ms and doubles after each attempt [200]. */
  baseDelayMs?: number;
  /** The ceiling of the back-off range, in ms [2000]. */
  maxDelayMs?: number;
  /** The largest answer body read, in bytes; a larger one is an `InvalidResponseError` [262144]. */
  maxBodyBytes?: number;
  /** The fetch to use [globalThis.fetch]: only to plug in another HTTP agent. */
  fetch?: typeof fetch;
  /** Called after every attempt, for metrics and logs; its errors are ignored. */
  onAttempt?: (info: AttemptInfo) => void;
}

/** Reasons worth another attempt when the request is safe to repeat (refresh, revoke). */
const RETRYABLE_REASONS: ReadonlySet<UpstreamUnavailableReason> = new Set(['timeout', 'network', 'http_5xx', 'not_json', 'provider_unavailable']);

/** Low-level error codes that mean the connection was never made, so the request was surely not sent. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Talks to Zoho's Accounts server (`shared/spec/oauth.md`): refreshes access
 * tokens (RFC 6749 §6), exchanges grant tokens (§4.1.3) and revokes tokens
 * (RFC 7009).
 *
 * Every call:
 * - checks the accounts URL with `policy.assertAllowed` before anything is
 *   sent, and builds the request URL from the normalized origin only: a
 *   client secret is never posted outside the allow-list;
 * - never follows a redirect (`redirect: 'manual'`): a 307/308 would re-post
 *   the secret to wherever `Location` points; a 3xx is an `InvalidResponseError`;
 * - sends `content-type: application/x-www-form-urlencoded` and
 *   `accept: application/json`, with a timeout (`AbortSignal.timeout`) on
 *   every attempt covering the answer's body too;
 * - takes `sentAt` just before each attempt, so `expiresAt` counts from when
 *   the request that succeeded was sent.
 *
 * Retries, with exponential back-off and full jitter (a delay drawn from
 * `[0, min(maxDelayMs, baseDelayMs · 2^(n-1)))`), at most `maxAttempts` attempts:
 * - refresh and revoke retry transient failures only: a network error, a
 *   timeout, a 5xx, a body that is not JSON, `server_error`/`temporarily_unavailable`.
 *   Never a refusal (`invalid_code`, `access_denied`, …), nor an HTTP 429
 *   (retrying feeds the rate limit), nor an `InvalidResponseError` (the
 *   provider did answer, and may have counted the request).
 *   Caveat: after a timeout or a 5xx the first refresh may have reached the
 *   provider; at a provider that rotates refresh tokens without a grace
 *   period the retry can then be refused with `invalid_code`. Zoho does not rotate.
 * - a grant exchange retries only when the request surely did not reach the
 *   provider (connection refused, DNS failure, connect timeout): a grant
 *   code is single-use, so a repeat after a timeout or a 5xx, which may
 *   have consumed it, would be answered `invalid_code` and hide the real outcome.
 *
 * The error of the last attempt is thrown; an `UpstreamUnavailableError`
 * carries the number of `attempts` made.
 */
export class AccountsClient {
  private readonly policy: AccountsUrlPolicy;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxBodyBytes: number;
  private readonly fetchImpl: typeof fetch;
  private readonly onAttempt?: (info: AttemptInfo) => void;

  /** @throws RangeError when a numeric option is out of range. */
  constructor(options: AccountsClientOptions) {
    this.policy = options.policy;
    this.timeoutMs = atLeast(options.timeoutMs ?? 10_000, 'timeoutMs', 1);
    this.maxAttempts = atLeast(options.maxAttempts ?? 3, 'maxAttempts', 1, true);
    this.baseDelayMs = atLeast(options.baseDelayMs ?? 200, 'baseDelayMs', 0);
    this.maxDelayMs = atLeast(options.maxDelayMs ?? 2_000, 'maxDelayMs', 0);
    this.maxBodyBytes = atLeast(options.maxBodyBytes ?? 256 * 1024, 'maxBodyBytes', 1);
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.onAttempt = options.onAttempt;
  }

  /**
   * Gets a new access token with a refresh token (RFC 6749 §6), at the target's token endpoint.
   * @returns the checked answer; its `refreshToken` is set only when the provider rotated it.
   * @throws AccountsUrlNotAllowedError (nothing sent), ProviderRefusedError, UpstreamUnavailableError (InvalidResponseError included).
   */
  refresh(target: ProviderTarget, params: RefreshTokenParams): Promise<TokenGrant> {
    const { provider, endpoint } = this.tokenEndpointOf(target);
    return this.call(
      'refresh',
      () => refreshTokenRequest(endpoint(), params),
      tokenProcessor(provider),
      (err) => RETRYABLE_REASONS.has(err.reason),
    );
  }

  /**
   * Exchanges a grant token (authorization code) for tokens (RFC 6749 §4.1.3).
   * Retried only when the request surely did not arrive (see the class).
   * @returns the checked answer, with the `refreshToken` Zoho issues on a grant exchange when it sent one.
   * @throws AccountsUrlNotAllowedError (nothing sent), ProviderRefusedError, UpstreamUnavailableError (InvalidResponseError included).
   */
  exchangeGrant(target: ProviderTarget, params: AuthorizationCodeParams): Promise<TokenGrant> {
    const { provider, endpoint } = this.tokenEndpointOf(target);
    return this.call(
      'grant',
      () => authorizationCodeRequest(endpoint(), params),
      tokenProcessor(provider),
      (err) => err.reason === 'network' && err.notSent,
    );
  }

  /**
   * Revokes a token at the provider (RFC 7009). Revocation is idempotent, so
   * it is retried like a refresh. The client's credentials are sent only to a
   * provider that authenticates revocations.
   * @returns false when the provider has no revocation endpoint (nothing was sent).
   * @throws AccountsUrlNotAllowedError (nothing sent), ProviderRefusedError (e.g. `invalid_code` for a token the provider no longer knows), UpstreamUnavailableError.
   */
  async revoke(target: ProviderTarget, params: RevokeParams): Promise<boolean> {
    const { provider, accountsUrl } = target;
    if (!provider.usesAccountsUrl && provider.revocationEndpoint(null) === null) return false;
    const endpoint = () => this.checked(provider, accountsUrl, (origin) => provider.revocationEndpoint(origin)!);
    const request = provider.revocationAuthenticated
      ? params
      : { token: params.token, ...(params.tokenTypeHint ? { tokenTypeHint: params.tokenTypeHint } : {}) };
    await this.call(
      'revoke',
      () => revokeRequest(endpoint(), request),
      (status, body) => processRevokeResponse(status, body),
      (err) => RETRYABLE_REASONS.has(err.reason),
    );
    return true;
  }

  /** The token endpoint of a target, checked when the request is built. */
  private tokenEndpointOf(target: ProviderTarget): { provider: ProviderProfile; endpoint: () => Endpoint } {
    const { provider, accountsUrl } = target;
    return { provider, endpoint: () => this.checked(provider, accountsUrl, (origin) => provider.tokenEndpoint(origin)) };
  }

  /**
   * An endpoint that may receive a client secret: a Zoho endpoint only at an
   * allowed accounts URL (built from its normalized origin), a generic
   * provider's only when it is that registered provider's own endpoint.
   * @throws AccountsUrlNotAllowedError otherwise (nothing is sent).
   */
  private checked(provider: ProviderProfile, accountsUrl: string | null, endpointAt: (origin: string | null) => Endpoint): Endpoint {
    if (provider.usesAccountsUrl) return endpointAt(this.policy.assertAllowed(accountsUrl ?? ''));
    const endpoint = endpointAt(null);
    this.policy.assertProviderEndpoint(provider.name, endpoint.url);
    return endpoint;
  }

  private async call<T>(
    kind: AccountsRequestKind,
    build: () => TokenRequest,
    process: (status: number, bodyText: string, sentAt: Date) => T,
    retryable: (err: UpstreamUnavailableError) => boolean,
  ): Promise<T> {
    // Checked before anything else: a request is only ever built for an allowed endpoint.
    const request = build();
    for (let attempt = 1; ; attempt++) {
      const sentAt = new Date();
      const started = performance.now();
      let status: number | undefined;
      try {
        const answer = await this.send(request);
        status = answer.status;
        const result = process(answer.status, answer.body, sentAt);
        this.report({ kind, attempt, outcome: 'ok', durationMs: performance.now() - started, status, willRetry: false });
        return result;
      } catch (err) {
        const willRetry = err instanceof UpstreamUnavailableError && attempt < this.maxAttempts && retryable(err);
        this.report({
          kind,
          attempt,
          outcome: outcomeOf(err),
          durationMs: performance.now() - started,
          ...(status === undefined ? {} : { status }),
          willRetry,
        });
        if (!willRetry) {
          if (err instanceof UpstreamUnavailableError) err.attempts = attempt;
          throw err;
        }
      }
      await sleep(this.backoffMs(attempt));
    }
  }

  /**
   * POSTs one attempt and reads the answer within the timeout.
   * @throws UpstreamUnavailableError `timeout` or `network`; InvalidResponseError for an oversized body.
   */
  private async send(request: TokenRequest): Promise<{ status: number; body: string }> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await this.fetchImpl(request.url, {
        method: 'POST',
        headers: { ...request.headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: request.body.toString(),
        redirect: 'manual',
        signal,
      });
      return { status: response.status, body: await readBody(response, this.maxBodyBytes) };
    } catch (err) {
      if (err instanceof OAuthError) throw err;
      if (signal.aborted) {
        throw new UpstreamUnavailableError('timeout', `the provider did not answer within ${this.timeoutMs} ms`, { cause: err });
      }
      const code = lowLevelCodes(err);
      const shown = code.find((c) => /^[A-Z][A-Z0-9_]{1,40}$/.test(c));
      throw new UpstreamUnavailableError('network', `the provider could not be reached${shown ? ` (${shown})` : ''}`, {
        cause: err,
        notSent: code.some((c) => NOT_SENT_CODES.has(c)),
      });
    }
  }

  /** Full jitter: uniform in [0, min(maxDelayMs, baseDelayMs · 2^(attempt-1))). */
  private backoffMs(attempt: number): number {
    return Math.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
  }

  private report(info: AttemptInfo): void {
    if (!this.onAttempt) return;
    try {
      this.onAttempt(info);
    } catch {
      // A metrics hook must never change the outcome of a call.
    }
  }
}

/** Processes a token endpoint's answer as the provider words it (an absent `expires_in` is allowed where the profile says so). */
function tokenProcessor(provider: ProviderProfile): (status: number, bodyText: string, sentAt: Date) => TokenGrant {
  return (status, bodyText, sentAt) => processTokenResponse(status, bodyText, sentAt, { expiryRequired: provider.expiryRequired });
}

function outcomeOf(err: unknown): AttemptOutcome {
  if (err instanceof ProviderRefusedError) return 'refused';
  if (err instanceof UpstreamUnavailableError) return err.reason;
  return 'error';
}

/** Reads a body as UTF-8 text, refusing more than `limit` bytes. */
async function readBody(response: Response, limit: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new InvalidResponseError(`the provider's answer is larger than ${limit} bytes`, { status: response.status });
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/** The `code`s along an error's `cause` chain (and inside an `AggregateError`), e.g. `ECONNREFUSED`. */
function lowLevelCodes(err: unknown, depth = 0): string[] {
  if (depth > 5 || err === null || typeof err !== 'object') return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof e.code === 'string' ? [e.code] : [];
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...lowLevelCodes(inner, depth + 1));
  codes.push(...lowLevelCodes(e.cause, depth + 1));
  return codes;
}

function atLeast(value: number, name: string, min: number, integer = false): number {
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} of at least ${min}`);
  }
  return value;
}
