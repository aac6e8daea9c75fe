// A room's chat, questions and polls for its hosts to keep: JSON (everything, nested) or CSV (one
// row per message, question and poll, for a spreadsheet). Hosts see who asked anonymous questions;
// deleted messages are included and marked. Times are ISO 8601, to line up with a recording.
import type { Repositories } from '../db/index.ts';

export interface InteractionExport {
  filename: string;
  contentType: string;
  body: string;
}

interface ExportedRoom {
  room: { id: string; title: string };
  exportedAt: string;
  chat: Array<{ id: number; at: string; userId: string; name: string; role: string; body: string; deletedAt: string | null }>;
  questions: Array<{ id: number; at: string; userId: string; name: string; anonymous: boolean; body: string; state: string; pinned: boolean; votes: number; answeredAt: string | null }>;
  polls: Array<{ id: number; at: string; question: string; state: string; shared: boolean; closedAt: string | null; options: Array<{ text: string; votes: number }> }>;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

async function collect(repos: Repositories, roomId: string): Promise<ExportedRoom> {
  const room = await repos.rooms.get(roomId);
  if (!room) throw new TypeError(`no room ${roomId}`);
  const [chat, questions, polls] = await Promise.all([repos.chat.all(roomId), repos.questions.all(roomId), repos.polls.all(roomId)]);
  return {
    room: { id: room.id, title: room.title },
    exportedAt: new Date().toISOString(),
    chat: chat.map((m) => ({ id: m.id, at: m.createdAt.toISOString(), userId: m.userId, name: m.name, role: m.role, body: m.body, deletedAt: iso(m.deletedAt) })),
    questions: questions.map((q) => ({
      id: q.id,
      at: q.createdAt.toISOString(),
      userId: q.userId,
      name: q.name,
      anonymous: q.anonymous,
      body: q.body,
      state: q.state,
      pinned: q.pinned,
      votes: q.votes,
      answeredAt: iso(q.answeredAt),
    })),
    polls: polls.map((p) => ({
      id: p.id,
      at: p.createdAt.toISOString(),
      question: p.question,
      state: p.state,
      shared: p.shared,
      closedAt: iso(p.closedAt),
      options: p.options.map((text, i) => ({ text, votes: p.counts[i] ?? 0 })),
    })),
  };
}

/** One CSV cell: quoted, and a leading = + - @ made inert so a spreadsheet does not run it as a formula. */
export function csvCell(value: string | number | boolean | null): string {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

const CSV_COLUMNS = ['kind', 'id', 'time', 'user_id', 'name', 'role', 'anonymous', 'text', 'state', 'pinned', 'votes', 'deleted_at', 'answered_at', 'options'] as const;

function toCsv(data: ExportedRoom): string {
  const rows: Array<Array<string | number | boolean | null>> = [[...CSV_COLUMNS]];
  for (const m of data.chat) rows.push(['chat', m.id, m.at, m.userId, m.name, m.role, false, m.body, m.deletedAt ? 'deleted' : '', false, null, m.deletedAt, null, null]);
  for (const q of data.questions) rows.push(['question', q.id, q.at, q.userId, q.name, null, q.anonymous, q.body, q.state, q.pinned, q.votes, null, q.answeredAt, null]);
  for (const p of data.polls) {
    const options = p.options.map((o) => `${o.text}: ${o.votes}`).join(' | ');
    rows.push(['poll', p.id, p.at, null, null, null, false, p.question, p.state, false, p.options.reduce((n, o) => n + o.votes, 0), null, p.closedAt, options]);
  }
  // CRLF and a byte order mark: what spreadsheets expect to read UTF-8 (Chinese names) correctly.
  return `\uFEFF${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/**
 * The room's interaction as a file. Only for the room's hosts: the caller checks the seat (as the
 * room settings routes do). Throws TypeError for a room that does not exist.
 */
export async function exportInteraction(repos: Repositories, roomId: string, format: 'csv' | 'json'): Promise<InteractionExport> {
  const data = await collect(repos, roomId);
  const stamp = data.exportedAt.slice(0, 10);
  if (format === 'json') {
    return { filename: `live-classroom-${roomId}-${stamp}.json`, contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(data, null, 2)}\n` };
  }
  return { filename: `live-classroom-${roomId}-${stamp}.csv`, contentType: 'text/csv; charset=utf-8', body: toCsv(data) };
}
