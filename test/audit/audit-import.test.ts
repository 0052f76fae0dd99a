import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Keyring } from '../../src/crypto/keyring';
import { importTokens } from '../../src/interop/importer';
import { readZohoCsv } from '../../src/interop/zoho-csv';
import { openStore } from '../../src/stores/open-store';

describe('audit trail of an import', () => {
  it('records one IMPORT entry per token written, by system:cli-import, with no secret', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-audit-import-'));
    try {
      const csv = path.join(dir, 'sdk_tokens.txt');
      const secret = 'csv-secret-' + randomBytes(6).toString('hex');
      fs.writeFileSync(
        csv,
        'id,user_mail,client_id,client_secret,refresh_token,access_token,grant_token,expiry_time,redirect_url,api_domain\n' +
          `1,a@example.com,1000.C,${secret},1000.rt-a-${secret},,,,,https://www.zohoapis.com\n` +
          `2,b@example.com,1000.C,${secret},1000.rt-b-${secret},,,,,https://www.zohoapis.com`,
      );
      const stores = await openStore({ kind: 'sqlite', path: path.join(dir, 'tokengate.db') }, new Keyring([randomBytes(32)]));
      const result = await importTokens(stores.tokens, readZohoCsv(csv));
      expect(result.imported).toBe(2);
      const { nodes } = await stores.audit.listAudit({ first: 10 });
      expect(nodes.map((e) => [e.action, e.tokenId, e.actorRole, e.actorName]).sort()).toEqual([
        ['IMPORT', '1', 'system', 'cli-import'],
        ['IMPORT', '2', 'system', 'cli-import'],
      ]);
      expect(JSON.stringify(nodes)).not.toContain(secret);
      await stores.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
