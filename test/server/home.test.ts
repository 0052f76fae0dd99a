import { startTestGateway, type TestGateway } from '../support/gateway';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('GET /', () => {
  let gw: TestGateway;
  let prod: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ store: 'memory' });
    prod = await startTestGateway({ store: 'memory', env: { NODE_ENV: 'production' } });
  });
  afterAll(async () => {
    await gw?.close();
    await prod?.close();
  });

  it('sends a browser to the playground', async () => {
    const r = await fetch(`${gw.url}/`, { headers: { accept: BROWSER }, redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('/graphql');
  });

  it('with the playground off, shows a browser a page that says what this is', async () => {
    const r = await fetch(`${prod.url}/`, { headers: { accept: BROWSER }, redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await r.text();
    expect(html).toContain('<title>tokengate</title>');
    expect(html).toContain('/graphql');
  });

  it('answers other clients with a line of JSON', async () => {
    const r = await fetch(`${gw.url}/`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ service: 'tokengate', graphql: '/graphql' });
  });
});
