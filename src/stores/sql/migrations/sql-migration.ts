import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A TypeORM migration made of plain SQL statements: `up` runs them in order,
 * `down` runs its own. `name` must end with the 13-digit timestamp TypeORM
 * orders migrations by.
 */
export function statementsMigration(name: string, up: readonly string[], down: readonly string[] = []): new () => MigrationInterface {
  const migration = class implements MigrationInterface {
    name = name;
    async up(runner: QueryRunner): Promise<void> {
      for (const sql of up) await runner.query(sql);
    }
    async down(runner: QueryRunner): Promise<void> {
      for (const sql of down) await runner.query(sql);
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}

/** A migration that creates one table (`down` drops it). */
export function createTableMigration(name: string, up: readonly string[], quotedTable: string): new () => MigrationInterface {
  return statementsMigration(name, up, [`DROP TABLE ${quotedTable}`]);
}
