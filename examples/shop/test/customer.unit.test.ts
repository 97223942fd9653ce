import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageOf } from 'ledgerflow';
import { customer, customerEvents } from '../domain/customer';
import { deciderSpec } from 'ledgerflow/testing';

type CustomerEvent = MessageOf<typeof customerEvents>;
const { given } = deciderSpec(customer);

const registered: CustomerEvent = { type: 'CustomerRegistered', payload: { name: 'Ada Lovelace', email: 'ada@example.com' } };
const deactivated: CustomerEvent = { type: 'CustomerDeactivated', payload: {} };

describe('customer decider', () => {
  describe('not registered', () => {
    it('registers with a name and an email', () => {
      given().when({ type: 'register', payload: { name: 'Ada Lovelace', email: 'ada@example.com' } }).then([registered]);
    });

    it('refuses anything else with CUSTOMER_NOT_REGISTERED', () => {
      given().when({ type: 'rename', payload: { name: 'Ada' } }).thenRejects('CUSTOMER_NOT_REGISTERED');
      given().when({ type: 'deactivate', payload: {} }).thenRejects('CUSTOMER_NOT_REGISTERED');
    });

    it('validates the email before anything is decided', () => {
      assert.equal(customer.commands.register.safeParse({ name: 'Ada', email: 'not-an-email' }).success, false);
      assert.equal(customer.commands.register.safeParse({ name: ' ', email: 'ada@example.com' }).success, false);
    });
  });

  describe('registered and active', () => {
    it('refuses registering twice with CUSTOMER_ALREADY_REGISTERED', () => {
      given(registered).when({ type: 'register', payload: { name: 'Other', email: 'o@example.com' } }).thenRejects('CUSTOMER_ALREADY_REGISTERED');
    });

    it('renames, and decides nothing for the same name', () => {
      given(registered).when({ type: 'rename', payload: { name: 'Ada King' } }).then([{ type: 'CustomerRenamed', payload: { name: 'Ada King' } }]);
      given(registered).when({ type: 'rename', payload: { name: 'Ada Lovelace' } }).thenNothingHappens();
    });

    it('deactivates; reactivating an active customer is refused', () => {
      given(registered).when({ type: 'deactivate', payload: {} }).then([deactivated]);
      given(registered).when({ type: 'reactivate', payload: {} }).thenRejects('CUSTOMER_ALREADY_ACTIVE');
    });
  });

  describe('inactive', () => {
    it('is inactive, reactivates, and refuses a second deactivation', () => {
      assert.equal(given(registered, deactivated).state().status, 'inactive');
      given(registered, deactivated).when({ type: 'reactivate', payload: {} }).then([{ type: 'CustomerReactivated', payload: {} }]);
      given(registered, deactivated).when({ type: 'deactivate', payload: {} }).thenRejects('CUSTOMER_ALREADY_INACTIVE');
    });
  });
});
