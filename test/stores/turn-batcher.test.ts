import { TurnBatcher } from '../../src/stores/sql/turn-batcher';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatcher', () => {
  it('runs the first job of a turn at once and the later ones at the end of the turn, in order', async () => {
    const batcher = new TurnBatcher();
    const ran: string[] = [];
    batcher.run(() => ran.push('first'));
    batcher.run(() => ran.push('second'));
    batcher.run(() => ran.push('third'));
    expect(ran).toEqual(['first']);
    await Promise.resolve();
    expect(ran).toEqual(['first']);
    await nextTurn();
    expect(ran).toEqual(['first', 'second', 'third']);
  });

  it('starts afresh in the next turn: its first job runs at once again', async () => {
    const batcher = new TurnBatcher();
    const ran: string[] = [];
    batcher.run(() => ran.push('a1'));
    batcher.run(() => ran.push('a2'));
    await nextTurn();
    await nextTurn();
    batcher.run(() => ran.push('b1'));
    expect(ran).toEqual(['a1', 'a2', 'b1']);
  });

  it('a job queued by a job that waited runs in a later turn window, not lost', async () => {
    const batcher = new TurnBatcher();
    const ran: string[] = [];
    batcher.run(() => ran.push('a'));
    batcher.run(() => {
      ran.push('b');
      batcher.run(() => ran.push('c'));
    });
    await nextTurn();
    await nextTurn();
    expect(ran).toEqual(['a', 'b', 'c']);
  });
});
