// The collaborative editor of the opinion: ProseMirror over Yjs (y-prosemirror), connected to
// the server's y-websocket endpoint /doc/{convention}/{document}?token=..., with the others'
// cursors and names. Loaded on demand (a separate chunk) by the opinion view.
//
// The schema is the one the server exports (server/src/docs/export.rs): the XmlFragment
// `prosemirror` holds heading(level), paragraph, bullet_list > list_item, proposal(title)
// with its arguments (kind: for | against | moderating) and minority positions; marks bold
// and italic. It is a little more permissive than the export needs, so that content written
// by another client is never dropped as "invalid" here.

import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { ySyncPlugin, yCursorPlugin, yUndoPlugin, undo, redo } from 'y-prosemirror';
import { EditorState, TextSelection, Plugin } from 'prosemirror-state';
import { EditorView, Decoration, DecorationSet } from 'prosemirror-view';
import { Schema } from 'prosemirror-model';
import { keymap } from 'prosemirror-keymap';
import { baseKeymap, toggleMark, setBlockType, chainCommands, exitCode } from 'prosemirror-commands';
import { wrapInList, splitListItem, liftListItem, sinkListItem } from 'prosemirror-schema-list';

export const ROOT = 'prosemirror';

export function makeSchema(labels) {
  return new Schema({
    nodes: {
      doc: { content: 'block+' },
      paragraph: {
        group: 'block', content: 'inline*',
        parseDOM: [{ tag: 'p' }], toDOM: () => ['p', 0],
      },
      heading: {
        group: 'block', content: 'inline*', defining: true,
        attrs: { level: { default: 1 } },
        parseDOM: [
          { tag: 'h1', attrs: { level: 1 } }, { tag: 'h2', attrs: { level: 1 } }, { tag: 'h3', attrs: { level: 1 } },
          { tag: 'h4', attrs: { level: 2 } }, { tag: 'h5', attrs: { level: 3 } }, { tag: 'h6', attrs: { level: 3 } },
        ],
        // The page has its h1 and h2: the document's titles come below them.
        toDOM: (n) => [`h${Math.min(6, Number(n.attrs.level || 1) + 2)}`, { class: `doc-h doc-h${n.attrs.level}` }, 0],
      },
      bullet_list: {
        group: 'block', content: 'list_item+',
        parseDOM: [{ tag: 'ul' }], toDOM: () => ['ul', 0],
      },
      list_item: {
        content: 'paragraph (paragraph | bullet_list)*', defining: true,
        parseDOM: [{ tag: 'li' }], toDOM: () => ['li', 0],
      },
      proposal: {
        group: 'block', content: '(paragraph | heading | bullet_list | argument | minority)*', defining: true, isolating: true,
        attrs: { title: { default: '' } },
        parseDOM: [{ tag: 'section.proposal', getAttrs: (d) => ({ title: d.getAttribute('data-title') || '' }) }],
        toDOM: (n) => ['section', { class: 'proposal', 'data-title': n.attrs.title }, 0],
      },
      argument: {
        group: 'block', content: 'inline*', defining: true,
        attrs: { kind: { default: 'for' } },
        parseDOM: [{ tag: 'p.argument', getAttrs: (d) => ({ kind: d.getAttribute('data-kind') || 'for' }) }],
        toDOM: (n) => ['p', { class: `argument arg-${n.attrs.kind}`, 'data-kind': n.attrs.kind, 'data-label': labels[`arg_${n.attrs.kind}`] || n.attrs.kind }, 0],
      },
      minority: {
        group: 'block', content: 'inline*', defining: true,
        parseDOM: [{ tag: 'blockquote.minority' }],
        toDOM: () => ['blockquote', { class: 'minority', 'data-label': labels.minority }, 0],
      },
      text: { group: 'inline' },
    },
    marks: {
      bold: { parseDOM: [{ tag: 'strong' }, { tag: 'b' }], toDOM: () => ['strong', 0] },
      italic: { parseDOM: [{ tag: 'em' }, { tag: 'i' }], toDOM: () => ['em', 0] },
    },
  });
}

/** Put `text` in a field being typed in, the selection kept where it was in the text around
 * the change (after it, shifted by it; inside it, at its end). */
