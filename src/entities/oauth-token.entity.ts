import { Column, Entity, Index, PrimaryColumn, type ColumnOptions, type PrimaryColumnOptions, type ValueTransformer } from 'typeorm';
import { TOKEN_COLUMNS, TOKEN_INDEXES, indexName, type OAuthTokenRecord } from './token-columns';

/** Instants are kept as epoch milliseconds (BIGINT) on every engine: exact, sortable, no time zone. */
export const epochMs: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? null : Number(v)),
};

/**
 * The stored row of a token: Zoho's `oauthtoken` columns plus tokengate's own,
 * with the columns of `TOKEN_COLUMNS`. `tokenEntityFor(table)` makes the entity
 * for a table name (the MySQL table name is configurable).
 */
// The class carries the decorators; the interface merged into it types the columns (from TOKEN_COLUMNS).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class OAuthTokenColumns {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface OAuthTokenColumns extends OAuthTokenRecord {}

for (const c of TOKEN_COLUMNS) {
  const options: ColumnOptions = {
    name: c.name,
    type: c.type,
    nullable: c.nullable,
    ...('length' in c ? { length: c.length } : {}),
    ...('default' in c ? { default: c.default } : {}),
    ...(c.type === 'bigint' ? { transformer: epochMs } : {}),
  };
  const decorate = 'primary' in c ? PrimaryColumn(options as PrimaryColumnOptions) : Column(options);
  decorate(OAuthTokenColumns.prototype, c.property);
}

const entities = new Map<string, typeof OAuthTokenColumns>();
const propertyOf = new Map<string, string>(TOKEN_COLUMNS.map((c) => [c.name, c.property]));

/** The `OAuthToken` entity bound to a table, one class per table name, cached. */
export function tokenEntityFor(table: string): typeof OAuthTokenColumns {
  let entity = entities.get(table);
  if (!entity) {
    class OAuthToken extends OAuthTokenColumns {}
    Object.defineProperty(OAuthToken, 'name', { value: `OAuthToken_${table}` });
    for (const index of TOKEN_INDEXES) {
      Index(
        indexName(table, index),
        index.columns.map((c) => propertyOf.get(c)!),
        { unique: index.unique },
      )(OAuthToken);
    }
    Entity({ name: table })(OAuthToken);
    entity = OAuthToken;
    entities.set(table, entity);
  }
  return entity;
}
