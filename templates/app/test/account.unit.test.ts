/** The account's rules as given(events).when(command).then(events), grouped by the state the account is in. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deciderSpec } from 'ledgerflow/testing';
import { account, type AccountEvent } from '../domain/account';

const { given } = deciderSpec(account);

const opened: AccountEvent = { type: 'AccountOpened', payload: { owner: 'ada' } };
const deposited = (amountCents: number): AccountEvent => ({ type: 'MoneyDeposited', payload: { amountCents } });

describe('account decider', () => {
  describe('not opened', () => {
    it('opens for an owner', () => {
      given().when({ type: 'open', payload: { owner: 'ada' } }).then([opened]);
    });

    it('refuses money before it is opened with ACCOUNT_NOT_OPEN', () => {
      given().when({ type: 'deposit', payload: { amount: 10 } }).thenRejects('ACCOUNT_NOT_OPEN');
      given().when({ type: 'withdraw', payload: { amount: 10 } }).thenRejects('ACCOUNT_NOT_OPEN');
    });

    it('validates amounts before anything is decided', () => {
      assert.equal(account.commands.deposit.safeParse({ amount: 0 }).success, false);
      assert.equal(account.commands.deposit.safeParse({ amount: 1.005 }).success, false);
      assert.equal(account.commands.deposit.safeParse({ amount: 19.99 }).success, true);
    });
  });

  describe('open', () => {
    it('refuses opening twice with ACCOUNT_ALREADY_OPEN', () => {
      given(opened).when({ type: 'open', payload: { owner: 'bob' } }).thenRejects('ACCOUNT_ALREADY_OPEN');
    });

    it('takes deposits in exact cents', () => {
      given(opened).when({ type: 'deposit', payload: { amount: 0.1 } }).then([deposited(10)]);
      assert.equal(given(opened, deposited(10), deposited(20)).state().balanceCents, 30);
    });

    it('withdraws up to the balance and refuses more with INSUFFICIENT_FUNDS', () => {
      given(opened, deposited(2500)).when({ type: 'withdraw', payload: { amount: 25 } }).then([{ type: 'MoneyWithdrawn', payload: { amountCents: 2500 } }]);
      given(opened, deposited(2500)).when({ type: 'withdraw', payload: { amount: 25.01 } }).thenRejects('INSUFFICIENT_FUNDS');
    });
  });
});
