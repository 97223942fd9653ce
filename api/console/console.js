'use strict';
(function () {
  var pollMs = 1000;
  var windowMs = 10 * 60 * 1000;
  var palette = ['#2f6fdf', '#d97706', '#1f9d55', '#9333ea', '#d64545', '#0891b2', '#65a30d', '#db2777'];
  var tokenKey = 'ledgerflow.console.token';
  var ui = {
    token: sessionStorage.getItem(tokenKey) || '',
    statuses: [],
    history: {},
    parked: {},
    rebuilds: {},
    notes: {},
    confirming: {},
    busy: {},
  };

  // A token passed as /console#token=... is taken, then removed from the address bar.
  var fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    ui.token = decodeURIComponent(fromHash[1]);
    sessionStorage.setItem(tokenKey, ui.token);
    history.replaceState(null, '', location.pathname + location.search);
  }
  var input = document.getElementById('token');
  input.value = ui.token;
  document.getElementById('auth').addEventListener('submit', function (event) {
    event.preventDefault();
    ui.token = input.value.trim();
    sessionStorage.setItem(tokenKey, ui.token);
    poll();
  });

  function h(tag, attrs) {
    var el = tag.indexOf('svg:') === 0 ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
    for (var name in attrs || {}) {
      if (attrs[name] === null || attrs[name] === undefined || attrs[name] === false) continue;
      if (name === 'text') el.textContent = String(attrs[name]);
      else if (name === 'width%') el.style.width = attrs[name] + '%';
      else el.setAttribute(name, String(attrs[name]));
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return el;
  }
  var num = function (n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 }); };
  var clock = function (iso) { return new Date(iso).toLocaleTimeString('en-GB'); };

  /** Calls a tRPC procedure over HTTP; throws { code, message } on an error answer. */
  async function call(kind, path, payload) {
    var headers = { accept: 'application/json' };
    if (ui.token) headers.authorization = 'Bearer ' + ui.token;
    var url = 'trpc/' + path;
    var init = { method: 'GET', headers: headers, cache: 'no-store' };
    if (kind === 'query' && payload !== undefined) url += '?input=' + encodeURIComponent(JSON.stringify(payload));
    if (kind === 'mutation') {
      init.method = 'POST';
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(payload === undefined ? {} : payload);
    }
    var response = await fetch(url, init);
    var body = await response.json().catch(function () { return null; });
    if (!response.ok || !body || body.error) {
      var error = body && body.error;
      throw { code: (error && error.data && error.data.code) || 'HTTP_' + response.status, message: (error && error.message) || response.statusText };
    }
    return body.result.data;
  }

  function say(text, kind) {
    var box = document.getElementById('message');
    box.hidden = !text;
    box.className = kind || '';
    box.textContent = text || '';
  }
  function connection(text, bad) {
    var el = document.getElementById('conn');
    el.textContent = text;
    el.className = bad ? 'bad' : '';
  }

  var polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      var statuses = await call('query', 'system.projections');
      ui.statuses = statuses;
      var now = Date.now();
      statuses.forEach(function (s) {
        var series = ui.history[s.name] || (ui.history[s.name] = []);
        series.push({ at: now, lag: s.lagEvents });
        while (series.length && series[0].at < now - windowMs) series.shift();
        track(s);
      });
      await Promise.all(statuses.map(async function (s) {
        ui.parked[s.name] = s.parked > 0 ? await call('query', 'system.parked', { projection: s.name, limit: 50 }) : [];
      }));
      say('');
      connection('updated ' + new Date(now).toLocaleTimeString('en-GB'));
    } catch (error) {
      if (error && error.code === 'UNAUTHORIZED') say(ui.token ? 'The API refused this token (UNAUTHORIZED). Paste an admin token.' : 'The API needs a token: paste an admin token above.');
      else if (error && error.code === 'FORBIDDEN') say('This token may not use the console (FORBIDDEN): it needs an admin token.');
      else say('Cannot reach the API: ' + ((error && error.message) || error) + '. Retrying.');
      connection('not connected', true);
    } finally {
      polling = false;
      render();
    }
  }

  /** Follows a rebuild this page asked for until the projection serves the new generation. */
  function track(s) {
    var r = ui.rebuilds[s.name];
    if (s.rebuild) {
      if (!r || r.finishedAt) r = ui.rebuilds[s.name] = { from: s.generation, startedAt: Date.now() };
      r.seen = s.rebuild;
    } else if (r && !r.finishedAt && s.state === 'live' && s.generation !== null && s.generation > r.from) {
      r.finishedAt = Date.now();
      r.generation = s.generation;
    }
  }

  async function act(name, action) {
    if (action === 'rebuild' && !ui.confirming[name]) {
      ui.confirming[name] = setTimeout(function () { delete ui.confirming[name]; render(); }, 5000);
      return render();
    }
    clearTimeout(ui.confirming[name]);
    delete ui.confirming[name];
    ui.busy[name] = action;
    render();
    try {
      if (action === 'redrive') {
        var result = await call('mutation', 'system.redrive', { projection: name });
        ui.notes[name] = 'Re-drive requested for ' + result.parked + ' parked event' + (result.parked === 1 ? '' : 's') + ' at ' + new Date().toLocaleTimeString('en-GB') + '.';
      } else {
        var current = ui.statuses.filter(function (s) { return s.name === name; })[0];
        await call('mutation', 'system.rebuild', { projection: name });
        ui.rebuilds[name] = { from: current ? current.generation || 0 : 0, startedAt: Date.now(), requested: true };
      }
    } catch (error) {
      say(action + ' failed: ' + ((error && error.message) || error));
    } finally {
      delete ui.busy[name];
      poll();
    }
  }

  document.getElementById('projections').addEventListener('click', function (event) {
    var button = event.target.closest('button[data-action]');
    if (button && !button.disabled) act(button.getAttribute('data-projection'), button.getAttribute('data-action'));
  });

  // Cards are rebuilt only when what they show changed, so a button is not replaced under a click.
  var shown = {};
  function render() {
    renderChart();
    var list = document.getElementById('projections');
    if (!ui.statuses.length) {
      shown = {};
      return list.replaceChildren(h('div', { class: 'empty panel', text: 'No projections reported yet.' }));
    }
    var next = {};
    ui.statuses.forEach(function (s) {
      var facts = Object.assign({}, s, { updatedAt: null });
      var key = JSON.stringify([facts, ui.parked[s.name], ui.notes[s.name], ui.busy[s.name], !!ui.confirming[s.name], ui.rebuilds[s.name]]);
      var old = shown[s.name];
      next[s.name] = old && old.key === key ? old : { key: key, el: card(s) };
      if (old && old.el !== next[s.name].el) old.el.replaceWith(next[s.name].el);
    });
    var order = ui.statuses.map(function (s) { return next[s.name].el; });
    var same = order.length === list.children.length && order.every(function (el, i) { return list.children[i] === el; });
    if (!same) list.replaceChildren.apply(list, order);
    shown = next;
  }

  function card(s) {
    var lagAlert = s.lagEvents !== null && s.lagEvents > 0;
    var busy = ui.busy[s.name];
    var confirming = !!ui.confirming[s.name];
    return h('section', { class: 'card', 'data-projection': s.name },
      h('div', { class: 'top' },
        h('h3', { text: s.name }),
        h('span', { class: 'state ' + s.state, 'data-field': 'state', text: s.state }),
        h('div', { class: 'actions' },
          h('button', {
            class: confirming ? 'danger' : '', 'data-action': 'rebuild', 'data-projection': s.name,
            disabled: busy || s.state === 'rebuilding' || s.state === 'stalled',
            title: 'Rebuild into a new generation from the start of the log; reads continue meanwhile',
            text: busy === 'rebuild' ? 'Requesting…' : confirming ? 'Confirm rebuild' : 'Rebuild',
          }))),
      h('p', { class: 'meta', text: 'generation ' + num(s.generation) + ' · definition v' + s.version + ' · owner ' + (s.owner || 'none') }),
      h('div', { class: 'stats' },
        stat('checkpoint / tail', num(s.checkpoint) + ' / ' + num(s.tail)),
        stat('lag · ' + num(s.lagSeconds) + ' s', num(s.lagEvents), lagAlert),
        stat('events/s', num(s.eventsPerSecond)),
        stat('applied', num(s.applied)),
        stat('parked', num(s.parked), s.parked > 0, 'parked'),
        stat('open gaps', num(s.gapsOpen || 0), s.gapsOpen > 0, 'gaps-open')),
      s.halted ? h('p', { class: 'note alert', 'data-field': 'halted', text: 'Halted (' + s.halted.code + ' since ' + clock(s.halted.since) + '): the parked list holds its limit of ' + num(s.halted.limit) + '; re-drive to make room.' }) : null,
      s.gapsOpen > 0 ? h('p', { class: 'note', 'data-field': 'gaps-note', text: num(s.gapsOpen) + ' aggregate(s) wait behind a version gap: their events are parked until the missing versions are re-driven.' }) : null,
      rebuildView(s),
      parkedView(s));
  }

  function stat(label, value, alert, field) {
    return h('div', { class: 'stat' + (alert ? ' alert' : '') }, h('b', { text: value, title: value, 'data-field': field }), h('span', { text: label }));
  }

  function rebuildView(s) {
    var r = ui.rebuilds[s.name];
    if (s.rebuild) {
      var p = s.rebuild;
      var percent = p.total ? Math.min(100, (100 * p.done) / p.total) : 0;
      var eta = p.etaSeconds === null ? '' : ' · ' + p.etaSeconds + ' s left';
      return h('div', { class: 'rebuild', 'data-field': 'rebuild' },
        h('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': Math.round(percent), 'aria-valuemin': 0, 'aria-valuemax': 100 }, h('div', { 'width%': percent })),
        h('p', { text: 'Rebuilding generation ' + p.generation + ': ' + num(p.done) + ' of ' + (p.total === null ? '?' : num(p.total)) + ' events (' + percent.toFixed(0) + '%) · ' + num(p.eventsPerSecond) + ' ev/s' + eta }),
        p.held ? h('p', { class: 'note alert', 'data-field': 'rebuild-held', text: 'Held (' + p.held.code + '): the log lacks the history of ' + num(p.held.gaps) + ' aggregate(s); the rebuild switches only when accepted (ledgerflow rebuild --accept-gaps).' }) : null);
    }
    if (r && r.finishedAt) {
      var seconds = ((r.finishedAt - r.startedAt) / 1000).toFixed(1);
      return h('div', { class: 'rebuild done', 'data-field': 'rebuilt' },
        h('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': 100, 'aria-valuemin': 0, 'aria-valuemax': 100 }, h('div', { 'width%': 100 })),
        h('p', { text: 'Rebuilt into generation ' + r.generation + (r.seen ? ' (' + num(r.seen.total || r.seen.done) + ' events)' : '') + ' in about ' + seconds + ' s; now live.' }));
    }
    if (r && r.requested) return h('p', { class: 'note', 'data-field': 'rebuild-requested', text: 'Rebuild requested; waiting for the projection’s owner to start it…' });
    return null;
  }

  function parkedView(s) {
    var events = ui.parked[s.name] || [];
    var note = ui.notes[s.name] ? h('p', { class: 'note', 'data-field': 'redrive-note', text: ui.notes[s.name] }) : null;
    if (s.parked === 0) return h('div', { class: 'parked' }, h('p', { class: 'none', 'data-field': 'no-parked', text: 'No parked events.' }), note);
    return h('div', { class: 'parked' },
      h('h4', {},
        s.parked + ' parked event' + (s.parked === 1 ? '' : 's') + (events.length < s.parked ? ' (first ' + events.length + ' shown)' : ''),
        h('button', { class: 'primary', 'data-action': 'redrive', 'data-projection': s.name, disabled: !!ui.busy[s.name],
          title: 'Re-apply the parked events (after the handler was fixed)', text: ui.busy[s.name] === 'redrive' ? 'Requesting…' : 'Re-drive' })),
      h('table', {},
        h('thead', {}, h('tr', {}, h('th', { text: 'offset' }), h('th', { text: 'aggregate' }), h('th', { text: 'version' }), h('th', { text: 'attempts' }), h('th', { text: 'parked at' }), h('th', { text: 'error' }))),
        h.apply(null, ['tbody', {}].concat(events.map(function (e) {
          return h('tr', { 'data-field': 'parked-event' },
            h('td', { text: e.offset }), h('td', { text: e.aggregate || '–' }), h('td', { text: num(e.version) }),
            h('td', { text: e.attempts }), h('td', { text: clock(e.parkedAt) }), h('td', { class: 'error', text: e.error }));
        })))),
      note);
  }

  function renderChart() {
    var svg = document.getElementById('chart');
    var W = Math.max(300, svg.clientWidth || 1000), H = 220, left = 48, right = 12, top = 12, bottom = 26;
    var names = Object.keys(ui.history);
    var now = Date.now();
    var first = now;
    var peak = 0;
    names.forEach(function (name) {
      ui.history[name].forEach(function (p) {
        first = Math.min(first, p.at);
        if (p.lag !== null) peak = Math.max(peak, p.lag);
      });
    });
    var span = Math.max(60 * 1000, now - first);
    // Headroom above the peak, so it does not run along the top edge.
    var max = niceCeiling(Math.max(peak * 1.15, 4));
    var x = function (at) { return left + ((at - (now - span)) / span) * (W - left - right); };
    var y = function (lag) { return top + (1 - lag / max) * (H - top - bottom); };
    var parts = [];
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      var value = max * f;
      parts.push(h('svg:line', { x1: left, x2: W - right, y1: y(value), y2: y(value), stroke: f === 0 ? '#c9ced8' : '#eceef2' }));
      parts.push(h('svg:text', { x: left - 6, y: y(value) + 4, 'text-anchor': 'end', text: num(value) }));
    });
    parts.push(h('svg:text', { x: left, y: H - 6, text: agoLabel(span) }));
    parts.push(h('svg:text', { x: (left + W - right) / 2, y: H - 6, 'text-anchor': 'middle', text: agoLabel(span / 2) }));
    parts.push(h('svg:text', { x: W - right, y: H - 6, 'text-anchor': 'end', text: 'now' }));
    var legend = document.getElementById('legend');
    legend.replaceChildren();
    names.forEach(function (name, i) {
      var color = palette[i % palette.length];
      var runs = [];
      var run = [];
      ui.history[name].forEach(function (p) {
        if (p.lag === null) { if (run.length) runs.push(run); run = []; return; }
        run.push(x(p.at).toFixed(1) + ',' + y(p.lag).toFixed(1));
      });
      if (run.length) runs.push(run);
      runs.forEach(function (points) {
        if (points.length === 1) points.push(points[0]);
        parts.push(h('svg:polyline', { points: points.join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round', 'data-projection': name }));
      });
      var series = ui.history[name];
      var last = series[series.length - 1];
      legend.appendChild(h('span', {}, h('i', { 'data-color': color }), name + ': ' + (last && last.lag !== null ? num(last.lag) + ' events behind' : 'unknown')));
    });
    legend.querySelectorAll('i[data-color]').forEach(function (i) { i.style.background = i.getAttribute('data-color'); });
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.replaceChildren.apply(svg, parts);
  }

  function niceCeiling(value) {
    var magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * magnitude >= value) return steps[i] * magnitude;
    return 10 * magnitude;
  }
  function agoLabel(ms) {
    var seconds = Math.round(ms / 1000);
    return seconds >= 120 ? Math.round(seconds / 60) + ' min ago' : seconds + ' s ago';
  }

  poll();
  setInterval(poll, pollMs);
})();
