/** The payout process's activity: the bank that sends the money (a stand-in that answers at once). */
export function createBankActivities() {
  return {
    /** Idempotent by key: the same payout sent again gets the same reference. */
    async sendPayout(payout: { idempotencyKey: string; amountCents: number }): Promise<{ reference: string }> {
      return { reference: `bank-${payout.idempotencyKey}` };
    },
  };
}

export type BankActivities = ReturnType<typeof createBankActivities>;
