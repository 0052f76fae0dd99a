/**
 * The roles of API keys and who may read each secret field of `Token`: the
 * API checks these (`TokenSecretsResolver`), and the dashboard (ui/, bundled
 * by esbuild at build time) imports this same file to ask only for the
 * fields its session's role may read. No imports here: it must build for
 * the browser as it is.
 */

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Who may read each secret field of `Token` (graphql-api.md, Roles). */
export const SECRET_READERS = Object.freeze({
  accessToken: ['operator', 'admin'],
  refreshToken: ['admin'],
  clientSecret: ['admin'],
  grantToken: ['admin'],
} as const satisfies Record<string, readonly Role[]>);

/** A secret field of `Token`. */
export type SecretReadField = keyof typeof SECRET_READERS;

/** The secret fields of `Token` a role may read, in the schema's order. */
export function readableSecrets(role: Role): SecretReadField[] {
  return (Object.keys(SECRET_READERS) as SecretReadField[]).filter((field) => (SECRET_READERS[field] as readonly Role[]).includes(role));
}
