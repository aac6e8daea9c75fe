// How the widget keeps a media connection whose path was lost while its socket is up: a
// connection that fails, or stays disconnected for DISCONNECTED_RESTART_MS, is first restarted
// (ICE restart: the connection, its DTLS and the decoders stay) where the SFU can, and replaced by
// a fresh one if that does not bring it back within ICE_RESTART_GRACE_MS; where it cannot, it is
// replaced at once.

/** Disconnected this long, a connection is recovered (ICE consent has failed; waiting for 'failed' takes ~30 s). */
const DISCONNECTED_RESTART_MS = 4_000;
/** After an ICE restart, how long a connection has to come back before it is replaced. */
const ICE_RESTART_GRACE_MS = 8_000;

export interface Recovery {
  /** The connection is still the session's, and worth saving (the session is open, the socket up). */
  current(): boolean;
  /** The SFU can restart ICE. */
  iceRestart(): boolean;
  /** Restarts ICE on this connection (a new offer with fresh credentials). */
  restartIce(): void;
  /** Replaces the connection with a fresh one. */
  fresh(): void;
  /** Its state changed (the page shows it). */
  changed(): void;
}

/** Follows a connection's state and recovers it as above; answers a function that stops its timer. */
export function recoverConnection(pc: RTCPeerConnection, recovery: Recovery): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** An ICE restart was tried in this outage: the next step is a fresh connection. */
  let restarted = false;
  const after = (ms: number, then: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(then, ms);
  };
  const recover = () => {
    if (!recovery.iceRestart() || restarted) return recovery.fresh();
    restarted = true;
    recovery.restartIce();
    after(ICE_RESTART_GRACE_MS, () => pc.connectionState !== 'connected' && recovery.current() && recovery.fresh());
  };
  pc.addEventListener('connectionstatechange', () => {
    recovery.changed();
    const state = pc.connectionState;
    if (state === 'connected') {
      clearTimeout(timer);
      restarted = false;
    } else if (recovery.current()) {
      if (state === 'failed') recover();
      else if (state === 'disconnected' && !restarted) after(DISCONNECTED_RESTART_MS, () => pc.connectionState === 'disconnected' && recovery.current() && recover());
    }
  });
  return () => clearTimeout(timer);
}
