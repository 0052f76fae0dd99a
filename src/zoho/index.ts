/**
 * `tokengate/zoho`: a token store for Zoho's CRM SDK
 * (`@zohocrm/typescript-sdk-8.0`, a peer dependency) that keeps the tokens in
 * a tokengate gateway.
 */
export { TokengateZohoStore, type TokengateZohoStoreOptions } from './tokengate-zoho-store';
