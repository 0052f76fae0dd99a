/**
 * The governor: every call that would mint a token at a provider (a refresh,
 * a grant exchange) asks it first, so that the provider's own count never
 * exceeds one of its issuing limits (`ProviderLimits`) and a user's
 * connection is never killed by the provider.
 *
 * Its counters live in the store (`GovernorStore`), shared by every process
 * on the database, and a decision is made under the store's lock of the
 * subjects it counts. Timing, so that the governor's count is never below the
 * provider's:
 * - windows are rolling: before sending, it counts the mints recorded after
 *   `now − window`;
 * - a mint is recorded at the time its response arrived (later than the
 *   provider counted it); a mint still in flight counts as happening now;
 * - a minted token counts as alive until its response time plus the
 *   profile's `accessTokenLifetimeSeconds`.
 * The background task keeps `reserve` slots free (the last two of a window)
 * for callers who ask.
 */
import { createHash } from 'node:crypto';
import type { GovernorStore, MintRecord, SubjectState } from '../stores/governor-store';
import type { Token } from '../stores/token';
import type { ProviderLimits, ProviderProfile } from './provider';

/** Why the governor said no: a window full, too many tokens alive, a client's grant window full, or a provider's block. */
export type RefusalReason = 'window' | 'alive' | 'grants' | 'blocked';

/** A mint the governor allowed: tell it how the call ended. */
export interface MintPermit {
  /** The provider answered with a token at `respondedAt` (epoch ms). */
  minted(respondedAt: number): Promise<void>;
  /** The provider surely minted nothing (it refused, or the request never left). */
  notMinted(): Promise<void>;
  /** The outcome is unknown (a timeout, a 5xx): counted as minted now, which is the safe side. */
  unknown(): Promise<void>;
}

/** What is left of a token's issuing budget at one instant (instants in epoch ms). */
export interface TokenBudget {
  /** Access tokens a caller may still have minted now: the room in the window and under the alive cap; 0 while the provider blocks the token. */
  left: number;
  /** The provider's access tokens per window. */
  perWindow: number;
  /** The rolling window, in seconds. */
  windowSeconds: number;
  /** When every mint counted now has left the window (the whole budget is back, and any block has ended); null when none is counted. */
  resetsAt: number | null;
  /** When the governor lets the next mint through, when it would refuse one now; null when it would allow one. */
  nextAt: number | null;
}

interface CountedLimit {
  cap: number;
  /** How long a mint counts (the window, or the token lifetime). */
  ms: number;
  /** When each counted mint stops counting. */
  leaving: number[];
}

export type GovernorVerdict = { allowed: true; permit: MintPermit } | { allowed: false; reason: RefusalReason; retryAt: number };

export interface GovernorOptions {
  store: GovernorStore;
  /** How long a refresh lease holds: a mint in flight longer than this answered by then, if at all. */
  leaseMs: number;
  /** The clock, in epoch ms [Date.now]; tests pass a controlled one. */
  now?: () => number;
  /** Told every decision (metrics). */
  onDecision?: (provider: string, decision: GovernorDecision) => void;
}

/**
 * The decisions counted in `tokengate_governor_decisions_total`:
 * `allowed` (a mint may go), `refused` (a mint may not), and what the caller
 * then got, counted by the refresh engine: `held` (the still-valid token, `throttled: true`),
 * `throttled` (`THROTTLED` + `retryAfter`), `deferred` (the background task
 * left it), `blocked` (the provider answered `access_denied`: its window is closed for every process).
 */
export type GovernorDecision = 'allowed' | 'refused' | 'held' | 'throttled' | 'deferred' | 'blocked';

/** The window that blocks a subject after `access_denied` when the profile names none (Zoho's 10 minutes). */
const DEFAULT_BLOCK_MS = 600_000;

export class Governor {
  private readonly now: () => number;
  private lastPrune = 0;

