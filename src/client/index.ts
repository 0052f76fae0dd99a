/**
 * `tokengate/client`: the `@tokengate/client` package (packages/client),
 * re-exported for code that imports it from the gateway package.
 */
export * from '@tokengate/client';
