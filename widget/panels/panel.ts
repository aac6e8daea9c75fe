// What every panel of <lc-interaction> is given: who the user is, their language, and a way to send
// a client event (the panel element shows refusals). Panels import this, never their element.
import type { Ack, ClientEvent, ClientPayload, ClientReply, Grant } from '../../server/protocol/index.ts';
import type { Translate } from '../i18n.ts';

/** Sends a client event; the answer is typed by the protocol, and a refusal is already shown. */
export type Send = <E extends ClientEvent>(event: E, payload: ClientPayload<E>) => Promise<Ack<ClientReply<E>>>;

export interface Panel {
  userId: string;
  grant: Grant | undefined;
  t: Translate;
  send: Send;
  /** A request is on its way: its buttons wait. */
  busy: boolean;
}

export function timeOf(at: string, t: Translate): string {
  return new Date(at).toLocaleTimeString(t('timeLocale'), { hour: '2-digit', minute: '2-digit' });
}
