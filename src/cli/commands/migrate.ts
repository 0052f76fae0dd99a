import { MigrationExecutor } from 'typeorm';
import { configFrom, describeStore, ensureSqliteDir, openConfiguredStore } from '../configured-store';
import { CliError } from '../errors';
import { println, type CliIo } from '../io';

/**
 * `tokengate migrate`: creates or upgrades the configured store's tables, as
 * the gateway does at every start, and checks that the stored secrets belong
 * to the configured key. For deployments that migrate before rolling out.
 */
export async function migrateCommand(io: CliIo): Promise<void> {
  const config = configFrom(io.env);
  if (config.store === 'memory') {
    println(io.stdout, 'the memory store has no schema: nothing to migrate');
    return;
  }
  ensureSqliteDir(config);
  const { createDataSource, openFailure, storeOptionsOf } = await import('../../stores/open-store');
  const options = storeOptionsOf(config);
  if (options.kind === 'memory') return;
  const ds = createDataSource(options);
  let pending: string[];
  try {
    await ds.initialize();
    pending = (await new MigrationExecutor(ds).getPendingMigrations()).map((m) => m.name);
  } catch (err) {
    if (!ds.isInitialized) throw new CliError(openFailure(options, err));
    throw new CliError(`cannot open ${describeStore(config)}${(err as { code?: string }).code ? ` (${(err as { code?: string }).code})` : ''}`);
  } finally {
    if (ds.isInitialized) await ds.destroy().catch(() => undefined);
  }
  // Runs the pending migrations in one transaction and checks the key, as a gateway start does.
  const stores = await openConfiguredStore(config);
  await stores.close();
  println(
    io.stdout,
    pending.length === 0
      ? `${describeStore(config)} is up to date`
      : `migrated ${describeStore(config)}: applied ${pending.length} migration${pending.length === 1 ? '' : 's'} (${pending.join(', ')})`,
  );
}
