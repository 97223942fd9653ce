import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { callErrorFromStatus } from '@grpc/grpc-js/build/src/call';
import { Client, Connection, ServiceError, WithStartWorkflowOperation, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { anyCause, busyForAMoment, isClosedWorkflow, rejectionOf, temporalAway } from '../../commands/failures';
import { engineCodes } from '../../core/errors';
import { freePort } from '../../infra/net';

/** An error as grpc-js makes it for a call that ended with `code`. */
const grpcError = (code: status, details: string) => callErrorFromStatus({ code, details, metadata: new Metadata() }, '');
/** How the validator's refusal reaches the client: the update failed with an ApplicationFailure of the code's type. */
const refused = (type: string, message = `refused: ${type}`) => new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.nonRetryable(message, type));

const later = () => Date.now() + 60_000;

describe('what a failed delivery means', () => {
  describe("the aggregate's validator refused the update", () => {
    for (const code of [engineCodes.AGGREGATE_MAILBOX_FULL, engineCodes.AGGREGATE_BACKLOG_FULL, engineCodes.AGGREGATE_HANDING_OVER]) {
      it(`${code} is UNAVAILABLE with that code and message (retryable)`, () => {
        assert.deepEqual(rejectionOf(refused(code, 'the mailbox holds 500 commands'), later()), { kind: 'UNAVAILABLE', code, message: 'the mailbox holds 500 commands' });
      });
    }

    it('COMMAND_TOO_LARGE, and an update Temporal found invalid, are INVALID_COMMAND (not retryable)', () => {
      assert.deepEqual(rejectionOf(refused(engineCodes.COMMAND_TOO_LARGE, 'over 16 KB'), later()), { kind: 'INVALID_COMMAND', code: engineCodes.COMMAND_TOO_LARGE, message: 'over 16 KB' });
      assert.equal(rejectionOf(refused('INVALID_UPDATE'), later())?.kind, 'INVALID_COMMAND');
    });

    it('another failure type, before the deadline, is unexpected', () => {
      assert.equal(rejectionOf(refused('SOMETHING_ELSE'), later()), null);
    });

    it('only a hand-over is worth sending again at once', () => {
      assert.equal(busyForAMoment(refused(engineCodes.AGGREGATE_HANDING_OVER)), true);
      assert.equal(busyForAMoment(refused(engineCodes.AGGREGATE_MAILBOX_FULL)), false);
    });
  });

  describe('Temporal answered with a gRPC status', () => {
    it("RESOURCE_EXHAUSTED (the workflow's 10 updates in flight) is worth sending again at once, bare or wrapped", () => {
      const exhausted = grpcError(status.RESOURCE_EXHAUSTED, 'limit on number of concurrent in-flight updates has been reached');
      assert.equal(busyForAMoment(exhausted), true);
      assert.equal(busyForAMoment(new ServiceError('Failed to start update', { cause: exhausted })), true);
      assert.equal(busyForAMoment(grpcError(status.UNAVAILABLE, 'away')), false);
    });

    it('UNAVAILABLE is TEMPORAL_UNAVAILABLE; DEADLINE_EXCEEDED is COMMAND_TIMEOUT; both mean Temporal is away', () => {
      const unavailable = new ServiceError('Failed to start update', { cause: grpcError(status.UNAVAILABLE, 'connection refused') });
      assert.equal(rejectionOf(unavailable, later())?.code, engineCodes.TEMPORAL_UNAVAILABLE);
      const deadline = new ServiceError('Failed to start update', { cause: grpcError(status.DEADLINE_EXCEEDED, 'deadline exceeded') });
      assert.equal(rejectionOf(deadline, later())?.code, engineCodes.COMMAND_TIMEOUT);
      assert.equal(temporalAway(unavailable), true);
      assert.equal(temporalAway(deadline), true);
      assert.equal(temporalAway(grpcError(status.INVALID_ARGUMENT, 'bad')), false);
      assert.equal(rejectionOf(grpcError(status.INVALID_ARGUMENT, 'bad'), later()), null);
    });
  });

  describe('from a client whose Temporal is not there', () => {
    let connections: Connection[];
    /** Without the SDK's retry interceptor: a call fails at once rather than after ~20 s of retries. */
    let direct: Client;
    /** With it, as the bus's client: a call retries until its deadline. */
    let retrying: Client;
    before(async () => {
      const address = `127.0.0.1:${await freePort()}`;
      connections = [Connection.lazy({ address, interceptors: [] }), Connection.lazy({ address })];
      [direct, retrying] = connections.map((connection) => new Client({ connection })) as [Client, Client];
    });
    after(() => Promise.all(connections.map((c) => c.close())));

    it('a call fails with UNAVAILABLE: TEMPORAL_UNAVAILABLE, and the API says Temporal is away', async () => {
      const error = await direct.workflow
        .getHandle('account:a-1')
        .describe()
        .then(() => assert.fail('described a workflow without Temporal'), (e: unknown) => e);
      assert.equal(temporalAway(error), true);
      assert.deepEqual(rejectionOf(error, later()), { kind: 'UNAVAILABLE', code: engineCodes.TEMPORAL_UNAVAILABLE, message: 'Temporal is unavailable; retry with the same commandId' });
    });

    it("an update-with-start that outlives the bus's deadline: COMMAND_TIMEOUT, retryable", async () => {
      const deadline = Date.now() + 300;
      const start = new WithStartWorkflowOperation('aggregate', { workflowId: 'account:a-1', taskQueue: 'ledgerflow', workflowIdConflictPolicy: 'USE_EXISTING' });
      const error = await retrying
        .withDeadline(deadline, () => retrying.workflow.executeUpdateWithStart('submit', { args: [[]], startWorkflowOperation: start }))
        .then(() => assert.fail('an update without Temporal'), (e: unknown) => e);
      assert.ok(error instanceof WorkflowUpdateRPCTimeoutOrCancelledError, `got ${String(error)}`);
      assert.equal(rejectionOf(error, deadline)?.code, engineCodes.COMMAND_TIMEOUT);
      assert.equal(rejectionOf(error, deadline)?.kind, 'UNAVAILABLE');
    });
  });

  describe('the workflow is closed', () => {
    it('starting it was refused, or it was not found, however deeply wrapped', () => {
      const started = new WorkflowExecutionAlreadyStartedError('Workflow execution already started', 'account:a-1', 'aggregate');
      const notFound = new WorkflowNotFoundError('workflow not found', 'account:a-1', undefined);
      assert.equal(isClosedWorkflow(started), true);
      assert.equal(isClosedWorkflow(new ServiceError('Update-with-start failed', { cause: started })), true);
      assert.equal(isClosedWorkflow(new Error('outer', { cause: new ServiceError('inner', { cause: notFound }) })), true);
      assert.equal(isClosedWorkflow(refused(engineCodes.AGGREGATE_MAILBOX_FULL)), false);
    });
  });

  it('an unexpected failure once the deadline has passed is COMMAND_TIMEOUT (it may still be applied)', () => {
    const deadline = Date.now();
    assert.equal(rejectionOf(new Error('socket hang up'), deadline, deadline)?.code, engineCodes.COMMAND_TIMEOUT);
    assert.equal(rejectionOf(new Error('socket hang up'), deadline, deadline - 1), null);
  });
});

describe('the cause chain', () => {
  it('is walked from the error itself to its last cause', () => {
    const inner = new RangeError('inner');
    const chain = new Error('outer', { cause: new Error('middle', { cause: inner }) });
    const seen: unknown[] = [];
    assert.equal(
      anyCause(chain, (cause) => (seen.push(cause), false)),
      false,
    );
    assert.deepEqual(
      seen.map((e) => (e as Error).message),
      ['outer', 'middle', 'inner'],
    );
    assert.equal(anyCause(chain, (cause) => cause instanceof RangeError), true);
  });

  it('ends at a cause that is not an Error, and at a loop', () => {
    assert.equal(anyCause(new Error('outer', { cause: 'a string' }), (cause) => cause === 'a string'), true);
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    let visits = 0;
    assert.equal(
      anyCause(a, () => ((visits += 1), false)),
      false,
    );
    assert.equal(visits, 2);
  });
});
