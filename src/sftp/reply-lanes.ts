// Reply ordering: requests that share a lane (see RequestSpec.replyLane) are answered in the order they arrived,
// however their handlers finish; requests without a lane are answered as soon as they are done.

/** A reply's place in its lane; `deliver` is set once the request has finished. */
export interface LaneSlot {
  readonly lane: string;
  deliver: (() => void) | undefined;
}

/** Finished replies waiting for earlier ones of their lane. */
export class ReplyLanes {
  readonly #lanes = new Map<string, LaneSlot[]>();

  /** Takes the next place in `lane`; call when the request is accepted, before it runs. */
  enter(lane: string): LaneSlot {
    const slot: LaneSlot = { lane, deliver: undefined };
    const slots = this.#lanes.get(lane);
    if (slots) slots.push(slot);
    else this.#lanes.set(lane, [slot]);
    return slot;
  }

  /** Sends the finished replies at the head of a lane; stops at the first request still running. */
  flush(lane: string): void {
    const slots = this.#lanes.get(lane);
    if (!slots) return;
    while (slots[0]?.deliver) slots.shift()!.deliver!();
    if (slots.length === 0) this.#lanes.delete(lane);
  }
}
