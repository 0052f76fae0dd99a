import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A TypeORM migration made of plain SQL statements that creates one table:
 * `up` runs the statements in order, `down` drops the table. `name` must end
 * with the 13-digit timestamp TypeORM orders migrations by.
 */
export function createTableMigration(name: string, up: readonly string[], quotedTable: string): new () => MigrationInterface {
  const migration = class implements MigrationInterface {
    name = name;
    async up(runner: QueryRunner): Promise<void> {
      for (const sql of up) await runner.query(sql);
    }
    async down(runner: QueryRunner): Promise<void> {
      await runner.query(`DROP TABLE ${quotedTable}`);
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}
