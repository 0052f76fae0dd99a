/**
 * The providers a gateway knows: the built-in Zoho profile (its limits
 * overridable), and the generic providers an admin registered, in the
 * database (`saveProvider`) or in `TOKENGATE_PROVIDERS_FILE` (which wins for
 * its names). Keeps the allow-list of endpoints that may receive a client
 * secret in step: a registered provider's token and revocation URLs, nothing else.
 */
import fs from 'node:fs';
import { badInput } from '../errors';
import type { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import type { ProviderStore } from '../stores/provider-store';
import { oauth2Profile } from './oauth2';
import { ZOHO, type ProviderDefinition, type ProviderProfile } from './provider';
import { parseProviderDefinition, ProviderDefinitionError } from './provider-definition';
import { zohoProfile } from './zoho';

/** How long the registry trusts what it read from the database before reading again (other processes may have saved). */
const RELOAD_MS = 2_000;

/**
 * How long a name the last read did not know counts as unknown. A provider
 * saved in this process is found at once (`save` reads again), one saved by
 * another process within this time; and a stream of unknown names (a
 * mistyped provider, a caller probing) costs the database at most one read
 * per this time, not one per call.
 */
const MISS_RELOAD_MS = 250;

export interface ProviderRegistryOptions {
  store: ProviderStore;
  policy: AccountsUrlPolicy;
  /** Definitions from `TOKENGATE_PROVIDERS_FILE` (already parsed): they win over the database for their names. */
  fromFile?: readonly ProviderDefinition[];
  /** The clock, in epoch ms [Date.now]. */
  now?: () => number;
}

/** A provider as listed: its profile, and where its definition comes from. */
export interface RegisteredProvider {
  profile: ProviderProfile;
  /** `builtin` (Zoho, defaults), `database` or `file`. */
  source: 'builtin' | 'database' | 'file';
}

export class ProviderRegistry {
  private byName = new Map<string, RegisteredProvider>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | null = null;
  private readonly fileNames: ReadonlySet<string>;
  private readonly now: () => number;

  constructor(private readonly o: ProviderRegistryOptions) {
    this.fileNames = new Set((o.fromFile ?? []).map((d) => d.name));
    this.now = o.now ?? Date.now;
    this.install([]);
  }

  /** The accounts server Zoho's endpoints are shown at (`TOKENGATE_ACCOUNTS_URL`). */
  get defaultAccountsUrl(): string {
    return this.o.policy.defaultAccountsUrl;
  }

  /** Reads the database's definitions now. */
  async load(): Promise<void> {
    this.loading ??= this.o.store
      .listProviders()
      .then((stored) => {
        this.install(stored);
        this.loadedAt = this.now();
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /**
   * The profile of a provider, re-read from the database when the last read
   * is older than a couple of seconds (a provider saved by another process
   * shows up; limits changed elsewhere apply), or, for a name it did not
   * know, older than {@link MISS_RELOAD_MS}.
   * @returns null when no such provider is registered.
   */
  async find(name: string): Promise<ProviderProfile | null> {
    const age = this.now() - this.loadedAt;
    if (age > RELOAD_MS || (age > MISS_RELOAD_MS && !this.byName.has(name))) await this.load();
    return this.byName.get(name)?.profile ?? null;
  }

  /** Like {@link find}; @throws ServiceError `BAD_USER_INPUT` for an unknown name. */
  async require(name: string): Promise<ProviderProfile> {
    const profile = await this.find(name);
    if (!profile) throw badInput(`no provider is registered as ${JSON.stringify(name.slice(0, 64))}`);
    return profile;
  }

  /** Every provider, Zoho first, then by name. */
  async list(): Promise<RegisteredProvider[]> {
    await this.load();
    return [...this.byName.values()].sort((a, b) =>
      a.profile.name === ZOHO ? -1 : b.profile.name === ZOHO ? 1 : a.profile.name.localeCompare(b.profile.name),
    );
  }

  /**
   * Registers (or replaces) a provider from a `ProviderInput`. For `zoho`,
   * only the limits are taken.
   * @throws ServiceError `BAD_USER_INPUT` for an invalid definition or a name the providers file defines.
   */
  async save(input: unknown): Promise<ProviderProfile> {
    const definition = parse(input);
    if (this.fileNames.has(definition.name))
      throw badInput(`the provider ${definition.name} is defined by TOKENGATE_PROVIDERS_FILE, which wins over the database: change it there`);
    await this.o.store.saveProvider(definition);
    await this.load();
    return this.byName.get(definition.name)!.profile;
  }

  /**
   * Deletes a registered provider. @returns false when there is none.
   * @throws ServiceError `BAD_USER_INPUT` for `zoho`, a provider of the file, or one that tokens still use.
   */
  async delete(name: string): Promise<boolean> {
    if (name === ZOHO) throw badInput('zoho is built in and cannot be deleted (its limits can be changed with saveProvider)');
    if (this.fileNames.has(name)) throw badInput(`the provider ${name} is defined by TOKENGATE_PROVIDERS_FILE: remove it there`);
    const deleted = await this.o.store.deleteProvider(name);
    await this.load();
    return deleted;
  }

  /** Rebuilds the profiles from the stored definitions, the file's over them, and the allow-list with them. */
  private install(stored: readonly ProviderDefinition[]): void {
    const definitions = new Map<string, { definition: ProviderDefinition; source: 'database' | 'file' }>();
    for (const d of stored) definitions.set(d.name, { definition: d, source: 'database' });
    for (const d of this.o.fromFile ?? []) definitions.set(d.name, { definition: d, source: 'file' });
    const next = new Map<string, RegisteredProvider>();
    const zoho = definitions.get(ZOHO);
    next.set(ZOHO, { profile: zohoProfile(zoho?.definition.limits), source: zoho?.source ?? 'builtin' });
    for (const [name, { definition, source }] of definitions) {
      if (name === ZOHO) continue;
      try {
        next.set(name, { profile: oauth2Profile(definition), source });
      } catch {
        // A stored definition that no longer parses is left out (it cannot receive a secret).
      }
    }
    for (const name of this.byName.keys()) if (!next.has(name)) this.o.policy.setProviderEndpoints(name, []);
    for (const [name, { profile }] of next) {
      if (profile.usesAccountsUrl) continue;
      const urls = [profile.tokenEndpoint(null).url, profile.revocationEndpoint(null)?.url].filter((u): u is string => typeof u === 'string');
      this.o.policy.setProviderEndpoints(name, urls);
    }
    this.byName = next;
  }
}

function parse(input: unknown): ProviderDefinition {
  try {
    return parseProviderDefinition(input);
  } catch (err) {
    if (err instanceof ProviderDefinitionError) throw badInput(err.message);
    throw err;
  }
}

/**
 * Reads `TOKENGATE_PROVIDERS_FILE`: a JSON array of `ProviderInput` objects.
 * @throws Error naming the file and the entry at fault (a start-up error).
 */
export function loadProvidersFile(file: string): ProviderDefinition[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`TOKENGATE_PROVIDERS_FILE: cannot read ${file} as JSON (${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'})`, { cause: err });
  }
  if (!Array.isArray(raw)) throw new Error('TOKENGATE_PROVIDERS_FILE: the file must hold a JSON array of providers');
  const names = new Set<string>();
  return raw.map((entry, i) => {
    let d: ProviderDefinition;
    try {
      d = parseProviderDefinition(entry);
    } catch (err) {
      throw new Error(`TOKENGATE_PROVIDERS_FILE: entry ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
    if (names.has(d.name)) throw new Error(`TOKENGATE_PROVIDERS_FILE: entry ${i + 1}: the name ${d.name} is listed twice`);
    names.add(d.name);
    return d;
  });
}
