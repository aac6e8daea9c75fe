// Metrics: what the tool counts for Prometheus. The service owns one Metrics; /metrics serves it.
export { Metrics } from './metrics.ts';
