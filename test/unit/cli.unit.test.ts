import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandHelp, commands, parseInvocation, UsageError, type CommandName } from '../../cli/args';
import { formatGaps, formatSetup, progressBar } from '../../cli/format';

const usageError = (argv: string[]) => assert.throws(() => parseInvocation(argv), UsageError);

describe('the CLI arguments', () => {
  it('gives the overview for no command, --help and help, and every command its own help', () => {
    for (const argv of [[], ['--help'], ['-h'], ['help']]) {
      const help = parseInvocation(argv);
      assert.equal(help.kind, 'help');
      assert.match(help.kind === 'help' ? help.text : '', /^usage: ledgerflow <command>/);
    }
    for (const name of Object.keys(commands) as CommandName[]) {
      for (const argv of [[name, '--help'], [name, '-h'], ['help', name], [name, 'x', '--help']]) {
        const help = parseInvocation(argv);
        assert.deepEqual(help, { kind: 'help', text: commandHelp(name) });
      }
      assert.match(commandHelp(name), new RegExp(`^usage: ledgerflow ${name}`));
      assert.match(commandHelp(name), /--json/);
      assert.match(commandHelp(name), /exit codes: 0 done, 1 failed.*, 2 usage/);
    }
  });

  it('refuses unknown commands and options, missing and extra arguments, bad numbers', () => {
    usageError(['bogus']);
    usageError(['--json']);
    usageError(['help', 'bogus']);
    usageError(['status', '--bogus']);
    usageError(['status', 'extra']);
    usageError(['parked']);
    usageError(['rebuild']);
    usageError(['send', 'customer', 'ada']);
    usageError(['send', 'customer', 'ada', 'register', '{}', 'extra']);
    usageError(['send', 'customer', 'ada', 'register', '--command-id']);
    usageError(['setup', '--dry-run=yes']);
    usageError(['status', '--timeout', 'soon']);
    usageError(['status', '--timeout', '0']);
  });

  it('parses a command with its arguments and options in any order', () => {
    assert.deepEqual(parseInvocation(['send', 'customer', '--command-id', 'k1', 'ada', 'register', '{"name":"Ada"}', '--json']), {
      kind: 'run',
      command: 'send',
      args: ['customer', 'ada', 'register', '{"name":"Ada"}'],
      json: true,
      timeoutMs: 5000,
      options: { 'command-id': 'k1', json: true },
    });
    const setup = parseInvocation(['setup', '--dry-run', '--timeout', '2.5']);
    assert.equal(setup.kind === 'run' && setup.options['dry-run'], true);
    assert.equal(setup.kind === 'run' && setup.timeoutMs, 2500);
  });
});

describe('the CLI output', () => {
  it('draws a progress bar from a rebuild status', () => {
    const line = progressBar({ generation: 3, done: 420, total: 1000, eventsPerSecond: 1500, etaSeconds: 1, held: null }, 10);
    assert.equal(line, '[████░░░░░░]  42.0%  420/1000 events  1500 events/s  1s left');
    assert.match(progressBar({ generation: 3, done: 0, total: null, eventsPerSecond: 0, etaSeconds: null, held: null }), /^\[counting events…\]  0\/\? events/);
  });

  it('names the aggregates whose history a held rebuild lacks, and counts the rest', () => {
    const gaps = [{ aggregate: 'cart:c1', expected: 1, got: 4, offset: 17 }];
    assert.equal(formatGaps(gaps, 3), '  cart:c1: versions 1..3 missing (the log holds v4 at offset 17)\n  … and 2 more');
    const run = parseInvocation(['rebuild', 'carts', '--accept-gaps']);
    assert.equal(run.kind === 'run' && run.options['accept-gaps'], true);
  });

  it('lists what setup checked and changed, and its verdict', () => {
    const text = formatSetup({ checked: ['Redis answers'], changed: [], ok: true }, false);
    assert.equal(text, 'checked:\n  Redis answers\nchanged:\n  nothing\nready');
    assert.match(formatSetup({ checked: [], changed: ['would register X'], ok: false }, true), /would change:\n {2}would register X\nnot ready: run ledgerflow setup$/);
  });
});
