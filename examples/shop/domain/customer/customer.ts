import { z } from 'zod';
import { assertNever, defineAggregate, DomainError } from 'ledgerflow';
import { customerEvents, describeCustomer, evolveCustomer, initialCustomer, type CustomerState } from './state';

const name = z.string().trim().min(1, { message: 'must not be empty' }).max(100, { message: 'must be at most 100 characters' });

export const customerCommands = {
  register: z.strictObject({ name, email: z.email({ message: 'must be an email address' }).max(254) }),
  rename: z.strictObject({ name }),
  deactivate: z.strictObject({}),
  reactivate: z.strictObject({}),
};


export const customerErrorCodes = {
  CUSTOMER_ALREADY_REGISTERED: 'CUSTOMER_ALREADY_REGISTERED',
  CUSTOMER_NOT_REGISTERED: 'CUSTOMER_NOT_REGISTERED',
  CUSTOMER_ALREADY_INACTIVE: 'CUSTOMER_ALREADY_INACTIVE',
  CUSTOMER_ALREADY_ACTIVE: 'CUSTOMER_ALREADY_ACTIVE',
} as const;

function requireRegistered(state: CustomerState) {
  if (state.status === 'unregistered') throw new DomainError(customerErrorCodes.CUSTOMER_NOT_REGISTERED, 'the customer is not registered');
}

export const customer = defineAggregate({
  name: 'customer',
  idField: 'customerId',
  events: customerEvents,
  initialState: initialCustomer,
  evolve: evolveCustomer,
  describe: describeCustomer,
  commands: customerCommands,
  errorCodes: Object.values(customerErrorCodes),
  decide(state, command) {
    switch (command.type) {
      case 'register':
        if (state.status !== 'unregistered') throw new DomainError(customerErrorCodes.CUSTOMER_ALREADY_REGISTERED, 'this customer is already registered');
        return [{ type: 'CustomerRegistered', payload: command.payload }];
      case 'rename':
        requireRegistered(state);
        return state.name === command.payload.name ? [] : [{ type: 'CustomerRenamed', payload: command.payload }];
      case 'deactivate':
        requireRegistered(state);
        if (state.status === 'inactive') throw new DomainError(customerErrorCodes.CUSTOMER_ALREADY_INACTIVE, 'the customer is already inactive');
        return [{ type: 'CustomerDeactivated', payload: {} }];
      case 'reactivate':
        requireRegistered(state);
        if (state.status === 'active') throw new DomainError(customerErrorCodes.CUSTOMER_ALREADY_ACTIVE, 'the customer is already active');
        return [{ type: 'CustomerReactivated', payload: {} }];
      default:
        return assertNever(command);
    }
  },

});
