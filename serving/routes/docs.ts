// GET /openapi.json and a readable, fully offline docs page (/docs) that renders it with a small script (no CDN).
import { Router } from 'express';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reptile-dr API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.op{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.m{display:inline-block;min-width:4rem;font-weight:700;text-transform:uppercase}
.get{color:#0969da}.post{color:#1a7f37}code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;border-radius:4px}
.lock{color:#9a6700;font-size:.85rem}
</style>
</head>
<body>
<main id="doc"><p>Loading <a href="/openapi.json">/openapi.json</a>…</p></main>
<script type="module" src="/docs/docs.js"></script>
</body>
</html>`;

// Renders the OpenAPI document as plain DOM (textContent only: nothing from the document is parsed as HTML).
const SCRIPT = `const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
};
const pre = (v) => el('pre', {}, JSON.stringify(v, null, 2));
const doc = await (await fetch('/openapi.json')).json();
const root = document.getElementById('doc');
root.replaceChildren(
  el('h1', {}, doc.info.title + ' ' + doc.info.version),
  el('p', {}, doc.info.description),
  el('p', {}, el('a', { href: '/openapi.json' }, 'openapi.json'), ' (OpenAPI ' + doc.openapi + ')'),
  el('h2', {}, 'Endpoints'),
);
for (const [path, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    const box = el('section', { class: 'op' },
      el('div', {}, el('span', { class: 'm ' + method }, method), ' ', el('code', {}, path), ' — ', op.summary || ''));
    if (op.security && op.security.length) box.append(el('div', { class: 'lock' }, 'Needs Authorization: Bearer <key> when keys are configured'));
    if (op.description) box.append(el('p', {}, op.description));
    if (op.parameters) box.append(el('h4', {}, 'Parameters'), pre(op.parameters));
    if (op.requestBody) {
      box.append(el('h4', {}, 'Request body: ' + Object.keys(op.requestBody.content).join(', ')));
      box.append(pre(Object.values(op.requestBody.content)[0].schema));
    }
    const rs = el('ul');
    for (const [code, r] of Object.entries(op.responses || {})) rs.append(el('li', {}, el('code', {}, code), ' ', r.description));
    box.append(el('h4', {}, 'Responses'), rs);
    root.append(box);
  }
}
root.append(el('h2', {}, 'Schemas'));
for (const [name, s] of Object.entries(doc.components.schemas)) root.append(el('h3', {}, name), pre(s));
`;

/** Serves `doc` at /openapi.json and the docs page at /docs. */
export function docsRouter(doc: object): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  router.get(['/docs', '/docs/'], (_req, res) => {
    res.type('html').send(PAGE);
  });
  router.get('/docs/docs.js', (_req, res) => {
    res.type('text/javascript').send(SCRIPT);
  });
  return router;
}
