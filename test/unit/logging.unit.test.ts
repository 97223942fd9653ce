import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, temporalLogger } from '../../infra/logger';

function capture() {
  const lines: Record<string, any>[] = [];
  return { lines, log: createLogger('test', 'debug', { write: (line: string) => void lines.push(JSON.parse(line)) }) };
}

describe('logging', () => {
  it('logs an error under err with its type, message and stack', () => {
    const { lines, log } = capture();
    const error = new TypeError('boom', { cause: new Error('underneath') });
    log.error({ err: error }, 'failed');
    const [line] = lines;
    assert.equal(line!.msg, 'failed');
    assert.equal(line!.err.type, 'TypeError');
    assert.match(line!.err.message, /^boom/);
    assert.match(line!.err.stack, /TypeError: boom\n\s+at /);
    assert.match(JSON.stringify(line!.err), /underneath/);
  });

  it('serializes a stray `error` key the same way, not as {}', () => {
    const { lines, log } = capture();
    log.warn({ error: new Error('stray') }, 'failed');
    assert.match(lines[0]!.error.stack, /Error: stray\n\s+at /);
  });

  it("routes the Temporal SDK's lines into pino, its `error` under err", () => {
    const { lines, log } = capture();
    const sdk = temporalLogger(log);
    sdk.warn('Activity failed', { error: new Error('broker away'), activityType: 'publishEvents', workflowId: 'cart:1' });
    sdk.debug('polling', { sdkComponent: 'worker' });
    sdk.log('ERROR', 'workflow task failed', { workflowId: 'cart:2' });
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.component]),
      [
        [40, 'Activity failed', 'temporal'],
        [20, 'polling', 'temporal'],
        [50, 'workflow task failed', 'temporal'],
      ],
    );
    assert.equal(lines[0]!.activityType, 'publishEvents');
    assert.equal(lines[0]!.workflowId, 'cart:1');
    assert.match(lines[0]!.err.stack, /Error: broker away\n\s+at /);
    assert.equal(lines[0]!.error, undefined);
  });
});
