// Metrics: what the tool counts for Prometheus. The service owns one Metrics; /metrics serves it.
export { Metrics, type LaunchOutcome, type MetricsSources, type Participants } from './metrics.ts';
