/**
 * One integration script using Zoho's TypeScript SDK alone (no gateway), in a
 * process of its own — the SDK's `Initializer` is one per process — with its
 * own `FileStore`, as Zoho documents it. For `BENCH_SDK_SECONDS` it forces
 * refreshes as fast as it can: each round runs the SDK's own refresh step
 * (`OAuthToken.refreshAccessToken`, then the store's `saveToken`: what
 * `getToken()` does when its token is about to expire), then calls the CRM
 * with the access token it holds. Prints one JSON line of counts at the end.
 * Arguments come in the environment: BENCH_SDK_ACCOUNTS, BENCH_SDK_CLIENT_ID,
 * BENCH_SDK_CLIENT_SECRET, BENCH_SDK_REFRESH_TOKEN, BENCH_SDK_STORE_FILE,
 * BENCH_SDK_SECONDS.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const Z = require('@zohocrm/typescript-sdk-8.0');
const { DataCenter } = require('@zohocrm/typescript-sdk-8.0/dist/routes/dc/data_center');

async function main(): Promise<void> {
  const env = process.env;
  const base = env.BENCH_SDK_ACCOUNTS!;
  const environment = DataCenter.setEnvironment(base, `${base}/oauth/v2/token`, base);
  const store = new Z.FileStore(env.BENCH_SDK_STORE_FILE!);
  const token = new Z.OAuthBuilder()
    .clientId(env.BENCH_SDK_CLIENT_ID)
    .clientSecret(env.BENCH_SDK_CLIENT_SECRET)
    .refreshToken(env.BENCH_SDK_REFRESH_TOKEN)
    .findUser(false)
    .build();
  const counts = { calls: 0, validToken: 0, accessDenied: 0, otherErrors: 0, crmRejected: 0 };
  const failed = (err: unknown) => {
    const text = JSON.stringify({ code: (err as { code?: unknown }).code, message: (err as Error).message, details: (err as { details?: unknown }).details });
    if (text.includes('access_denied')) counts.accessDenied++;
    else counts.otherErrors++;
  };
  const end = Date.now() + Number(env.BENCH_SDK_SECONDS) * 1000;
  // initialize() runs the token flow itself: when the other scripts have used up the window, it fails with
  // access_denied like any refresh, which is counted, and the script tries again as a script restarted by its operator would.
  for (let ready = false; !ready && Date.now() < end;) {
    counts.calls++;
    try {
      await new Z.InitializeBuilder().environment(environment).token(token).store(store).initialize();
      await token.getToken();
      ready = true;
    } catch (err) {
      failed(err);
    }
  }
  while (Date.now() < end) {
    counts.calls++;
    try {
      await token.refreshAccessToken(token, `${base}/oauth/v2/token`);
      await store.saveToken(token);
    } catch (err) {
      failed(err);
    }
    const at = token.getAccessToken();
    if (!at) continue;
    try {
      const r = await fetch(`${base}/crm/v8/users`, { headers: { authorization: `Zoho-oauthtoken ${at}` } });
      if (r.ok) counts.validToken++;
      else counts.crmRejected++;
    } catch {
      counts.otherErrors++; // the CRM call itself failed (a busy machine): not a verdict on the token
    }
  }
  // The SDK's HTTP agent keeps connections (and so the process) alive: leave once the counts are out.
  process.stdout.write(`${JSON.stringify(counts)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`sdk script failed: ${(err as Error)?.message}\n`);
  process.exit(1);
});
