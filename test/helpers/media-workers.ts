// The media suites run over the default in-process SFU; MEDIA_WORKERS=N in the test's environment
// runs the same suites with N subscriber worker threads (server/media/worker-pool.ts) instead.
/** The number of subscriber worker threads the media suites give the SFU (0 unless MEDIA_WORKERS is set). */
export const mediaWorkers: number = Number(process.env.MEDIA_WORKERS || 0);

/** Settings (as environment strings) that pass mediaWorkers on to a started service. */
export const mediaWorkerSettings: Record<string, string> = mediaWorkers > 0 ? { MEDIA_WORKERS: String(mediaWorkers) } : {};
