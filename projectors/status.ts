/** What a projection's owner reports every tick: position, lag, throughput, parked, rebuild. */
export interface ProjectionStatus {
  name: string;
  /** The instance that owns it; null when nobody does (the status is then "stalled" to readers). */
  owner: string | null;
  state: 'live' | 'rebuilding' | 'standby' | 'stalled';
  generation: number | null;
  version: number;
  /** Stream offset of the last event applied (or skipped); null before the first. */
  checkpoint: number | null;
  /** Newest offset in the stream, as last probed; null if unknown. */
  tail: number | null;
  lagEvents: number | null;
  /** Age of the oldest delivered, unapplied event. */
  lagSeconds: number;
  eventsPerSecond: number;
  applied: number;
  duplicatesSkipped: number;
  gaps: number;
  parked: number;
  rebuild: { generation: number; done: number; total: number | null; eventsPerSecond: number; etaSeconds: number | null } | null;
  updatedAt: string;
}