export function replaceKeepingCaret(field, text) {
  const old = field.value;
  let start = 0;
  while (start < old.length && start < text.length && old[start] === text[start]) start += 1;
  let end = 0;
  while (end < old.length - start && end < text.length - start && old[old.length - 1 - end] === text[text.length - 1 - end]) end += 1;
  const place = (i) => {
    if (i <= start) return i;
    if (i >= old.length - end) return i + text.length - old.length;
    return text.length - end;
  };
  const [from, to] = [place(field.selectionStart), place(field.selectionEnd)];
  field.value = text;
  field.setSelectionRange(from, to);
}

/** The proposal's title is an attribute, edited in a field above its content. */
class ProposalView {
  constructor(node, view, getPos, labels) {
    this.node = node;
    this.view = view;
    this.getPos = getPos;
    this.dom = document.createElement('section');
    this.dom.className = 'proposal';
    const head = document.createElement('div');
    head.className = 'proposal-head';
    head.contentEditable = 'false';
    const label = document.createElement('label');
    const id = `prop-${Math.random().toString(36).slice(2, 9)}`;
    label.htmlFor = id;
    label.textContent = labels.proposal;
    // A textarea, not an input: a long title wraps on a phone instead of running off the
    // screen. It stays one paragraph: Enter goes to the proposal's text, newlines become
    // spaces.
    this.input = document.createElement('textarea');
    this.input.id = id;
    this.input.rows = 1;
    this.input.className = 'proposal-title';
    this.input.placeholder = labels.proposal_title;
    this.input.value = node.attrs.title;
    this.input.readOnly = !view.editable;
    this.input.addEventListener('input', () => {
      const pos = this.getPos();
      if (typeof pos !== 'number') return;
      const title = this.input.value.replace(/[\r\n]+/g, ' ');
      if (title !== this.input.value) this.input.value = title;
      this.fit();
      this.view.dispatch(this.view.state.tr.setNodeMarkup(pos, null, { ...this.node.attrs, title }));
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      const pos = this.getPos();
      if (typeof pos !== 'number') return;
      const tr = this.view.state.tr.setSelection(TextSelection.near(this.view.state.doc.resolve(pos + 1)));
      this.view.dispatch(tr);
      this.view.focus();
    });
    // Its height follows its lines (once in the page, and whenever the width changes).
    if (typeof ResizeObserver !== 'undefined') {
      this.resize = new ResizeObserver(() => this.fit());
      this.resize.observe(this.input);
    }
    head.append(label, this.input);
    this.contentDOM = document.createElement('div');
    this.contentDOM.className = 'proposal-body';
    this.dom.append(head, this.contentDOM);
  }

