import fs from 'node:fs';
import path from 'node:path';
import { printSchema } from 'graphql';
import { gatewaySchema } from '../src/resolvers/schema';

/**
 * `schema.graphql` is the committed SDL of the API, so that every schema
 * change shows in review. Regenerate with `npm run schema`.
 */
describe('schema.graphql', () => {
  const sdl = printSchema(gatewaySchema());

  it('is up to date', () => {
    expect(fs.readFileSync(path.resolve(__dirname, '../schema.graphql'), 'utf8')).toBe(sdl + '\n');
  });

  it('keeps every name of the contract', () => {
    for (const name of [
      'scalar DateTimeISO',
      'enum TokenStatus',
      'type Token {',
      'input TokenInput {',
      'input TokenMatchInput {',
      'type TokenPage {',
      'token(match: TokenMatchInput!): Token',
      'first: Int = 100',
      'tokenById(id: ID!): Token',
      'saveToken(token: TokenInput!): Token!',
      'deleteToken(id: ID!): Boolean!',
      'deleteTokens: Int!',
      'force: Boolean = true',
      'revokeToken(id: ID!): Boolean!',
      'issueProxyCredential(pathPrefixes: [String!]!, methods: [String!]!, ttlSeconds: Int!, tokenId: ID!): ProxyCredential!',
      'type ProxyCredential {',
      'credential: String!',
      'expiresAt: DateTimeISO!',
    ]) {
      expect(sdl).toContain(name);
    }
  });
});
