/**
 * The one quoting path. Every identifier that reaches SQL goes through `ident` or `qualified`;
 * every value goes as a `$n` parameter or through `literal` (only where a parameter cannot be
 * used, such as DDL and COMMENT).
 */

/** PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes; we refuse them instead. */
export const MAX_IDENTIFIER_BYTES = 63;

export function ident(name: string): string {
  if (name.length === 0) throw new TypeError('empty SQL identifier');
  if (name.includes('\0')) throw new TypeError('SQL identifier contains a NUL byte');
  return `"${name.replaceAll('"', '""')}"`;
}

/** `schema.name`, each part quoted. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

export function literal(value: string): string {
  if (value.includes('\0')) throw new TypeError('SQL literal contains a NUL byte');
  // standard_conforming_strings is on in every supported version; E'' is only needed for backslashes.
  const body = value.replaceAll("'", "''");
  return body.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}

/**
 * Dollar-quotes a function body with a tag that does not occur in it, so that no identifier
 * inside (however hostile) can close the quote.
 */
export function dollarQuote(body: string): string {
  let tag = 'pgshift';
  for (let i = 1; body.includes(`$${tag}$`); i++) tag = `pgshift${i}`;
  return `$${tag}$${body}$${tag}$`;
}
