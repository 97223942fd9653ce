/** The payout process: sends a withdrawal's money through the bank, then confirms it on the account. */
import { proxyActivities } from '@temporalio/workflow';
import { processCommands } from 'ledgerflow/workflow';
import type { BankActivities } from './bank';

export interface PayoutInput {
  accountId: string;
  entryId: string;
  amountCents: number;
  correlationId: string;
}

const { sendPayout } = proxyActivities<BankActivities>({ startToCloseTimeout: '15 seconds' });

export async function payoutProcess(input: PayoutInput): Promise<{ reference: string }> {
  const { reference } = await sendPayout({ idempotencyKey: `${input.accountId}.${input.entryId}`, amountCents: input.amountCents });
  await processCommands({ correlationId: input.correlationId }).send('account', input.accountId, 'confirmPayout', { entryId: input.entryId, reference });
  return { reference };
}
