export { createApp } from './app.ts';
export type { AppDependencies, Readiness } from './app.ts';
export { HttpError } from './errors.ts';
export { isPrivateAddress, type MetricsEndpoint } from './metrics.ts';
export { createHostApi } from './host-api.ts';
export { answerClientErrors } from './client-errors.ts';
