// The few server-rendered pages (development login and consent, logout):
// plain HTML, every value escaped, no script, and a CSP that allows none.
import type { HttpReply } from '../common/http.js';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .3rem}input[type=text]{width:100%;padding:.5rem;font-size:1rem}
button{padding:.5rem 1.2rem;font-size:1rem;margin:1rem .5rem 0 0}.note{color:#5a6070;font-size:.9rem}
ul{padding-left:1.2rem}code{background:#f0f2f5;padding:0 .3rem}`;

/** Sends a complete page; `body` must already be escaped. */
export function sendPage(res: HttpReply, title: string, body: string, status = 200): void {
  res
    .status(status)
    .header('Content-Type', 'text/html; charset=utf-8')
    .header('Cache-Control', 'no-store')
    // No form-action: browsers apply it to the redirects after a submit, which end at the client's redirect URI.
    .header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'no-referrer')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
        `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`,
    );
}

export function redirect(res: HttpReply, location: string, status = 302): void {
  res.status(status).header('Location', location).header('Cache-Control', 'no-store').send();
}

/** An authorization error shown to the user instead of being redirected to the client (no link to the redirect URI). */
export function errorPage(res: HttpReply, error: { code: string; description: string }): void {
  sendPage(
    res,
    'Authorization error',
    '<h1>This sign-in request cannot be completed</h1>' +
      '<p>The application that sent you here made a request this server cannot accept. You can close this window.</p>' +
      `<p class="note">Error <code>${escapeHtml(error.code)}</code>: ${escapeHtml(error.description)}</p>`,
    400,
  );
}
