// Metrics: what the tool counts for Prometheus. The service owns one Metrics; /metrics serves it.
export { countParticipants, Metrics } from './metrics.ts';
export type { DecisionTrigger, LaunchOutcome, MetricsSources } from './metrics.ts';
