// How long each launch (POST /lti/launch) takes and how it ends, told to whoever counts launches
// (the service's metrics) through a callback: lti/ knows nothing of Prometheus.
import type { RequestHandler, Response } from 'express';

/** `ok`: the class page (or another 2xx/3xx answer); `refused`: a 4xx page; `error`: a 5xx, or no complete answer. */
export type LaunchOutcome = 'ok' | 'refused' | 'error';

export type LaunchObserver = (outcome: LaunchOutcome, seconds: number) => void;

const CONTINUES = Symbol('launch continues');

/**
 * Marks an answer that is a step of a launch rather than its end (the page that reads the login's
 * proof from platform storage and posts the launch again): it is not counted; the repost is.
 */
export function launchContinues(res: Response): void {
  (res.locals as Record<symbol, unknown>)[CONTINUES] = true;
}

/** Times every launch request from its arrival to the end of the answer. */
export function timeLaunches(observe: LaunchObserver): RequestHandler {
  return (_req, res, next) => {
    const started = performance.now();
    let told = false;
    const tell = () => {
      if (told) return;
      told = true;
      if ((res.locals as Record<symbol, unknown>)[CONTINUES] === true) return;
      const status = res.statusCode;
      const outcome: LaunchOutcome = !res.writableFinished || status >= 500 ? 'error' : status >= 400 ? 'refused' : 'ok';
      try {
        observe(outcome, (performance.now() - started) / 1000);
      } catch {
        // counting must never break a launch
      }
    };
    res.once('finish', tell);
    res.once('close', tell);
    next();
  };
}