  constructor(private readonly o: GovernorOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The subject a token's limits are counted per (its refresh token, which a token row holds). */
  static tokenSubject(token: Pick<Token, 'id'>): string {
    return `t:${token.id}`;
  }

  /** The subject a client's grant exchanges are counted per. */
  static clientSubject(provider: string, clientId: string): string {
    return `g:${provider}:${createHash('sha256').update(clientId).digest('hex').slice(0, 48)}`;
  }

  /**
   * Asks to mint with a token: a refresh, or a grant exchange (which also
   * counts against the client's grant window).
   * @param reserve slots to keep free in every window and cap (2 for the background task, 0 for callers).
   */
  async permit(kind: 'refresh' | 'grant', token: Pick<Token, 'id' | 'clientId'>, profile: ProviderProfile, reserve = 0): Promise<GovernorVerdict> {
    const limits = profile.limits;
    const subjects = [Governor.tokenSubject(token)];
    if (kind === 'grant' && token.clientId && limits.grantsPerWindow !== null) subjects.push(Governor.clientSubject(profile.name, token.clientId));
    const now = this.now();
    const longest = Math.max(seconds(limits.windowSeconds), 0);
    let refusal: { reason: RefusalReason; retryAt: number } | null = null;
    const ids = await this.o.store.reserveMints(subjects, now - longest, now, (states) => {
      refusal = this.judge(states, limits, now, reserve);
      return refusal === null;
    });
    this.maybePrune(now, limits);
    if (ids === null) {
      this.o.onDecision?.(profile.name, 'refused');
      const r = refusal as unknown as { reason: RefusalReason; retryAt: number };
      return { allowed: false, reason: r.reason, retryAt: r.retryAt };
    }
    this.o.onDecision?.(profile.name, 'allowed');
    const lifetimeMs = limits.accessTokenLifetimeSeconds === null ? null : limits.accessTokenLifetimeSeconds * 1000;
    let settled = false;
    const once = async (fn: () => Promise<void>) => {
      if (settled) return;
      settled = true;
      await fn();
    };
    return {
      allowed: true,
      permit: {
        minted: (respondedAt) => once(() => this.o.store.settleMints(ids, respondedAt, lifetimeMs === null ? null : respondedAt + lifetimeMs)),
        notMinted: () => once(() => this.o.store.cancelMints(ids)),
        unknown: () =>
          once(() => {
            const at = this.now();
            return this.o.store.settleMints(ids, at, lifetimeMs === null ? null : at + lifetimeMs);
          }),
      },
    };
  }

  /**
   * The provider answered `access_denied` (Zoho's rate limit): refuse every
   * mint of this token, in every process, for a whole window from now.
   * @returns until when (epoch ms).
   */
  async block(token: Pick<Token, 'id'>, profile: ProviderProfile): Promise<number> {
    const until = this.now() + (profile.limits.windowSeconds === null ? DEFAULT_BLOCK_MS : profile.limits.windowSeconds * 1000);
    await this.o.store.blockSubject(Governor.tokenSubject(token), until);
    this.o.onDecision?.(profile.name, 'blocked');
    return until;
  }

  /**
   * The rules of the module, on the states read under the lock.
   * @returns null when one more mint fits every limit; else why not and when it would (the latest of the limits it breaks).
   */
  judge(states: readonly SubjectState[], limits: ProviderLimits, now: number, reserve: number): { reason: RefusalReason; retryAt: number } | null {
    let worst: { reason: RefusalReason; retryAt: number } | null = null;
    const refuse = (reason: RefusalReason, retryAt: number) => {
      if (!worst || retryAt > worst.retryAt) worst = { reason, retryAt };
    };
    for (const state of states) {
      if (state.blockedUntil !== null && state.blockedUntil > now) refuse('blocked', state.blockedUntil);
      const isGrant = state.subject.startsWith('g:');
      const counted = this.counted(state, limits, now);
      if (counted.window !== null) {
        const retryAt = nextFree(counted.window.leaving, counted.window.cap - reserve, now + counted.window.ms);
        if (retryAt !== null) refuse(isGrant ? 'grants' : 'window', retryAt);
      }
      if (counted.alive !== null) {
        const retryAt = nextFree(counted.alive.leaving, counted.alive.cap - reserve, now + counted.alive.ms);
        if (retryAt !== null) refuse('alive', retryAt);
      }
    }
    return worst;
  }

  /**
   * What a subject's limits count at `now`: for its window (per-window
   * limit) and for the alive cap, the instants at which each counted mint
   * stops counting; null where the limit does not apply to it.
   */
  private counted(state: SubjectState, limits: ProviderLimits, now: number): { window: CountedLimit | null; alive: CountedLimit | null } {
    const windowMs = limits.windowSeconds === null ? null : limits.windowSeconds * 1000;
    const lifetimeMs = limits.accessTokenLifetimeSeconds === null ? null : limits.accessTokenLifetimeSeconds * 1000;
    // Counted at its response time (in flight: now); expected to stop counting a window after its latest possible response.
    const counted = state.mints.map((m) => ({ at: this.mintTime(m, now), latest: m.mintedAt ?? m.reservedAt + this.o.leaseMs }));
    const isGrant = state.subject.startsWith('g:');
    const perWindow = isGrant ? limits.grantsPerWindow : limits.accessTokensPerWindow;
    const window =
      windowMs !== null && perWindow !== null
        ? { cap: perWindow, ms: windowMs, leaving: counted.filter((c) => c.at > now - windowMs).map((c) => c.latest + windowMs) }
        : null;
    const alive =
      !isGrant && limits.maxAliveAccessTokens !== null && lifetimeMs !== null
        ? {
            cap: limits.maxAliveAccessTokens,
            ms: lifetimeMs,
            leaving: state.mints
              .map((m, i) => (m.mintedAt === null ? counted[i]!.latest + lifetimeMs : m.aliveUntil))
              .filter((u): u is number => u !== null && u > now),
          }
        : null;
    return { window, alive };
  }

  /**
   * What is left of each token's issuing budget now, for people to see (the
   * dashboard): read in one call of the store for all of them, without a
   * lock (a decision is still made by `permit`).
   * @returns per token id, its budget, or null when its provider (null: unknown) limits no access tokens per window.
   */
  async budgets(tokens: ReadonlyArray<{ id: string; profile: ProviderProfile | null }>): Promise<Map<string, TokenBudget | null>> {
    const out = new Map<string, TokenBudget | null>(tokens.map((t) => [t.id, null]));
    const limited = tokens.filter(
      (t): t is { id: string; profile: ProviderProfile } =>
        t.profile !== null && t.profile.limits.accessTokensPerWindow !== null && t.profile.limits.windowSeconds !== null,
    );
    if (limited.length === 0) return out;
    const now = this.now();
    const longest = Math.max(...limited.map((t) => t.profile.limits.windowSeconds! * 1000));
    const states = new Map((await this.o.store.readSubjects(limited.map(Governor.tokenSubject), now - longest, now)).map((s) => [s.subject, s]));
    for (const { id, profile } of limited) {
      const subject = Governor.tokenSubject({ id });
      const state = states.get(subject) ?? { subject, mints: [], blockedUntil: null };
      const limits = profile.limits;
      const { window, alive } = this.counted(state, limits, now);
      const blockedUntil = state.blockedUntil !== null && state.blockedUntil > now ? state.blockedUntil : null;
      let left = Math.max(0, window!.cap - window!.leaving.length);
      if (alive !== null) left = Math.min(left, Math.max(0, alive.cap - alive.leaving.length));
      if (blockedUntil !== null) left = 0;
      const ends = blockedUntil === null ? window!.leaving : [...window!.leaving, blockedUntil];
      out.set(id, {
        left,
        perWindow: window!.cap,
        windowSeconds: limits.windowSeconds!,
        resetsAt: ends.length === 0 ? null : Math.max(...ends),
        nextAt: this.judge([state], limits, now, 0)?.retryAt ?? null,
      });
    }
    return out;
  }

  /**
   * When a mint counts as having happened: its response time; a mint in
   * flight counts as now, but no later than its lease's end (its answer
   * cannot come after the lease: every attempt's timeout fits in it).
   */
  private mintTime(m: MintRecord, now: number): number {
    return m.mintedAt ?? Math.min(now, m.reservedAt + this.o.leaseMs);
  }

  /** Old mints are deleted now and then (at most once a minute per process). */
  private maybePrune(now: number, limits: ProviderLimits): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    const keep = Math.max(seconds(limits.windowSeconds), seconds(limits.accessTokenLifetimeSeconds), 3600_000);
    void this.o.store.pruneMints(now - keep).catch(() => undefined);
  }
}

/**
 * With `leaving` — when each counted mint stops counting — in a limit of
 * `cap`: null when one more fits; else when enough of them have left to
 * make room for one.
 */
function nextFree(leaving: number[], cap: number, fallback: number): number | null {
  if (leaving.length + 1 <= cap) return null;
  if (cap <= 0) return Math.max(fallback, ...leaving);
  const sorted = [...leaving].sort((a, b) => a - b);
  return sorted[leaving.length - cap]!;
}

const seconds = (s: number | null) => (s === null ? 0 : s * 1000);
