// The video meeting of a room, from the configured template (web/config.json, `video.template`):
// `{convention}` and `{room}` are replaced by the ids, lowercased, with anything but letters,
// digits and dashes turned into dashes (Jitsi room names must stay simple).

export const DEFAULT_TEMPLATE = 'https://meet.jit.si/convene-{convention}-{room}';

export function videoUrl(template, convention, room) {
  const clean = (s) => String(s).toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return (template || DEFAULT_TEMPLATE)
    .replaceAll('{convention}', encodeURIComponent(clean(convention)))
    .replaceAll('{room}', encodeURIComponent(clean(room)));
}
