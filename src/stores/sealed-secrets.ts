import { SECRET_FIELDS, type SecretField, type Token } from './token';

/**
 * Tokens read from an encrypted store keep their secrets sealed until they are
 * used: a lookup that serves no secret (most of them) pays no decryption.
 *
 * The four secret fields of such a token are own, enumerable accessor
 * properties: reading one decrypts it once and remembers the plaintext;
 * assigning one replaces it. Spreading, `Object.assign`, `JSON.stringify`
 * and deep equality all read through the accessors, so the token behaves as
 * the plain object its type says it is. `hasSecret` answers "is it set?"
 * without decrypting.
 */

/** Decrypts one sealed field. Throws when the ciphertext does not open. */
export type SecretOpener = (field: SecretField, ciphertext: string) => string;

interface SealedState {
  readonly ciphertext: Readonly<Record<SecretField, string | null>>;
  readonly open: SecretOpener;
  /** Plaintext of the fields read or assigned so far. */
  readonly plain: Partial<Record<SecretField, string | null>>;
}

const SEALED = Symbol('tokengate.sealedSecrets');

type SealedToken = Token & { [SEALED]: SealedState };

function accessor(field: SecretField): PropertyDescriptor {
  return {
    enumerable: true,
    configurable: true,
    get(this: SealedToken): string | null {
      const state = this[SEALED];
      const known = state.plain[field];
      if (known !== undefined) return known;
      const cipher = state.ciphertext[field];
      const value = cipher === null ? null : state.open(field, cipher);
      state.plain[field] = value;
      return value;
    },
    set(this: SealedToken, value: string | null) {
      this[SEALED].plain[field] = value;
    },
  };
}

const ACCESSORS: PropertyDescriptorMap = Object.fromEntries(SECRET_FIELDS.map((f) => [f, accessor(f)]));

/**
 * Makes `fields` (a token without its secrets) a token whose secrets open on
 * first read. `ciphertext[field]` null means the secret is not set.
 */
export function sealedToken(fields: Omit<Token, SecretField>, ciphertext: Record<SecretField, string | null>, open: SecretOpener): Token {
  const state: SealedState = { ciphertext, open, plain: {} };
  Object.defineProperty(fields, SEALED, { value: state, enumerable: false });
  return Object.defineProperties(fields, ACCESSORS) as Token;
}

/** Whether a secret field of a token is set, without decrypting it. */
export function hasSecret<F extends SecretField>(token: Pick<Token, F>, field: F): boolean {
  const state = (token as Partial<SealedToken>)[SEALED];
  if (state === undefined) return token[field] !== null && token[field] !== undefined;
  const known = state.plain[field];
  return known !== undefined ? known !== null : state.ciphertext[field] !== null;
}
