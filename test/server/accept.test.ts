import { preferredMediaType } from '../../src/server/accept';

const OFFERS = ['application/graphql-response+json', 'application/json', 'multipart/mixed', 'text/event-stream', 'text/html'];

describe('preferredMediaType', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', 'text/html'],
    ['text/html', 'text/html'],
    ['*/*', 'application/graphql-response+json'],
    [undefined, 'application/graphql-response+json'],
    ['application/json', 'application/json'],
    ['application/json;q=0.5, text/html;q=0.9', 'text/html'],
    ['text/*', 'text/event-stream'],
    ['text/*;q=0.5, text/html', 'text/html'],
    ['text/html;q=0, */*', 'application/graphql-response+json'],
    ['image/png', null],
    ['garbage', null],
  ])('%s -> %s', (header, expected) => {
    expect(preferredMediaType(header, OFFERS)).toBe(expected);
  });
});
