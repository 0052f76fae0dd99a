import type { Browser, Page } from 'playwright-core';
import { blockedRequests, launchOfflineBrowser, newOfflinePage } from '../support/browser';
import { GraphiQLPage } from '../support/graphiql-page';
import { startTestGateway, type TestGateway } from '../support/gateway';

/**
 * The real gateway's playground in headless Chromium with every request off
 * the machine blocked: an operator pastes a key into the headers and counts
 * the tokens.
 */
describe('the gateway playground, offline in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    gw = await startTestGateway({ store: 'sqlite' });
    for (let i = 0; i < 3; i++) await gw.gateway.stores.tokens.saveToken({ refreshToken: `r${i}` });
    browser = await launchOfflineBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });
  beforeEach(async () => {
    page = await newOfflinePage(browser, gw.url);
  });
  afterEach(async () => {
    await page?.context().close();
  });

  it('fetches the schema once the key is typed into the headers, and runs { tokens { totalCount } }', async () => {
    const ui = new GraphiQLPage(page, `${gw.url}/graphql`);
    await ui.open();
    await ui.openDocs();
    await ui.headersTab().click();
    expect(await ui.typeInto(ui.headersEditor(), `{"Authorization": "Bearer ${gw.keys.viewer}"}`)).toBe(`{"Authorization": "Bearer ${gw.keys.viewer}"}`);
    // The Docs pane fills in with the key, and nothing was shown before anything ran.
    await ui.docsRootTypes().first().waitFor({ timeout: 10_000 });
    expect(await ui.docs().innerText()).toMatch(/query:\s*Query/);
    expect(await ui.docsError().count()).toBe(0);
    expect(await ui.editorText(ui.resultWindow())).toBe('');
    expect(await ui.typeInto(ui.queryEditor(), '{ tokens { totalCount } }')).toBe('{ tokens { totalCount } }');
    const sent = await ui.run('button', 'totalCount');
    expect(sent.status).toBe(200);
    await ui
      .resultWindow()
      .filter({ hasText: /"totalCount":\s*3/ })
      .waitFor({ timeout: 10_000 });
    expect(blockedRequests(page)).toEqual([]);
  });

  it('is not served under NODE_ENV=production unless TOKENGATE_PLAYGROUND=on', async () => {
    const prod = await startTestGateway({ store: 'memory', env: { NODE_ENV: 'production' } });
    const on = await startTestGateway({ store: 'memory', env: { NODE_ENV: 'production', TOKENGATE_PLAYGROUND: 'on' } });
    try {
      const html = { accept: 'text/html' };
      expect((await fetch(`${prod.url}/graphql`, { headers: html })).headers.get('content-type')).not.toMatch(/text\/html/);
      const intro = await prod.gql('{ __schema { queryType { name } } }', {}, prod.keys.admin);
      expect(intro.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect((await fetch(`${on.url}/graphql`, { headers: html })).headers.get('content-type')).toMatch(/text\/html/);
      expect((await on.gql('{ __schema { queryType { name } } }', {}, on.keys.admin)).body.data.__schema.queryType.name).toBe('Query');
    } finally {
      await prod.close();
      await on.close();
    }
  });
});
