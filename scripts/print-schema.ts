// Prints the DDL TypeORM would generate for the token entity (to write migrations).
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { tokenEntityFor } from '../src/entities/oauth-token.entity';

async function main() {
  const kind = process.argv[2];
  const table = 'TABLE_NAME';
  const ds =
    kind === 'sqlite'
      ? new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: [tokenEntityFor(table)] })
      : new DataSource({ type: 'mysql', url: 'mysql://root@127.0.0.1:3306/test', entities: [tokenEntityFor(table)], charset: 'utf8mb4_unicode_ci' });
  await ds.initialize();
  const log = await ds.driver.createSchemaBuilder().log();
  for (const q of log.upQueries) process.stdout.write(q.query + ';\n');
  await ds.destroy();
}
void main();
