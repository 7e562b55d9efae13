// Turns of the event loop, counted (not timed) by the tests that show a long piece of work lets
// the loop turn (D-330, D-343): a setImmediate chain, one callback per turn.

/** A running count of the event loop's turns from its creation until `stop()`. */
export interface TurnCounter {
  readonly turns: number;
  stop(): void;
}

/** Starts counting the event loop's turns. */
export function countTurns(): TurnCounter {
  let turns = 0;
  let on = true;
  const tick = () => {
    if (!on) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop() {
      on = false;
    },
  };
}

/** Turns of the event loop while `work` runs. */
export async function turnsDuring(work: () => Promise<void>): Promise<number> {
  const counter = countTurns();
  try {
    // The chain's first callback runs at the next turn; count from there.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const before = counter.turns;
    await work();
    return counter.turns - before;
  } finally {
    counter.stop();
  }
}