  fit() {
    this.input.style.height = 'auto';
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  update(node) {
    if (node.type !== this.node.type) return false;
    this.node = node;
    if (this.input.value !== node.attrs.title) {
      // Another rapporteur changed the title. Every keystroke here is already in the
      // document (the input handler), so nothing typed here is pending: the field takes
      // their title at once, even while it is being typed in (the caret kept in its place
      // in the text around it), and the next keystroke builds on theirs instead of
      // writing over it unseen.
      if (document.activeElement === this.input) replaceKeepingCaret(this.input, node.attrs.title);
      else this.input.value = node.attrs.title;
      this.fit();
    }
    this.input.readOnly = !this.view.editable;
    return true;
  }

  destroy() {
    if (this.resize) this.resize.disconnect();
  }

  stopEvent(e) {
    return e.target === this.input;
  }

  ignoreMutation(m) {
    return !this.contentDOM.contains(m.target);
  }
}

/** A document with nothing in it says so, and where to start (`text()`: for who may write, or not). */
function emptyHint(text) {
  return new Plugin({
    props: {
      decorations(state) {
        const d = state.doc;
        if (d.childCount !== 1 || !d.firstChild.isTextblock || d.firstChild.content.size) return null;
        return DecorationSet.create(d, [Decoration.node(0, d.firstChild.nodeSize, { class: 'doc-empty', 'data-placeholder': text() })]);
      },
    },
  });
}

function colorFor(id) {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h}, 70%, 35%)`;
}

/** Whether the selection is inside a proposal. */
function proposalDepth(state) {
  const { $from } = state.selection;
  for (let d = $from.depth; d > 0; d -= 1) if ($from.node(d).type.name === 'proposal') return d;
  return -1;
}

/**
 * Mount the editor in `el`. Returns an object to drive it from the toolbar, and to destroy it.
 * opts: {wsBase (ws(s)://host, or a function giving it), convention, document, token,
 *        user: {id, name}, editable, labels,
 *        onChange({status, synced, peers, active}), offline}
 */
export function mountEditor(el, opts) {
  const schema = makeSchema(opts.labels);
  const ydoc = new Y.Doc();
  // `wsBase` may be a function: the node to use now (in a cluster, the page's connection may
  // have moved to another node). Each reconnection of the provider asks again.
  const base = typeof opts.wsBase === 'function' ? opts.wsBase : () => opts.wsBase;
  const serverUrl = () => `${base()}/doc/${encodeURIComponent(opts.convention)}`;
  const provider = new WebsocketProvider(serverUrl(), opts.document, ydoc, {
    params: { token: opts.token },
    disableBc: true,
  });
  provider.on('connection-close', () => {
    provider.serverUrl = serverUrl();
  });
  const color = colorFor(opts.user.id);
  provider.awareness.setLocalStateField('user', { name: opts.user.name, color, id: opts.user.id });
  const fragment = ydoc.getXmlFragment(ROOT);
  let editable = !!opts.editable;
  let status = 'connecting';
  let synced = false;
  // The page's own connection is down (its heartbeat knows within seconds; the document's
  // socket may look open for 30 s more on a silently dead network, y-websocket's timeout).
  let offline = false;
  // Changes typed here while the document was not known to reach the server: kept in this
  // page's Yjs document, sent by the resync once connected again.
  let unsent = false;
  // Before the first sync, the editor's own set-up writes too: that is not the person's work.
  let reachedOnce = false;

  const S = schema.nodes;
  const M = schema.marks;
  const km = {
    'Mod-z': undo,
    'Mod-y': redo,
    'Mod-Shift-z': redo,
    'Mod-b': toggleMark(M.bold),
    'Mod-i': toggleMark(M.italic),
    Enter: splitListItem(S.list_item),
    Tab: sinkListItem(S.list_item),
    'Shift-Tab': liftListItem(S.list_item),
    'Shift-Enter': chainCommands(exitCode),
  };
  const state = EditorState.create({
    schema,
    plugins: [
      ySyncPlugin(fragment),
      yCursorPlugin(provider.awareness),
      yUndoPlugin(),
      keymap(km),
      keymap(baseKeymap),
      emptyHint(() => (editable ? opts.labels.empty_write : opts.labels.empty_read)),
    ],
  });

  const peers = () => {
    const out = [];
    provider.awareness.getStates().forEach((s, clientId) => {
      if (clientId !== ydoc.clientID && s.user) out.push({ clientId, ...s.user });
    });
    return out;
  };
  const active = (st) => {
    const { from, $from, to, empty } = st.selection;
    const marks = {};
    for (const m of ['bold', 'italic']) {
      marks[m] = empty ? !!M[m].isInSet(st.storedMarks || $from.marks()) : st.doc.rangeHasMark(from, to, M[m]);
    }
    return { ...marks, block: $from.parent.type.name, kind: $from.parent.attrs.kind, inProposal: proposalDepth(st) > 0 };
  };
  let view;
  // Set once the editor is torn down (the person left the tab): y-prosemirror 1.3.7 may still
  // dispatch a cursor update it queued a moment before (its `isDestroyed` check is never
  // true), which a destroyed view cannot take ("reading 'matchesNode'").
  let destroyed = false;
  const emit = () => !destroyed && opts.onChange && opts.onChange({ status, synced, offline, unsent, peers: peers(), active: view ? active(view.state) : {} });
  const reaching = () => status === 'connected' && synced && !offline;
  ydoc.on('update', (_update, origin) => {
    // Not the server's (applied with the provider as origin): typed here.
    if (origin !== provider && reachedOnce && !reaching() && !unsent) {
      unsent = true;
      emit();
    }
  });

  view = new EditorView(el, {
    state,
    editable: () => editable,
    attributes: { class: 'doc-editor', role: 'textbox', 'aria-multiline': 'true', 'aria-label': opts.labels.editor },
    nodeViews: { proposal: (node, v, getPos) => new ProposalView(node, v, getPos, opts.labels) },
    // The page's sticky header and the toolbar cover the top of the window: the caret is
    // brought into view below them (ProseMirror's own scrolling put it under them when one
    // went up the text with the arrows).
    handleScrollToSelection(v) {
      if (typeof window === 'undefined' || !v.hasFocus()) return false;
      let caret;
      try {
        caret = v.coordsAtPos(v.state.selection.head);
      } catch {
        return false;
      }
      const covers = [document.querySelector('.sticky-top'), el.parentElement && el.parentElement.querySelector('.toolbar')]
        .filter(Boolean).map((b) => b.getBoundingClientRect().bottom);
      const top = Math.max(0, ...covers) + 8;
      const bottom = window.innerHeight - 8;
      if (caret.top < top) window.scrollBy(0, caret.top - top);
      else if (caret.bottom > bottom) window.scrollBy(0, caret.bottom - bottom);
      return true;
    },
    // Called with the view as `this`, also while it is being constructed (y-prosemirror
    // fills it from the Yjs document at once).
    dispatchTransaction(tr) {
      if (destroyed) return;
      this.updateState(this.state.apply(tr));
      if (view) emit();
    },
  });

  provider.on('status', (e) => {
    status = e.status;
    emit();
  });
  provider.on('sync', (s) => {
    synced = s;
    // A sync exchanges what each side lacks: what was typed offline is on its way.
    if (reaching()) {
      unsent = false;
      reachedOnce = true;
    }
    emit();
  });
  provider.awareness.on('change', emit);

  const run = (cmd) => {
    if (!editable) return false;
    const ok = cmd(view.state, view.dispatch, view);
    view.focus();
    return ok;
  };

  const api = {
    view,
    ydoc,
    provider,
    setEditable(v) {
      editable = !!v;
      view.setProps({ editable: () => editable });
      emit();
    },
    /** The page's connection went down (true) or came back (false). Back: the document
     * connects again at once and resyncs (its socket may be dead without knowing it yet). */
    setOffline(v) {
      if (offline === !!v) return;
      offline = !!v;
      if (!offline) {
        provider.disconnect();
        provider.connect();
      }
      emit();
    },
    bold: () => run(toggleMark(M.bold)),
    italic: () => run(toggleMark(M.italic)),
    paragraph: () => run(setBlockType(S.paragraph)),
    heading: (level) => run(setBlockType(S.heading, { level })),
    bulletList: () => run(wrapInList(S.bullet_list)),
    undo: () => run(undo),
    redo: () => run(redo),
    // The toolbar's buttons for these say `aria-pressed`: pressed again, they take the
    // paragraph back to a plain one (they left it as it was, still « pressed »).
    minority: () => run((st, dispatch) => {
      if (st.selection.$from.parent.type === S.minority) return setBlockType(S.paragraph)(st, dispatch);
      return setBlockType(S.minority)(st, dispatch);
    }),
    argument: (kind) => run((st, dispatch) => {
      if (proposalDepth(st) < 0) return false;
      const here = st.selection.$from.parent;
      if (here.type === S.argument && here.attrs.kind === kind) return setBlockType(S.paragraph)(st, dispatch);
      return setBlockType(S.argument, { kind })(st, dispatch);
    }),
    /** A new proposal after the top-level block of the selection; its title field gets the focus. */
    proposal() {
      if (!editable) return false;
      const st = view.state;
      const { $from } = st.selection;
      const pos = $from.depth >= 1 ? $from.after(1) : st.doc.content.size;
      const node = S.proposal.create({ title: '' }, [S.paragraph.create()]);
      const tr = st.tr.insert(pos, node);
      tr.setSelection(TextSelection.create(tr.doc, pos + 2));
      view.dispatch(tr.scrollIntoView());
      const dom = view.nodeDOM(pos);
      const input = dom && dom.querySelector && dom.querySelector('.proposal-title');
      if (input) input.focus();
      else view.focus();
      return true;
    },
    destroy() {
      destroyed = true;
      view.destroy();
      provider.awareness.setLocalState(null);
      provider.destroy();
      ydoc.destroy();
    },
    /** The document's plain text (tests and the word count). */
    text: () => view.state.doc.textBetween(0, view.state.doc.content.size, '\n'),
  };
  emit();
  return api;
}
