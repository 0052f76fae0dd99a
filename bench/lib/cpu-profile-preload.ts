/**
 * Preloaded into a gateway process by BENCH_PROFILE=1 (`NODE_OPTIONS=--require …`,
 * since Node 20 refuses `--cpu-prof` in NODE_OPTIONS): samples the CPU from
 * start to exit with the inspector and writes a `.cpuprofile` into
 * `BENCH_CPU_PROFILE_DIR` (read it with profile-top.js or Chrome DevTools).
 */
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 250 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // The same-thread session answers synchronously, so this works in 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `gateway-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
