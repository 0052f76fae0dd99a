import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { signWebhook, verifyWebhookSignature } from '../../src/webhooks/webhook-signature';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type StoreKind, type TestGateway } from '../support/gateway';
import { AdvancingClock } from '../support/test-clocks';
import { startWebhookReceiver, type ReceivedDelivery, type WebhookReceiver } from './webhook-receiver';

const SECRET = 'whsec-' + randomBytes(16).toString('hex');

/** The verification snippet of the README, as a receiver would paste it. */
const readmeVerify = (() => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const code = /<!-- webhook-verify -->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!code) throw new Error('the README lost its webhook verification snippet');
  return new Function('require', `${code}\nreturn verifyTokengateSignature;`)(require) as (secret: string, header: string, rawBody: string) => boolean;
})();

describe('webhook signature', () => {
  const body = JSON.stringify({ id: 'evt_1', type: 'token.failed' });

  it('verifies what it signed, within the tolerance, and nothing else', () => {
    const header = signWebhook(SECRET, body);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, header, body)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, body.replace('failed', 'recovered'))).toBe(false);
    expect(verifyWebhookSignature('another-secret-0123456789', header, body)).toBe(false);
    expect(verifyWebhookSignature(SECRET, null, body)).toBe(false);
    expect(verifyWebhookSignature(SECRET, 'v1=abc', body)).toBe(false);
    const old = signWebhook(SECRET, body, Math.floor(Date.now() / 1000) - 600);
    expect(verifyWebhookSignature(SECRET, old, body)).toBe(false);
    expect(verifyWebhookSignature(SECRET, old, body, { toleranceSeconds: 900 })).toBe(true);
  });

  it("is checked by the README's snippet alike", () => {
    const header = signWebhook(SECRET, body);
    expect(readmeVerify(SECRET, header, body)).toBe(true);
    expect(readmeVerify(SECRET, header, body + ' ')).toBe(false);
    expect(readmeVerify('another-secret-0123456789', header, body)).toBe(false);
    expect(readmeVerify(SECRET, signWebhook(SECRET, body, Math.floor(Date.now() / 1000) - 600), body)).toBe(false);
    expect(readmeVerify(SECRET, 't=1', body)).toBe(false);
  });
});

/**
 * Webhook deliveries from a gateway to a real HTTP receiver: the events of
 * a token's health, signed, retried, never carrying a secret, never holding
 * up a request. The gateway's clock runs in real time, and the test moves it
 * ahead past the `refresh_failing` threshold instead of sleeping through it.
 */
