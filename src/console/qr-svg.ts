// A QR code as inline SVG, drawn on the server (the `qrcode` package): no script, no image request, no data: URL.
// The SVG is paths with presentation attributes (fill, stroke) only, which the CSP's style-src does not govern.
import QRCode from 'qrcode';
import { Html, html } from '../web/html.js';

/** `text` (an otpauth:// URI) as an accessible SVG image labelled `label`. */
export async function qrSvg(text: string, label: string): Promise<Html> {
  let svg: string;
  try {
    svg = await QRCode.toString(text, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
  } catch {
    // Empty or longer than a QR code holds (a hand-edited form): the secret as text is still there.
    return html`<p class="error">No QR code for this text.</p>`;
  }
  // The library's own markup: the text is encoded as module paths, never copied into it as markup.
  const opening = html`<svg class="qr" role="img" aria-label="${label}" `.text;
  // A function, so a `$` in the label is not a replacement pattern.
  const labelled = svg.replace('<svg ', () => opening);
  return new Html(labelled);
}
