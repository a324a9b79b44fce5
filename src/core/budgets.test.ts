// Budgets per connection and per user: refusals say which limit, waiters wake, a closed connection gives all back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BudgetExceededError, ResourceBudget, ResourceLedger } from './budgets.js';

describe('ResourceBudget', () => {
  it('refuses past the connection limit and past the user limit across connections', () => {
    const budget = new ResourceBudget('open handles', { perConnection: 3, perUser: 5 });
    const first = budget.open('ann');
    const second = budget.open('ann');
    const other = budget.open('bob');
    for (let i = 0; i < 3; i++) first.take(1);
    assert.throws(
      () => first.take(1),
      (err: Error) => {
        assert.ok(err instanceof BudgetExceededError);
        assert.match(err.message, /on this connection \(limit 3\)/);
        return true;
      },
    );
    second.take(1);
    second.take(1);
    assert.throws(() => second.take(1), /for user ann across connections \(limit 5\)/);
    assert.equal(budget.usedBy('ann'), 5);
    // Another user is not affected.
    for (let i = 0; i < 3; i++) other.take(1);
    first.give(1);
    second.take(1);
    assert.equal(budget.usedBy('ann'), 5);
  });

  it('lets an empty account take one oversized amount, and close() gives everything back', () => {
    const budget = new ResourceBudget('buffered reply bytes', { perConnection: 100, perUser: 150 });
    const a = budget.open('ann');
    assert.equal(a.tryTake(500), true);
    assert.equal(a.tryTake(1), false);
    const b = budget.open('ann');
    assert.equal(b.tryTake(1), false, 'the user is over budget');
    a.close();
    assert.equal(budget.usedBy('ann'), 0);
    assert.equal(b.tryTake(100), true);
    assert.equal(a.tryTake(1), false, 'a closed account takes nothing');
    a.give(10);
    assert.equal(budget.usedBy('ann'), 100);
  });

  it('wakes a refused account once another connection of the user gives back', async () => {
    const ledger = new ResourceLedger({
      handles: { perConnection: 1, perUser: 1 },
      replyBytes: { perConnection: 10, perUser: 10 },
    });
    const one = ledger.openConnection('ann');
    const two = ledger.openConnection('ann');
    let woken = 0;
    two.replyBytes.onRoom(() => woken++);
    assert.equal(one.replyBytes.tryTake(10), true);
    assert.equal(two.replyBytes.tryTake(5), false);
    one.replyBytes.give(10);
    assert.equal(woken, 0, 'not from inside give()');
    await new Promise((r) => setImmediate(r));
    assert.equal(woken, 1);
    assert.equal(two.replyBytes.tryTake(5), true);
    one.close();
    two.close();
    assert.equal(ledger.replyBytes.usedBy('ann'), 0);
  });
});
