// WhatsApp JID helpers (docs/sidecar.md). Pure functions, no Baileys import,
// so the mapper and the filters can be tested and run without it. They follow
// Baileys' own rules (jidDecode / jidNormalizedUser):
//   user[_agent][:device]@server, and "c.us" is the old name of "s.whatsapp.net".

/** { user, server, device } of a JID, or null when it is not one. */
export function decodeJid(jid) {
  if (typeof jid !== 'string') return null;
  const at = jid.indexOf('@');
  if (at < 0) return null;
  const server = jid.slice(at + 1);
  const combined = jid.slice(0, at);
  const [userAgent, device] = combined.split(':');
  const user = userAgent.split('_')[0];
  return { user, server, device: device === undefined ? undefined : Number(device) };
}

/** The JID without device and agent: "4915…:12@s.whatsapp.net" → "4915…@s.whatsapp.net". */
export function normalizeJid(jid) {
  const d = decodeJid(jid);
  if (!d) return typeof jid === 'string' ? jid : '';
  const server = d.server === 'c.us' ? 's.whatsapp.net' : d.server;
  return `${d.user}@${server}`;
}

/** The part before "@" (and before any device suffix). */
export function userOf(jid) {
  const d = decodeJid(jid);
  if (d) return d.user;
  return typeof jid === 'string' ? jid : '';
}

export const isGroupJid = (jid) => typeof jid === 'string' && jid.endsWith('@g.us');
/** status@broadcast and broadcast lists. */
export const isBroadcastJid = (jid) => typeof jid === 'string' && jid.endsWith('@broadcast');
export const isNewsletterJid = (jid) => typeof jid === 'string' && jid.endsWith('@newsletter');
export const isLidJid = (jid) =>
  typeof jid === 'string' && (jid.endsWith('@lid') || jid.endsWith('@hosted.lid'));
/** A phone-number JID (the classic addressing). */
export const isPnJid = (jid) =>
  typeof jid === 'string' && (jid.endsWith('@s.whatsapp.net') || jid.endsWith('@c.us') || jid.endsWith('@hosted'));

/** Same account (user part and kind of address), ignoring devices. */
export function sameUser(a, b) {
  if (!a || !b) return false;
  return normalizeJid(a) === normalizeJid(b);
}
