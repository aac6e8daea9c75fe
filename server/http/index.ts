export { createApp } from './app.ts';
export type { AppDependencies, Readiness } from './app.ts';
export { HttpError } from './errors.ts';
export { createHostApi } from './host-api.ts';
