/**
 * Steps of the connect flow as a browser takes them, over real HTTP: the
 * consent step at the fake provider (a 302 back to the gateway) and the
 * gateway's callback (a 302 to `returnTo`, or a page). No redirect is
 * followed automatically, so each hop can be looked at (and tampered with).
 */
export const SAVE_CLIENT = `mutation SaveClient($client: ClientInput!) { saveClient(client: $client) { id name provider clientId scopes redirectUrl accountsUrl createdAt updatedAt } }`;
export const START_CONNECT = `mutation Start($input: StartConnectInput!) { startConnect(input: $input) { authorizationUrl expiresAt } }`;

/** One hop: its status, `Location`, headers and body. */
export interface Hop {
  status: number;
  location: string | null;
  headers: Headers;
  text: string;
}

/** GETs `url` without following a redirect. */
export async function hop(url: string, fetchImpl: typeof fetch = fetch): Promise<Hop> {
  const res = await fetchImpl(url, { method: 'GET', redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location'), headers: res.headers, text: await res.text() };
}

/** The consent step: the provider's 302 back to the callback, as a URL (to follow, or to tamper with). */
export async function consent(authorizationUrl: string, fetchImpl: typeof fetch = fetch): Promise<URL> {
  const answer = await hop(authorizationUrl, fetchImpl);
  if (answer.status !== 302 || !answer.location) throw new Error(`the consent step answered ${answer.status}: ${answer.text.slice(0, 200)}`);
  return new URL(answer.location);
}

/** The outcome a callback's redirect carries in `returnTo`'s query. */
export function outcomeOf(location: string | null): { connect: string | null; token: string | null; reason: string | null; url: URL } {
  if (!location) throw new Error('the callback did not redirect');
  const url = new URL(location);
  return { connect: url.searchParams.get('connect'), token: url.searchParams.get('token'), reason: url.searchParams.get('reason'), url };
}
