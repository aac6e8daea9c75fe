// The SFU engines the media suites run on: mediasoup where its worker starts here, and werift
// always. Under .ci/run (LC_TEST_REQUIRE_MEDIASOUP=1) a mediasoup that cannot start fails the run
// instead of quietly testing werift alone.
import { MediasoupEngine, WeriftEngine, type EngineName, type MediaEngine, type MediaServerOptions } from '../../server/media/index.ts';

async function mediasoupRuns(): Promise<string | undefined> {
  try {
    const probe = await MediasoupEngine.start({ workers: 1 });
    await probe.close();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const problem = await mediasoupRuns();
if (problem && process.env.LC_TEST_REQUIRE_MEDIASOUP === '1') throw new Error(`mediasoup's worker does not start (${problem}), but LC_TEST_REQUIRE_MEDIASOUP=1 says it must.`);

/** The engines to run a media suite on, mediasoup first. */
export const ENGINES: EngineName[] = problem ? ['werift'] : ['mediasoup', 'werift'];

/** Why mediasoup is left out, if it is. */
export const mediasoupProblem: string | undefined = problem;

/** Starts an engine by name (mediasoup: one worker per `workers`, at least one). */
export async function startEngine(engine: EngineName, options: MediaServerOptions = {}): Promise<MediaEngine> {
  if (engine === 'werift') return new WeriftEngine(options);
  return MediasoupEngine.start({ ...options, workers: Math.max(1, options.workers ?? 1) });
}
