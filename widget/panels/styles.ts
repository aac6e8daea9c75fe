// Styles shared by the interaction panels (inside <lc-interaction>'s shadow root).
import { css } from 'lit';

export const panelStyles = css`
  .scroll { flex: 1; overflow-y: auto; margin: 0; padding: .5rem .75rem; list-style: none; min-height: 8rem; }
  .empty { color: #59636e; padding: 1rem .75rem; margin: 0; }
  .hint { color: #59636e; font-size: .875rem; margin: .25rem 0 .5rem; }
  form.compose { display: flex; flex-direction: column; gap: .4rem; padding: .6rem .75rem; border-top: 1px solid #d1d9e0; background: #f6f8fa; }
  form.compose .row { display: flex; gap: .5rem; align-items: flex-end; }
  form.compose textarea, form.compose input[type="text"] { flex: 1; font: inherit; font-size: .95rem; padding: .4rem .5rem; border: 1px solid #d1d9e0; border-radius: 6px; resize: vertical; min-width: 0; }
  label.field { display: flex; flex-direction: column; gap: .15rem; font-size: .8rem; color: #59636e; margin-bottom: .35rem; }
  label.field input { font: inherit; font-size: .95rem; color: #1f2328; padding: .3rem .5rem; border: 1px solid #d1d9e0; border-radius: 6px; }
  label.check { display: flex; gap: .4rem; align-items: center; font-size: .85rem; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  button { font: inherit; font-size: .9rem; padding: .35rem .8rem; border-radius: 6px; border: 1px solid #1f883d; background: #1f883d; color: #fff; cursor: pointer; }
  button.quiet { border-color: #d1d9e0; background: #fff; color: #1f2328; }
  button.small { font-size: .8rem; padding: .1rem .5rem; }
  button.danger { border-color: #cf222e; background: #fff; color: #cf222e; }
  button[aria-pressed="true"] { border-color: #0969da; background: #ddf4ff; color: #0969da; }
  button:disabled { opacity: .55; cursor: default; }
  button:focus-visible, textarea:focus-visible, input:focus-visible { outline: 3px solid #0969da; outline-offset: 1px; }
  .muted-note { margin: 0; font-size: .85rem; color: #9a6700; background: #fff8c5; padding: .3rem .5rem; border-radius: 6px; }
  .tag { display: inline-block; font-size: .7rem; font-weight: 600; padding: 0 .4rem; border-radius: 999px; background: #eaeef2; color: #59636e; vertical-align: middle; }
  .tag.host { background: #fbefff; color: #8250df; }
  .tag.speaker { background: #dafbe1; color: #1a7f37; }
  .tag.answered { background: #dafbe1; color: #1a7f37; }
  .tag.pinned { background: #fff8c5; color: #9a6700; }
  .tag.closed { background: #eaeef2; color: #59636e; }
  .tag.open { background: #ddf4ff; color: #0969da; }
  .meta { display: flex; flex-wrap: wrap; gap: .35rem; align-items: baseline; font-size: .8rem; color: #59636e; }
  .meta strong { color: #1f2328; font-size: .85rem; }
  .body { margin: .1rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
  .actions { display: flex; flex-wrap: wrap; gap: .3rem; margin-top: .3rem; }
  .card { border: 1px solid #d1d9e0; border-radius: 8px; padding: .5rem .6rem; margin-bottom: .5rem; background: #fff; }
  .card.pinned { border-color: #d4a72c; background: #fffdf2; }
  .card.answered .body { color: #59636e; }
  .bar { height: .5rem; border-radius: 999px; background: #eaeef2; overflow: hidden; }
  .bar > span { display: block; height: 100%; background: #0969da; }
  .result { display: grid; grid-template-columns: 1fr auto; gap: .1rem .5rem; align-items: center; font-size: .875rem; margin: .3rem 0; }
  .result .bar { grid-column: 1 / -1; }
  fieldset { border: 0; margin: 0; padding: 0; }
  legend { font-weight: 600; padding: 0; margin-bottom: .25rem; }
  .choice { display: flex; gap: .4rem; align-items: center; padding: .15rem 0; }
  h3 { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: #59636e; margin: .75rem 0 .35rem; }
  h3:first-child { margin-top: 0; }
`;
