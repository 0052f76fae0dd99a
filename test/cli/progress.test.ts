import { Progress } from '../../src/cli/progress';

/** A stderr stand-in that records what is written. */
function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 60, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream };
}

describe('Progress', () => {
  afterEach(() => jest.useRealTimers());

  it('on a terminal, redraws one line for a large input after half a second, and clears it at the end', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const { writes, stream } = fakeStream(true);
    const p = new Progress(stream);
    p.update('writing', 10, 5000);
    expect(writes).toEqual([]); // not before 500 ms
    jest.setSystemTime(1_000_600);
    p.update('writing', 2500, 5000);
    jest.setSystemTime(1_000_650);
    p.update('writing', 2600, 5000); // throttled (100 ms)
    jest.setSystemTime(1_000_800);
    p.update('writing', 5000, 5000);
    p.end();
    expect(writes).toEqual(['\r\x1b[Kwriting 2,500/5,000 (50%)', '\r\x1b[Kwriting 5,000/5,000 (100%)', '\r\x1b[K']);
  });

  it('shows nothing for a small input, nor anywhere that is not a terminal', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const small = fakeStream(true);
    const pipe = fakeStream(false);
    const a = new Progress(small.stream);
    const b = new Progress(pipe.stream);
    jest.setSystemTime(1_001_000);
    a.update('writing', 500, 999);
    b.update('writing', 50_000, 100_000);
    a.end();
    b.end();
    expect(small.writes).toEqual([]);
    expect(pipe.writes).toEqual([]);
  });

  it('counts without a total while reading', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const { writes, stream } = fakeStream(true);
    const p = new Progress(stream);
    jest.setSystemTime(1_001_000);
    p.update('reading', 12_345, null);
    expect(writes).toEqual(['\r\x1b[Kreading 12,345']);
  });
});
