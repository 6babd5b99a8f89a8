// sshlog web console: one small script for every page (body[data-page]).
// DOM is built with textContent only (never innerHTML), so text from
// sessions (commands, user names, output) cannot inject markup.
(function () {
  'use strict';

  const page = document.body.dataset.page;

  // ---- helpers ----------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  async function api(path) {
    const r = await fetch(path, {
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    });
    if (r.status === 401) {
      location.href = '/login';
      throw new Error('login required');
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  function setStatus(text, isError) {
    const s = document.getElementById('status');
    if (!s) return;
    s.textContent = text;
    s.classList.toggle('error', !!isError);
  }

  function fmtDate(iso) {
    if (!iso) return '-';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  function fmtAgo(iso) {
    const s = Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000));
    if (isNaN(s)) return '-';
    if (s < 2) return 'now';
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)}m ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
    return `${Math.floor(s / 86400)}d ago`;
  }

  function fmtOffset(sec) {
    sec = Math.max(0, sec || 0);
    const m = Math.floor(sec / 60);
    const s = (sec - m * 60).toFixed(1).padStart(4, '0');
    return `${m}:${s}`;
  }

  function highlightNav() {
    const a = document.querySelector(`nav a[data-nav="${page}"]`);
    if (a) a.classList.add('active');
  }

  // ---- / : live sessions ------------------------------------------------

  function sessionsPage() {
    const tbody = document.querySelector('#sessions tbody');
    async function refresh() {
      try {
        const { sessions } = await api('/api/sessions');
        tbody.replaceChildren(...sessions.map((s) => {
          const id = s.session_id;
          return el('tr', { dataset: { sessionId: id || '', user: s.user || '' } },
            el('td', {}, s.user || '?', s.existing_login ? '*' : ''),
            el('td', {}, s.client || '-'),
            el('td', {}, s.tty || '-'),
            el('td', {}, fmtDate(s.started)),
            el('td', {}, fmtAgo(s.last_activity)),
            el('td', { class: 'cmd' }, s.last_command || '-'),
            el('td', { class: 'actions' },
              id ? el('a', { href: `/live/${id}`, class: 'follow' }, 'follow') : '',
              ' ',
              id ? el('a', { href: `/sessions/${id}`, class: 'recording' }, 'recording') : ''));
        }));
        setStatus(sessions.length === 0 ? 'No live sessions.'
          : `${sessions.length} live session${sessions.length === 1 ? '' : 's'} · updated ${fmtDate(new Date().toISOString())}`);
      } catch (e) {
        setStatus(`Cannot list sessions: ${e.message}`, true);
      }
    }
    refresh();
    setInterval(refresh, 2000);
  }

  // ---- /events ----------------------------------------------------------

  function eventsPage() {
    const list = document.getElementById('events');
    const form = document.getElementById('event-filter');
    let source = null;
    function connect() {
      if (source) source.close();
      const q = new URLSearchParams();
      const user = form.user.value.trim();
      const types = form.type.value.trim();
      if (user) q.set('user', user);
      if (types) q.set('type', types);
      source = new EventSource('/api/events/stream?' + q);
      source.addEventListener('open', () => setStatus('Connected: waiting for events…'));
      source.addEventListener('event', (m) => {
        let v;
        try { v = JSON.parse(m.data); } catch { return; }
        const r = v.record || {};
        const item = el('li', { class: `ev ev-${r.type || 'unknown'}` },
          el('span', { class: 'ts' }, fmtDate(r.ts)), ' ',
          el('span', { class: 'type' }, r.type || '?'), ' ',
          el('span', { class: 'line' }, (v.line || '').replace(/^\S+ \S+ \S+ /, '')),
          r.session_id ? el('a', { href: `/sessions/${r.session_id}`, class: 'rec' }, ' ▶') : '');
        list.prepend(item);
        while (list.children.length > 500) list.lastChild.remove();
        setStatus('Connected.');
      });
      source.addEventListener('lagged', () => setStatus('Some events were dropped (too many at once).', true));
      source.addEventListener('end', () => setStatus('sshlogd closed the stream; reconnecting…', true));
      source.addEventListener('error', () => setStatus('Disconnected; retrying…', true));
    }
    form.addEventListener('submit', (e) => { e.preventDefault(); connect(); });
    connect();
  }

  // ---- /search ----------------------------------------------------------

  function searchPage() {
    const form = document.getElementById('search-form');
    const results = document.getElementById('results');
    const params = new URLSearchParams(location.search);
    for (const k of ['user', 'cmd', 'output', 'since', 'until']) {
      if (params.has(k)) form[k].value = params.get(k);
    }
    const any = ['user', 'cmd', 'output', 'since', 'until'].some((k) => params.get(k));
    if (!any) {
      setStatus('Enter criteria: every one given must match. Newest sessions first.');
      return;
    }
    setStatus('Searching…');
    const q = new URLSearchParams();
    for (const k of ['user', 'cmd', 'output', 'since', 'until']) {
      if (params.get(k)) q.set(k, params.get(k));
    }
    api('/api/search?' + q).then((r) => {
      setStatus(`${r.sessions.length} session${r.sessions.length === 1 ? '' : 's'} found` +
        ` (${r.scanned} looked at${r.truncated ? ', more not shown' : ''}).`);
      const output = params.get('output') || '';
      results.replaceChildren(...r.sessions.map((s) => {
        const link = (t, label) => {
          const u = new URLSearchParams();
          if (output) u.set('output', output);
          if (t !== undefined) u.set('t', String(t));
          const qs = u.toString();
          return el('a', { href: `/sessions/${s.session_id}${qs ? '?' + qs : ''}` }, label);
        };
        return el('article', { class: 'hit', dataset: { sessionId: s.session_id } },
          el('h2', {}, link(undefined, `${s.user || '?'} · ${fmtDate(s.started)}`),
            el('small', {}, ` ${s.client || ''} ${s.tty || ''} ${s.ended ? '' : '(live)'}`)),
          s.commands.length ? el('ul', { class: 'cmds' }, s.commands.slice(0, 20).map((c) =>
            el('li', {}, link(c.offset, fmtOffset(c.offset)), ' ', el('code', {}, c.argv.join(' '))))) : '',
          s.output_hits.length ? el('ul', { class: 'out-hits' }, s.output_hits.slice(0, 20).map((h) =>
            el('li', {}, link(h.offset, fmtOffset(h.offset)), ' ', el('code', {}, h.snippet)))) : '');
      }));
    }).catch((e) => setStatus(`Search failed: ${e.message}`, true));
  }

  // ---- /sessions/{id} : player + command timeline ------------------------

  function recordingPage() {
    const box = document.getElementById('player');
    const id = box.dataset.id;
    const timeline = document.getElementById('timeline');
    const hitsList = document.getElementById('hits');
    const speedSel = document.getElementById('speed');
    const allBox = document.getElementById('all-commands');
    const params = new URLSearchParams(location.search);
    const output = params.get('output') || '';
    const startAt = parseFloat(params.get('t') || '');
    let player = null;
    let rec = null;

    function markers() {
      const m = rec.commands.filter((c) => c.interactive)
        .map((c) => [c.offset, c.argv.join(' ')]);
      for (const h of rec.output_hits || []) m.push([h.offset, `🔍 ${h.snippet}`]);
      return m.sort((a, b) => a[0] - b[0]);
    }

    function create(at, play) {
      if (player) player.dispose();
      box.replaceChildren();
      player = AsciinemaPlayer.create(`/api/recordings/${id}/cast`, box, {
        cols: rec.cols || 80,
        rows: rec.rows || 24,
        speed: parseFloat(speedSel.value) || 1,
        preload: true,
        fit: 'width',
        idleTimeLimit: 5,
        markers: markers(),
        startAt: at > 0 ? at : undefined,
        // Arriving at a time (from a search hit): show that moment's screen.
        poster: at > 0 && !play ? `npt:${at}` : undefined,
        autoPlay: !!play,
      });
      window.sshlogPlayer = player;
    }

    async function seek(t) {
      if (!player) return;
      await player.seek(t);
      await player.play();
    }

    function renderTimeline() {
      const all = allBox.checked;
      timeline.replaceChildren(...rec.commands.filter((c) => all || c.interactive).map((c) =>
        el('li', { class: c.interactive ? 'interactive' : 'background' },
          el('button', {
            type: 'button', class: 'seek', dataset: { offset: c.offset },
            title: `${c.ts}${c.cwd ? ' in ' + c.cwd : ''}`,
            onclick: () => seek(c.offset),
          }, el('span', { class: 'at' }, fmtOffset(c.offset)), ' ',
          el('code', {}, c.argv.join(' ')),
          c.exit_code !== null && c.exit_code !== undefined && c.exit_code !== 0
            ? el('span', { class: 'exit' }, ` → ${c.exit_code}`) : ''))));
      if (!timeline.children.length) timeline.append(el('li', { class: 'empty' }, 'No commands recorded.'));
    }

    function renderHits() {
      const hits = rec.output_hits || [];
      document.getElementById('hits-title').hidden = !output;
      hitsList.replaceChildren(...hits.map((h) =>
        el('li', { class: 'hit' },
          el('button', { type: 'button', class: 'seek', dataset: { offset: h.offset }, onclick: () => seek(h.offset) },
            el('span', { class: 'at' }, fmtOffset(h.offset)), ' ', el('code', {}, h.snippet)))));
      if (output && !hits.length) hitsList.append(el('li', { class: 'empty' }, `“${output}” is not in the output.`));
    }

    const q = output ? `?output=${encodeURIComponent(output)}` : '';
    api(`/api/recordings/${id}${q}`).then((r) => {
      rec = r;
      document.getElementById('meta').textContent =
        `${r.user || '?'} from ${r.client || '?'} on ${r.tty || 'no tty'} · started ${fmtDate(r.started)}` +
        ` · ${fmtOffset(r.duration)}${r.ended ? '' : ' · still live'}`;
      renderTimeline();
      renderHits();
      if (!r.has_cast) {
        box.replaceChildren(el('p', { class: 'error' }, 'This session has no terminal recording.'));
        return;
      }
      create(isNaN(startAt) ? 0 : startAt, false);
    }).catch((e) => box.replaceChildren(el('p', { class: 'error' }, `Cannot load: ${e.message}`)));

    allBox.addEventListener('change', () => rec && renderTimeline());
    speedSel.addEventListener('change', async () => {
      if (!player) return;
      const t = await player.getCurrentTime();
      create(t, true);
    });
  }

  // ---- /fleet : hosts and a search across them (from the fleet store) ---

  function fleetPage() {
    const hosts = document.getElementById('hosts');
    const form = document.getElementById('fleet-form');
    if (!hosts || !form) return;
    const results = document.getElementById('results');
    const keys = ['host', 'user', 'cmd', 'since', 'until'];
    const params = new URLSearchParams(location.search);
    for (const k of keys) if (params.has(k)) form[k].value = params.get(k);
    api('/api/fleet/hosts').then((r) => {
      hosts.replaceChildren(...r.hosts.map((h) => el('tr', { dataset: { host: h.host } },
        el('td', {}, el('a', { href: `/fleet?host=${encodeURIComponent(h.host)}` }, h.host)),
        el('td', {}, h.hostname || ''), el('td', {}, h.sshlog_version || ''),
        el('td', {}, h.updated ? fmtDate(h.updated) : ''))));
      if (!r.hosts.length) hosts.append(el('tr', {}, el('td', { colspan: 4 }, 'No host has uploaded yet.')));
    }).catch((e) => setStatus(`Cannot list the hosts: ${e.message}`, true));
    const q = new URLSearchParams();
    for (const k of keys) if (params.get(k)) q.set(k, params.get(k));
    setStatus('Searching…');
    api('/api/fleet/search?' + q).then((r) => {
      setStatus(`${r.sessions.length} session${r.sessions.length === 1 ? '' : 's'} found` +
        ` (${r.scanned} looked at${r.truncated ? ', more not shown' : ''}; last 7 days unless “since”).`);
      results.replaceChildren(...r.sessions.map((s) => {
        const link = (t, label) => el('a', {
          href: `/fleet/${encodeURIComponent(s.host)}/${s.session_id}${t !== undefined ? '?t=' + t : ''}`,
        }, label);
        return el('article', { class: 'hit', dataset: { sessionId: s.session_id, host: s.host } },
          el('h2', {}, s.has_cast ? link(undefined, `${s.host} · ${s.user || '?'} · ${fmtDate(s.started)}`)
            : `${s.host} · ${s.user || '?'} · ${fmtDate(s.started)}`,
          el('small', {}, ` ${s.client || ''} ${s.tty || ''} ${s.ended ? '' : '(live)'}`)),
          s.commands.length ? el('ul', { class: 'cmds' }, s.commands.map((c) =>
            el('li', {}, s.has_cast ? link(c.offset, fmtOffset(c.offset)) : fmtOffset(c.offset), ' ',
              el('code', {}, c.argv)))) : '');
      }));
    }).catch((e) => setStatus(`Search failed: ${e.message}`, true));
  }

  function fleetRecordingPage() {
    const box = document.getElementById('player');
    const startAt = parseFloat(new URLSearchParams(location.search).get('t') || '');
    const player = AsciinemaPlayer.create(box.dataset.cast, box, {
      preload: true, fit: 'width', idleTimeLimit: 5,
      startAt: startAt > 0 ? startAt : undefined,
      poster: startAt > 0 ? `npt:${startAt}` : undefined,
    });
    window.sshlogPlayer = player;
  }

  // ---- /live/{id} ---------------------------------------------------------

  function livePage() {
    const box = document.getElementById('player');
    const id = box.dataset.id;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const player = AsciinemaPlayer.create(
      { driver: 'websocket', url: `${proto}//${location.host}/api/live/${id}`, bufferTime: 0 },
      box, { fit: 'width', autoPlay: true });
    window.sshlogPlayer = player;
    player.addEventListener('playing', () => setStatus('Following live (read-only).'));
    player.addEventListener('ended', () => setStatus('The session ended.'));
    setStatus('Connecting…');
  }

  highlightNav();
  const pages = {
    sessions: sessionsPage,
    events: eventsPage,
    search: searchPage,
    recording: recordingPage,
    live: livePage,
    fleet: fleetPage,
    'fleet-recording': fleetRecordingPage,
  };
  if (pages[page]) pages[page]();
})();
