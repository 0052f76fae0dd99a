/**
 * package.json's `engines` is true: every package the lockfile installs
 * supports every Node version the claim admits (so `npm install` and `npm ci`
 * show no EBADENGINE warning), and the Node running the tests is one of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';

const ROOT = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('engines', () => {
  it('is a valid range that the running Node satisfies', () => {
    expect(semver.validRange(pkg.engines.node)).not.toBeNull();
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('admits only Node versions that every locked package supports', () => {
    const narrower: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      const node = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (where === '' || !node) continue;
      if (!semver.subset(pkg.engines.node, node)) narrower.push(`${where.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${node}`);
    }
    expect(narrower).toEqual([]);
  });
});
