// The few S3 XML documents the fault proxy reads and writes: error bodies and DeleteObjects requests/results.
// Regular expressions suffice: the documents are small, flat and produced by the SDK or the server.

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const OBJECT = /<Object>([\s\S]*?)<\/Object>/g;
const KEY = /<Key>([\s\S]*?)<\/Key>/;

/** An S3 `<Error>` body, as the real service sends with a 4xx/5xx status. */
export function s3ErrorXml(code: string, message: string, resource = ''): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>` +
    `<Resource>${escapeXml(resource)}</Resource><RequestId>s3-fault-proxy</RequestId></Error>`
  );
}

/** The keys a DeleteObjects request body names, in order. */
export function deleteRequestKeys(xml: string): string[] {
  const keys: string[] = [];
  for (const m of xml.matchAll(OBJECT)) {
    const key = KEY.exec(m[1] ?? '');
    if (key) keys.push(unescapeXml(key[1] ?? ''));
  }
  return keys;
}

/** The DeleteObjects request body without the `<Object>` entries whose key is dropped. */
export function withoutDeleteKeys(xml: string, drop: (key: string) => boolean): string {
  return xml.replace(OBJECT, (whole, inner: string) => {
    const key = KEY.exec(inner);
    return key && drop(unescapeXml(key[1] ?? '')) ? '' : whole;
  });
}

/** Adds one AccessDenied `<Error>` per key to the server's `<DeleteResult>`. */
export function withDeleteErrors(resultXml: string, keys: readonly string[]): string {
  const at = resultXml.lastIndexOf('</DeleteResult>');
  if (at === -1) throw new Error('DeleteObjects response has no </DeleteResult>');
  return resultXml.slice(0, at) + keys.map(accessDeniedEntry).join('') + resultXml.slice(at);
}

/** A whole `<DeleteResult>` of AccessDenied errors, for when every key was refused and nothing is forwarded. */
export function deniedDeleteResult(keys: readonly string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="${NS}">${keys.map(accessDeniedEntry).join('')}</DeleteResult>`;
}

function accessDeniedEntry(key: string): string {
  return `<Error><Key>${escapeXml(key)}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`;
}

/** Escapes text for an XML element body. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r\n]/g, (c) => ENTITIES[c] ?? c);
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#13;',
  '\n': '&#10;',
};

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (whole, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e] ?? whole;
  });
}
