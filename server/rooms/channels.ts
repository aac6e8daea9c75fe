// socket.io rooms ("channels") of a live class. With REDIS_URL they span every node.

/** Everyone admitted to the room. */
export const roomChannel = (roomId: string): string => `room:${roomId}`;
/** The room's hosts: what only they may see (anonymous askers, live poll results, every mute). */
export const hostsChannel = (roomId: string): string => `room:${roomId}:hosts`;
/** Every tab of one participant in the room. */
export const userChannel = (roomId: string, userId: string): string => `room:${roomId}:user:${userId}`;
