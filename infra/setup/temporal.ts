/**
 * Temporal: the namespace must exist (setup does not create it) and have the search attributes
 * the workflows set: a workflow task that sets an unknown one fails, so every aggregate's first
 * command would wait forever. The worker checks them too before it starts.
 */
import { Connection as TemporalConnection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import type { Config } from '../../core/config';
import { searchAttributeKeys } from '../../workflows/definitions';
import { sleep, within } from '../deadline';
import type { Logger } from '../logger';
import { cliSearchAttributeType } from '../temporal-dev-server';
import { answerMs, noAnswer, message, SetupProblem, visibleMs, type SetupOptions, type SetupReport } from './report';

/** temporal.api.enums.v1.IndexedValueType by the SDK's type names. */
const indexedValueType: Record<SearchAttributeType, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };
const typeName = (indexed: number) => Object.entries(indexedValueType).find(([, n]) => n === indexed)?.[0] ?? `type ${indexed}`;
type Key = (typeof searchAttributeKeys)[number];
const cliType = (key: Key) => cliSearchAttributeType[key.type];

/** Missing or mistyped search attributes of a namespace, from the operator service. */
export interface SearchAttributeGaps {
  missing: Key[];
  /** Registered with another type: setup cannot change that (Temporal cannot retype an attribute). */
  mistyped: { key: Key; actual: string }[];
}

type OperatorService = TemporalConnection['operatorService'];

export async function searchAttributeGaps(operator: Pick<OperatorService, 'listSearchAttributes'>, namespace: string): Promise<SearchAttributeGaps> {
  const { customAttributes, systemAttributes } = await operator.listSearchAttributes({ namespace });
  const registered = { ...systemAttributes, ...customAttributes } as Record<string, number>;
  const gaps: SearchAttributeGaps = { missing: [], mistyped: [] };
  for (const key of searchAttributeKeys) {
    const actual = registered[key.name];
    if (actual === undefined) gaps.missing.push(key);
    else if (actual !== indexedValueType[key.type]) gaps.mistyped.push({ key, actual: typeName(actual) });
  }
  return gaps;
}

/** What the worker says when the namespace is not ready: what is missing and the command that fixes it. */
export function describeGaps(gaps: SearchAttributeGaps, config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>): string | null {
  if (gaps.missing.length === 0 && gaps.mistyped.length === 0) return null;
  const where = `Temporal namespace '${config.TEMPORAL_NAMESPACE}' at ${config.TEMPORAL_ADDRESS}`;
  const lines: string[] = [];
  if (gaps.missing.length > 0) {
    lines.push(
      `${where} lacks the search attributes Ledgerflow's workflows set: ${gaps.missing.map((k) => `${k.name} (${cliType(k)})`).join(', ')}.`,
      `Register them with:  ledgerflow setup   (npm run ledgerflow -- setup; it also checks RabbitMQ and Redis)`,
      `or with the Temporal CLI:  temporal operator search-attribute create --namespace ${config.TEMPORAL_NAMESPACE} ${gaps.missing.map((k) => `--name ${k.name} --type ${cliType(k)}`).join(' ')}`,
    );
  }
  for (const { key, actual } of gaps.mistyped) {
    lines.push(`${where} has the search attribute ${key.name} as ${actual}; Ledgerflow needs ${key.type}. Temporal cannot retype it: use another namespace.`);
  }
  return lines.join('\n');
}

/** The namespace lacks what the workflows need; the message names it and the command that fixes it. */
export class ClusterNotReadyError extends Error {
  override readonly name = 'ClusterNotReadyError';
}

/** gRPC PERMISSION_DENIED and UNIMPLEMENTED: a server (or Temporal Cloud key) that does not let us list them. */
const unlistable = new Set([7, 12]);

/**
 * What the worker runs before it starts: throws ClusterNotReadyError when a search attribute is
 * missing or mistyped. Where listing them is not allowed, it warns and lets the worker start.
 */
export async function assertSearchAttributes(
  operator: Pick<OperatorService, 'listSearchAttributes'>,
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>,
  log?: Logger,
): Promise<void> {
  let gaps: SearchAttributeGaps;
  try {
    gaps = await searchAttributeGaps(operator, config.TEMPORAL_NAMESPACE);
  } catch (error) {
    if (!unlistable.has((error as { code?: number }).code ?? -1)) throw error;
    log?.warn({ err: error }, 'cannot list the namespace\'s search attributes: starting without checking them (`ledgerflow setup --dry-run` checks them with more rights)');
    return;
  }
  const problem = describeGaps(gaps, config);
  if (problem) throw new ClusterNotReadyError(problem);
}

export async function setupTemporal(config: Config, report: SetupReport, { dryRun, log }: SetupOptions) {
  const namespace = config.TEMPORAL_NAMESPACE;
  const connection = await within(answerMs, TemporalConnection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: answerMs }), noAnswer(`Temporal at ${config.TEMPORAL_ADDRESS}`));
  try {
    try {
      await within(answerMs, connection.workflowService.describeNamespace({ namespace }), noAnswer(`Temporal at ${config.TEMPORAL_ADDRESS}`));
    } catch (error) {
      throw new SetupProblem(`namespace '${namespace}' not found at ${config.TEMPORAL_ADDRESS} (${message(error)}); create it first: temporal operator namespace create --namespace ${namespace} --retention 30d`);
    }
    report.checked.push(`Temporal namespace '${namespace}' at ${config.TEMPORAL_ADDRESS}`);

    const gaps = await within(answerMs, searchAttributeGaps(connection.operatorService, namespace), noAnswer('listing search attributes'));
    const missing = new Set(gaps.missing.map((k) => k.name));
    for (const key of searchAttributeKeys) {
      if (!missing.has(key.name) && !gaps.mistyped.some((m) => m.key.name === key.name)) report.checked.push(`Temporal search attribute ${key.name} (${cliType(key)}) is registered`);
    }
    for (const { key, actual } of gaps.mistyped) {
      report.ok = false;
      report.checked.push(`Temporal search attribute ${key.name} is registered as ${actual}, not ${key.type}: Temporal cannot retype it; use another namespace`);
    }
    if (gaps.missing.length === 0) return;
    const names = gaps.missing.map((k) => `${k.name} (${cliType(k)})`);
    if (dryRun) {
      report.changed.push(...names.map((n) => `would register Temporal search attribute ${n} in namespace '${namespace}'`));
      return;
    }
    log?.info({ searchAttributes: names, namespace }, 'registering search attributes');
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(gaps.missing.map((k) => [k.name, indexedValueType[k.type]])),
    });
    // Visible to the operator service before we say so (SQL visibility registers them in a background task).
    const deadline = Date.now() + visibleMs;
    for (;;) {
      const after = await searchAttributeGaps(connection.operatorService, namespace);
      if (after.missing.length === 0) break;
      if (Date.now() > deadline) throw new SetupProblem(`registered ${names.join(', ')} but ${after.missing.map((k) => k.name).join(', ')} still missing after ${visibleMs / 1000}s`);
      await sleep(250);
    }
    report.changed.push(...names.map((n) => `registered Temporal search attribute ${n} in namespace '${namespace}'`));
  } finally {
    await connection.close();
  }
}
