// The whole contract between the server and the widget over socket.io: the client events (their
// schemas, who may send them, what their answers carry), the server events and the views they
// carry, and the protocol's limits. The widget imports types from here and values from limits.ts.
export { ACTION_RATE, LIMITS, MEDIA_SOURCES, MESSAGE_RATE, PROTOCOL_VERSION } from './limits.ts';
export { CLIENT_EVENTS, clientEvents, parseClientEvent, senderOf } from './events.ts';
export type { ClientEvent, ClientEvents, ClientPayload, ClientReply, Sender } from './events.ts';
export type * from './views.ts';