function webhookContract(store: StoreKind): void {
  describe(`webhooks (${store})`, () => {
    let accounts: FakeAccountsServer;
    let receiver: WebhookReceiver;
    let gw: TestGateway;
    const clock = new AdvancingClock();
    const clientId = '1000.HOOKS';
    const clientSecret = 'hooks-client-secret-' + randomBytes(8).toString('hex');
    const secrets = new Set<string>([clientSecret, SECRET]);

    beforeAll(async () => {
      accounts = await startFakeAccountsServer();
      accounts.addClient(clientId, clientSecret);
      receiver = await startWebhookReceiver();
      gw = await startTestGateway({
        store,
        deps: { clock },
        env: {
          TOKENGATE_ACCOUNTS_URL: accounts.url,
          TOKENGATE_UPSTREAM_TIMEOUT_MS: '400',
          TOKENGATE_REFRESH_LEASE_SECONDS: '5',
          TOKENGATE_WEBHOOK_URL: receiver.url,
          TOKENGATE_WEBHOOK_SECRET: SECRET,
          TOKENGATE_WEBHOOK_FAILING_AFTER_SECONDS: '1',
          TOKENGATE_WEBHOOK_BACKOFF_MS: '50',
          TOKENGATE_WEBHOOK_MAX_ATTEMPTS: '4',
          TOKENGATE_WEBHOOK_TIMEOUT_MS: '3000',
        },
      });
    });
    afterAll(async () => {
      await gw?.close();
      await receiver?.close();
      await accounts?.close();
    });
    beforeEach(async () => {
      await gw.gateway.webhooks!.idle();
      receiver.deliveries.length = 0;
      receiver.failNext(200, 0);
      receiver.delay(0);
      receiver.release();
      accounts.setFailure('none');
    });

    const gql = async (query: string, variables: Record<string, unknown> = {}) =>
      (await gw.gql(query, variables, gw.keys.admin)).body as { data?: any; errors?: any[] };
    const saveRefreshable = async () => {
      const refreshToken = accounts.addRefreshToken(clientId);
      secrets.add(refreshToken);
      const r = await gql(`mutation($t: TokenInput!) { saveToken(token: $t) { id } }`, {
        t: { userName: `u-${randomBytes(4).toString('hex')}@example.com`, clientId, clientSecret, refreshToken },
      });
      expect(r.errors).toBeUndefined();
      return r.data.saveToken.id as string;
    };
    /** Resolves once every event the requests so far caused was delivered or given up on (and none is still being decided). */
    const settled = async () => {
      await gw.gateway.engine.idle();
      await gw.gateway.webhooks!.idle();
    };
    const refresh = (id: string) => gql(`mutation($id: ID!) { refresh(id: $id) { status accessToken } }`, { id });
    /** What a receiver checks: the signature over the raw body, and that no secret is in it. */
    const checkDelivery = (d: ReceivedDelivery) => {
      expect(verifyWebhookSignature(SECRET, d.headers['tokengate-signature'] as string, d.rawBody)).toBe(true);
      expect(readmeVerify(SECRET, d.headers['tokengate-signature'] as string, d.rawBody)).toBe(true);
      expect(d.headers['content-type']).toBe('application/json');
      expect(d.headers['tokengate-event']).toBe(d.body.type);
      expect(d.headers['tokengate-delivery']).toBe(d.body.id);
      expect(d.rawBody).not.toMatch(new RegExp([...secrets].join('|')));
      expect(Object.keys(d.body.token).sort()).toEqual(['id', 'lastError', 'status', 'userName']);
    };

    it('token.failed when a refresh is refused for good, then token.recovered when the token is saved again', async () => {
      const id = await saveRefreshable();
      accounts.setFailure('invalidCode', 1);
      expect((await refresh(id)).errors?.[0]?.extensions.code).toBe('REFRESH_FAILED');
      const [failed] = await receiver.waitFor(1);
      checkDelivery(failed!);
      expect(failed!.body).toMatchObject({ type: 'token.failed', token: { id, status: 'FAILED', lastError: 'invalid_code' } });
      expect(failed!.body.id).toMatch(/^evt_/);
      expect(Date.parse(failed!.body.occurredAt)).toBeGreaterThan(Date.now() - 60_000);

      // Failing again while FAILED is no new event.
      accounts.setFailure('invalidCode', 1);
      expect((await refresh(id)).errors?.[0]?.extensions.code).toBe('REFRESH_FAILED');
      const fresh = accounts.addRefreshToken(clientId);
      secrets.add(fresh);
      const saved = await gql(`mutation($t: TokenInput!) { saveToken(token: $t) { status } }`, { t: { id, refreshToken: fresh } });
      expect(saved.data.saveToken.status).toBe('EXPIRED');
      const deliveries = await receiver.waitFor(2);
      await settled();
      expect(receiver.deliveries).toHaveLength(2);
      checkDelivery(deliveries[1]!);
      expect(deliveries[1]!.body).toMatchObject({ type: 'token.recovered', token: { id, status: 'EXPIRED', lastError: null } });

      const audit = await gw.gateway.stores.audit.listAudit({ first: 50, tokenId: id, actions: ['NOTIFY'] });
      expect(audit.nodes.map((e) => e.detail)).toEqual(['token.recovered', 'token.failed']);
    });

    it('token.recovered when a FAILED token is refreshed successfully', async () => {
      const id = await saveRefreshable();
      accounts.setFailure('invalidCode', 1);
      await refresh(id);
      await receiver.waitFor(1);
      const r = await refresh(id);
      expect(r.errors).toBeUndefined();
      secrets.add(r.data.refresh.accessToken);
      const [, recovered] = await receiver.waitFor(2);
      checkDelivery(recovered!);
      expect(recovered!.body).toMatchObject({ type: 'token.recovered', token: { id, status: 'ACTIVE' } });
    });

    it('token.refresh_failing once transient failures have lasted past the threshold, once per run of failures', async () => {
      const id = await saveRefreshable();
      accounts.setFailure('http500');
      expect((await refresh(id)).errors?.[0]?.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      await settled();
      expect(receiver.deliveries).toHaveLength(0); // not failing for 1 s yet
      clock.advance(1_200);
      expect((await refresh(id)).errors?.[0]?.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      const [failing] = await receiver.waitFor(1);
      checkDelivery(failing!);
      expect(failing!.body).toMatchObject({ type: 'token.refresh_failing', reason: 'http_5xx', token: { id, status: 'EXPIRED' } });
      expect(clock.now() - Date.parse(failing!.body.failingSince)).toBeGreaterThanOrEqual(1000);
      // Still failing: no second event for the same run.
      expect((await refresh(id)).errors?.[0]?.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      await settled();
      expect(receiver.deliveries).toHaveLength(1);
      // A success ends the run (a FAILED token it was not: no token.recovered).
      accounts.setFailure('none');
      expect((await refresh(id)).errors).toBeUndefined();
      await settled();
      expect(receiver.deliveries).toHaveLength(1);
    });

    it('retries a delivery the receiver answers with 500, with backoff, each attempt freshly signed', async () => {
      receiver.failNext(500, 2);
      const id = await saveRefreshable();
      accounts.setFailure('invalidCode', 1);
      await refresh(id);
      const attempts = await receiver.waitFor(3);
      expect(attempts.map((d) => d.status)).toEqual([500, 500, 200]);
      expect(attempts.map((d) => d.headers['tokengate-attempt'])).toEqual(['1', '2', '3']);
      expect(new Set(attempts.map((d) => d.body.id)).size).toBe(1);
      for (const d of attempts) checkDelivery(d);
      // Exponential: the second wait is longer than the first (50 ms, then 100 ms, ±25%).
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(35);
      expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(75);
      await gw.gateway.webhooks!.idle();
      expect(receiver.deliveries).toHaveLength(3);
    });

    it('gives up after TOKENGATE_WEBHOOK_MAX_ATTEMPTS, and at once on a 4xx', async () => {
      receiver.failNext(503, 100);
      const id = await saveRefreshable();
      accounts.setFailure('invalidCode', 1);
      await refresh(id);
      await gw.gateway.webhooks!.idle();
      expect(receiver.deliveries).toHaveLength(4);
      receiver.deliveries.length = 0;
      receiver.failNext(401, 100);
      const other = await saveRefreshable();
      accounts.setFailure('invalidCode', 1);
      await refresh(other);
      await gw.gateway.webhooks!.idle();
      expect(receiver.deliveries).toHaveLength(1);
    });

    it('never holds up a request: refreshes and saves answer while every delivery hangs at the receiver', async () => {
      receiver.hold();
      try {
        const ids = await Promise.all(Array.from({ length: 6 }, () => saveRefreshable()));
        accounts.setFailure('invalidCode', 6);
        const failed = await Promise.all(ids.map((id) => refresh(id)));
        for (const r of failed) expect(r.errors?.[0]?.extensions.code).toBe('REFRESH_FAILED');
        await receiver.waitFor(4); // four deliveries under way (the sender's concurrency), none answered
        const ok = await refresh(ids[0]!); // a recovery: its event queues behind the hung ones
        expect(ok.errors).toBeUndefined();
        await saveRefreshable();
        // Everything above was answered while the receiver had answered nothing.
        expect(receiver.deliveries.length).toBeLessThanOrEqual(4);
      } finally {
        receiver.release();
      }
      await receiver.waitFor(7, 10_000); // 6 failed + 1 recovered, delivered in the end
      expect(receiver.deliveries.filter((d) => d.body.type === 'token.failed')).toHaveLength(6);
    });
  });
}

webhookContract('memory');
webhookContract('sqlite');
