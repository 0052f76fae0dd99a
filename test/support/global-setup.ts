import { MYSQL_REQUIRED, mysqlAvailable } from './mysql';

/**
 * Runs once before every test file: finds out whether MariaDB answers and
 * tells the workers through TOKENGATE_MYSQL_AVAILABLE. With
 * TOKENGATE_REQUIRE_MYSQL=1 (as `.ci/run` sets) an unreachable server fails
 * the whole run here, before anything is skipped.
 */
export default async function globalSetup(): Promise<void> {
  const available = await mysqlAvailable();
  process.env.TOKENGATE_MYSQL_AVAILABLE = available ? '1' : '0';
  if (!available && !MYSQL_REQUIRED) {
    process.stderr.write(
      '\n[tokengate tests] MariaDB does not answer at 127.0.0.1:3306: the MySQL tests are SKIPPED (set TOKENGATE_REQUIRE_MYSQL=1 to fail instead)\n',
    );
  }
}
