// Every client event's handler, in one table typed by the protocol: the compiler refuses a table
// that misses an event or answers with the wrong shape, and an object literal cannot name an event
// twice. Each handler is a call on the participant's class; who may send the event was checked
// before (events.ts).
import type { Repositories } from '../db/index.ts';
import type { ClientEvent, ClientPayload, ClientReply } from '../protocol/index.ts';
import { ClassRefusal, type LiveClass, type Participant, type RecordingLibrary } from '../rooms/index.ts';

/** What a handler may use besides the participant and its class. */
export interface HandlerServices {
  repositories: () => Repositories;
  library: RecordingLibrary;
  /** A fresh seat token for the participant (they live minutes). */
  issueSeat: (participant: Participant) => string;
  /** Tells the room's tabs that the course's recordings (or the room's autoRecord) changed. */
  libraryChanged: (roomId: string) => void;
}

export interface HandlerContext extends HandlerServices {
  participant: Participant;
  liveClass: LiveClass;
}

type Handler<E extends ClientEvent> = (data: ClientPayload<E>, context: HandlerContext) => Promise<ClientReply<E>>;
export type Handlers = { [E in ClientEvent]: Handler<E> };

/** A recording of this class's course, or a refusal. */
async function ofThisCourse({ repositories, library, liveClass }: HandlerContext, recordingId: string): Promise<void> {
  const row = await library.get(recordingId);
  const courseOf = async (roomId: string) => (await repositories().rooms.get(roomId))?.courseId;
  if (!row || (await courseOf(row.roomId)) !== (await courseOf(liveClass.roomId))) throw new ClassRefusal('there is no such recording in this course');
}

export const handlers: Handlers = {
  'class:start': async (_data, { liveClass }) => ({ status: await liveClass.start() }),
  'class:end': async (_data, { liveClass }) => liveClass.end(),
  'stage:add': async ({ userId }, { liveClass, participant }) => ({ grant: (await liveClass.bringOnStage(participant, userId)).grant }),
  'stage:remove': async ({ userId }, { liveClass, participant }) => ({ grant: (await liveClass.takeOffStage(participant, userId)).grant }),
  'seat:refresh': async (_data, { participant, issueSeat }) => ({ seat: issueSeat(participant) }),

  'media:publish': async ({ sdp, sources, restart }, { liveClass, participant }) => {
    await liveClass.live();
    return { sdp: await liveClass.media.publish(participant, sdp, sources, restart === true) };
  },
  'media:unpublish': async (_data, { liveClass, participant }) => {
    await liveClass.media.unpublish(participant);
    return {};
  },
  'media:subscribe': async ({ restart, iceRestart }, { liveClass, participant }) => {
    await liveClass.live();
    return liveClass.media.subscribe(participant, restart === true, iceRestart === true);
  },
  'media:answer': async ({ sdp }, { liveClass, participant }) => {
    await liveClass.media.answer(participant, sdp);
    return {};
  },
  'media:state': async (state, { liveClass, participant }) => {
    liveClass.media.setState(participant, state);
    return {};
  },

  'recording:start': async (_data, { liveClass }) => {
    await liveClass.live();
    return liveClass.recording.start();
  },
  // The recorder tells the room (recording:state, recordings:changed) itself.
  'recording:stop': async (_data, { liveClass }) => liveClass.recording.stop(),
  'recordings:list': async (_data, { repositories, library, liveClass, participant }) => {
    const room = await repositories().rooms.get(liveClass.roomId);
    return { recordings: await library.list(room?.courseId ?? '', participant.userId), autoRecord: room?.autoRecord ?? false };
  },
  'recording:auto': async ({ autoRecord }, { repositories, liveClass, libraryChanged }) => {
    const room = await repositories().rooms.update(liveClass.roomId, { autoRecord });
    if (!room) throw new ClassRefusal('this room no longer exists');
    // Every tab of the room asks recordings:list again, so other hosts' checkboxes follow.
    libraryChanged(liveClass.roomId);
    return { autoRecord: room.autoRecord };
  },
  'recording:rename': async ({ id, title }, context) => {
    await ofThisCourse(context, id);
    await context.library.rename(id, title);
    context.libraryChanged(context.liveClass.roomId);
    return {};
  },
  'recording:delete': async ({ id }, context) => {
    await ofThisCourse(context, id);
    await context.library.remove(id);
    context.libraryChanged(context.liveClass.roomId);
    return {};
  },

  'interaction:sync': async (data, { liveClass, participant }) => liveClass.interaction.sync(participant, data),
  'chat:send': async (data, { liveClass, participant }) => liveClass.interaction.chat(participant, data),
  'chat:delete': async (data, { liveClass, participant }) => liveClass.interaction.deleteMessage(participant, data),
  'chat:mute': async (data, { liveClass, participant }) => liveClass.interaction.mute(participant, data),
  'question:ask': async (data, { liveClass, participant }) => liveClass.interaction.ask(participant, data),
  'question:vote': async (data, { liveClass, participant }) => liveClass.interaction.vote(participant, data),
  'question:answer': async (data, { liveClass, participant }) => liveClass.interaction.answer(participant, data),
  'question:pin': async (data, { liveClass, participant }) => liveClass.interaction.pin(participant, data),
  'hand:raise': async (_data, { liveClass, participant }) => liveClass.interaction.raiseHand(participant),
  'hand:lower': async (data, { liveClass, participant }) => liveClass.interaction.lowerHand(participant, data),
  'hand:bring': async (data, { liveClass, participant }) => liveClass.interaction.bring(participant, data),
  'poll:create': async (data, { liveClass, participant }) => liveClass.interaction.createPoll(participant, data),
  'poll:vote': async (data, { liveClass, participant }) => liveClass.interaction.votePoll(participant, data),
  'poll:close': async (data, { liveClass, participant }) => liveClass.interaction.closePoll(participant, data),
  'poll:share': async (data, { liveClass, participant }) => liveClass.interaction.sharePoll(participant, data),
};

/** Runs the handler of `event` (its payload already validated against its schema). */
export function dispatch<E extends ClientEvent>(event: E, data: ClientPayload<E>, context: HandlerContext): Promise<ClientReply<E>> {
  return (handlers[event] as Handler<E>)(data, context);
}
