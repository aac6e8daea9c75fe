// Chooses and starts the SFU engine. MEDIA_ENGINE=auto (the default) runs mediasoup whenever its
// worker starts on this machine and werift otherwise; an explicit choice is kept or fails loudly.
import { availableParallelism } from 'node:os';
import type { EngineName, MediaEngine } from './engine.ts';
import { describeCause } from './errors.ts';
import { MediasoupEngine } from './mediasoup/engine.ts';
import { WeriftEngine } from './server.ts';
import type { MediaServerOptions } from './types.ts';

export type EngineChoice = 'auto' | EngineName;

export interface StartedEngine {
  media: MediaEngine;
  /** Why this engine runs, for the start-up log. */
  reason: string;
}

/**
 * Starts the engine asked for. `workers` undefined: mediasoup runs one worker per core, werift
 * keeps everything on the main thread; a number means mediasoup workers or werift subscriber
 * threads.
 */
export async function startMediaEngine(choice: EngineChoice, options: MediaServerOptions): Promise<StartedEngine> {
  if (choice === 'werift') return { media: new WeriftEngine(options), reason: 'MEDIA_ENGINE=werift' };
  const workers = options.workers ?? availableParallelism();
  try {
    const media = await MediasoupEngine.start({ ...options, workers: Math.max(1, workers) });
    return { media, reason: `${choice === 'mediasoup' ? 'MEDIA_ENGINE=mediasoup' : 'its worker runs on this machine (MEDIA_ENGINE=auto)'}; ${Math.max(1, workers)} worker${workers === 1 ? '' : 's'}` };
  } catch (error) {
    if (choice === 'mediasoup') throw new Error(`MEDIA_ENGINE=mediasoup, but mediasoup's worker could not start: ${describeCause(error)}. Install it (README, "Media engines") or set MEDIA_ENGINE=auto.`, { cause: error });
    const media = new WeriftEngine(options);
    return { media, reason: `mediasoup's worker could not start here (${describeCause(error)}), so werift runs instead (MEDIA_ENGINE=auto)` };
  }
}
